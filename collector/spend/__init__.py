"""Spend per deployment: price sheet, estimate, allocation of the bill, reconciliation, forecast.

Modules, one job each: :mod:`~collector.spend.prices` (the versioned price sheet),
:mod:`~collector.spend.estimate` (tokens x price), :mod:`~collector.spend.allocation` (the bill
split to the cent), :mod:`~collector.spend.reconcile` (variance, drift, provisional/final),
:mod:`~collector.spend.daily` (a day's figures, pure), :mod:`~collector.spend.forecast` (month
end), :mod:`~collector.spend.budgets` (ok / warning / over), :mod:`~collector.spend.credits`
(the Marketplace warning), :mod:`~collector.spend.refresh` (the one entry point that reads and
writes the store), :mod:`~collector.spend.month` (the month so far, forecast and budgets) and
:mod:`~collector.spend.hourly` (the hourly estimate), both reading through
:mod:`collector.store.queries`, where the dashboard and reports read everything.
"""

from collector.spend.refresh import SpendReport, refresh_spend

__all__ = ["SpendReport", "refresh_spend"]
