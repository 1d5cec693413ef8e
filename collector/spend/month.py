"""The month so far, its forecast and the budgets: the store's daily spend series summed and
projected (issue #5).

Reads go through :mod:`collector.store.queries` (``deployments``, ``spend_series``); the
arithmetic is :mod:`collector.spend.forecast`, :mod:`collector.spend.budgets` and
:mod:`collector.spend.credits`. :func:`spend_month` and :func:`budgets` are re-exported (lazily)
by :mod:`collector.store.queries`. A deployment-day's *spent* figure is its allocated bill when
the bill is in, else its estimate (0 when unpriced and unbilled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Unpack

from sqlalchemy import Engine

from collector.spend.budgets import Budget, budget_state
from collector.spend.credits import credits_warning as marketplace_credits_warning
from collector.spend.forecast import DEFAULT_WINDOW_DAYS, forecast_month_end
from collector.store.queries import DeploymentInfo, NameFilters, deployments, spend_series
from collector.store.types import to_utc


@dataclass(frozen=True, slots=True)
class DeploymentMonthSpend:
    """One deployment's month so far (today included) and its forecast to month end."""

    deployment_id: int
    resource: str
    resource_id: str
    deployment: str
    model: str | None
    estimated: Decimal | None
    billed_allocated: Decimal | None
    variance: Decimal | None
    spent: Decimal
    forecast_total: Decimal
    unpriced: bool
    provisional: bool
    model_version: str | None = None
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class MonthSpend:
    """The month so far per deployment and in total, with the forecast to month end.

    ``billed`` is the resources' whole Claude bill (allocated plus ``unallocated``); ``spent``
    the deployments' spent figures plus ``unallocated``. ``credits_warning`` is the text to show
    when Marketplace charges accrued (None when none did or the warning is turned off).
    """

    month_start: date
    today: date
    deployments: tuple[DeploymentMonthSpend, ...]
    estimated: Decimal
    billed: Decimal
    unallocated: Decimal
    spent: Decimal
    forecast_total: Decimal
    forecast_method: str
    unpriced: bool
    credits_warning: str | None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's month so far; ``state`` is ok, warning or over (``collector.spend.budgets``)."""

    label: str
    scope: str
    monthly_usd: Decimal
    warning_fraction: Decimal
    spent: Decimal
    forecast_total: Decimal
    state: str
    forecast_over: bool
    deployment_ids: tuple[int, ...]


def _add(*series: Mapping[date, Decimal]) -> dict[date, Decimal]:
    total: dict[date, Decimal] = {}
    for one in series:
        for day, value in one.items():
            total[day] = total.get(day, Decimal(0)) + value
    return total


def _month_sum(series: Mapping[date, Decimal], start: date, today: date) -> Decimal:
    return sum((v for d, v in series.items() if start <= d <= today), Decimal(0))


def spend_month(
    engine: Engine,
    now: datetime,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    trend: bool = True,
    credits_warning: bool = True,
    **filters: Unpack[NameFilters],
) -> MonthSpend:
    """The month of ``now`` so far per deployment and in total, and the forecast to month end
    (method: :mod:`collector.spend.forecast`; ``window_days`` and ``trend`` are its options)."""
    today = to_utc(now).date()
    month_start = today.replace(day=1)
    first = min(month_start, today - timedelta(days=window_days))
    infos = {d.deployment_id: d for d in deployments(engine, include_removed=True)}
    wanted = {d.deployment_id for d in deployments(engine, include_removed=True, **filters)}
    series, unallocated, billed_res = spend_series(engine, first, today)
    rows = []
    for dep_id, one in series.items():
        info = infos.get(dep_id)
        if info is None or dep_id not in wanted:
            continue
        month = {d for d in one.spent if month_start <= d <= today}
        if not month:
            continue
        estimated = _month_sum(one.estimated, month_start, today)
        billed = _month_sum(one.billed, month_start, today)
        known = {d for d in month if d in one.estimated and d in one.billed}
        rows.append(
            DeploymentMonthSpend(
                deployment_id=dep_id,
                resource=info.resource,
                resource_id=info.resource_id,
                deployment=info.deployment,
                model=info.model,
                estimated=estimated if one.estimated else None,
                billed_allocated=billed if one.billed else None,
                variance=sum((one.billed[d] - one.estimated[d] for d in known), Decimal(0))
                if known
                else None,
                spent=_month_sum(one.spent, month_start, today),
                forecast_total=forecast_month_end(
                    one.spent, today, window_days=window_days, trend=trend
                ).month_total,
                unpriced=one.unpriced,
                provisional=one.provisional,
                model_version=info.model_version,
                model_label=info.model_label,
            )
        )
    resources = {r.resource_id for r in rows} if any(filters.values()) else None
    unalloc = _add(*(v for k, v in unallocated.items() if resources is None or k in resources))
    billed_total = _add(*(v for k, v in billed_res.items() if resources is None or k in resources))
    total_series = _add(*(series[r.deployment_id].spent for r in rows), unalloc)
    total_forecast = forecast_month_end(total_series, today, window_days=window_days, trend=trend)
    billed_month = _month_sum(billed_total, month_start, today)
    return MonthSpend(
        month_start=month_start,
        today=today,
        deployments=tuple(sorted(rows, key=lambda x: (x.resource, x.deployment, x.deployment_id))),
        estimated=sum((r.estimated or Decimal(0) for r in rows), Decimal(0)),
        billed=billed_month,
        unallocated=_month_sum(unalloc, month_start, today),
        spent=_month_sum(total_series, month_start, today),
        forecast_total=total_forecast.month_total,
        forecast_method=total_forecast.method,
        unpriced=any(r.unpriced for r in rows),
        credits_warning=marketplace_credits_warning(billed_month, credits_warning),
    )


def budgets(
    engine: Engine,
    now: datetime,
    budget_list: Sequence[Budget],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    trend: bool = True,
) -> list[BudgetStatus]:
    """Each budget's month so far, forecast and state. A deployment budget covers the matching
    deployments (by name, and resource when given); a resource budget covers the resource's
    deployments and its unallocated bill."""
    today = to_utc(now).date()
    month_start = today.replace(day=1)
    first = min(month_start, today - timedelta(days=window_days))
    infos = deployments(engine, include_removed=True)
    series, unallocated, _ = spend_series(engine, first, today)
    result = []
    for budget in budget_list:
        res_key = (budget.resource or "").strip().lower()
        dep_key = (budget.deployment or "").strip().lower()

        def matches(info: DeploymentInfo, res_key: str = res_key, dep_key: str = dep_key) -> bool:
            on_resource = not res_key or res_key in (info.resource.lower(), info.resource_id)
            return on_resource and (not dep_key or info.deployment.lower() == dep_key)

        chosen = [i for i in infos if matches(i)]
        parts = [series[i.deployment_id].spent for i in chosen if i.deployment_id in series]
        if not dep_key:
            parts += [
                v
                for rid, v in unallocated.items()
                if rid in {i.resource_id for i in chosen} or rid == res_key
            ]
        daily = _add(*parts)
        spent = _month_sum(daily, month_start, today)
        projected = forecast_month_end(daily, today, window_days=window_days, trend=trend)
        result.append(
            BudgetStatus(
                label=budget.label,
                scope=budget.scope,
                monthly_usd=budget.monthly_usd,
                warning_fraction=budget.warning_fraction,
                spent=spent,
                forecast_total=projected.month_total,
                state=budget_state(
                    spent, projected.month_total, budget.monthly_usd, budget.warning_fraction
                ),
                forecast_over=projected.month_total > budget.monthly_usd,
                deployment_ids=tuple(sorted(i.deployment_id for i in chosen)),
            )
        )
    return result
