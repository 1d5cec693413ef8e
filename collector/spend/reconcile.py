"""Reconciliation of the estimate with the bill per resource and day, and when a day is final.

``variance = billed - estimated``. The drift ratio is ``variance / estimated``; a resource-day
drifts when ``|ratio|`` exceeds the threshold, or when it is billed without any estimate behind
it. A day stays *provisional* until its cost is final: its month has closed (``final_after_days``
days after the month's last day) or its cost rows were seen unchanged for ``final_after_days``
days (the latest ``fetched_at`` is that long after the latest ``changed_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

PROVISIONAL = "provisional"
FINAL = "final"
DEFAULT_DRIFT_THRESHOLD = 0.15
DEFAULT_FINAL_AFTER_DAYS = 3


@dataclass(frozen=True, slots=True)
class Variance:
    """Billed minus estimated (None when either is missing), its ratio to the estimate (None
    when the estimate is missing or 0) and whether it drifts beyond the threshold."""

    variance: Decimal | None
    ratio: float | None
    drift: bool


def variance(
    estimated: Decimal | None, billed: Decimal | None, threshold: float = DEFAULT_DRIFT_THRESHOLD
) -> Variance:
    """The reconciliation of one resource-day."""
    if estimated is None or billed is None:
        return Variance(None, None, False)
    diff = billed - estimated
    if estimated == 0:
        return Variance(diff, None, diff != 0)
    ratio = float(diff / estimated)
    return Variance(diff, ratio, abs(ratio) > threshold)


def month_closed(day: date, now: datetime, final_after_days: int) -> bool:
    """Whether ``day``'s month ended more than ``final_after_days`` days before ``now``."""
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return now.date() >= next_month + timedelta(days=final_after_days)


def day_status(
    day: date,
    now: datetime,
    changed_at: datetime | None,
    fetched_at: datetime | None,
    final_after_days: int = DEFAULT_FINAL_AFTER_DAYS,
) -> str:
    """``final`` once the month closed or the cost was seen unchanged for ``final_after_days``
    days; ``provisional`` before (and always while no cost row was seen and the month is open)."""
    if month_closed(day, now, final_after_days):
        return FINAL
    seen_unchanged = (
        changed_at is not None
        and fetched_at is not None
        and fetched_at - changed_at >= timedelta(days=final_after_days)
    )
    return FINAL if seen_unchanged else PROVISIONAL
