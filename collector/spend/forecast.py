"""Forecast of daily spend to month end: a trailing, weekday-aware linear trend.

Method (pure, exact arithmetic on fractions):

1. **Window.** The last ``window_days`` complete days before ``today`` (default 14), starting no
   earlier than the first day the series has a value (a deployment created last week is not
   padded with zeros before it existed). Missing days inside the window count as 0 spend.
2. **Trend.** An ordinary least-squares line ``a + b x`` through the window's daily values
   (``x`` = day number). With ``trend=False``, or fewer than two days, the slope is 0 and the
   line is the window's mean: a plain trailing average.
3. **Weekday effect.** When every weekday occurs at least twice in the window (a 14-day window
   or longer), each weekday's effect is the mean of the line's residuals on that weekday;
   otherwise there is none. Spend with a weekly rhythm keeps it in the forecast.
4. **Forecast.** Each day from ``today`` to month end is ``a + b x + effect(weekday)``, never
   below 0. ``today`` is forecast as a whole day, and never below what it has spent so far (its
   partial value in the series, which the fit does not use). The month's total is the spend of
   its days before ``today`` plus the forecast days. Without a complete day yet, the forecast is
   today's spend so far and 0 after it.

Why a linear series is forecast exactly: its residuals from the least-squares line are all 0,
so the weekday effects are 0 and the line *is* the series; fractions keep every step exact (a
series of values with at most six decimals gives forecasts with at most six decimals). The sum
of forecasts is the forecast of the sum (every step is linear in the values) unless a floor
(0, or today's spend so far) applies, so per-deployment forecasts add up to the total's.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

DEFAULT_WINDOW_DAYS = 14
MONEY = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Forecast:
    """Spend of the month before ``today``, the forecast of each remaining day, their sum."""

    month_to_date: Decimal
    days: tuple[tuple[date, Decimal], ...]
    remaining: Decimal
    month_total: Decimal
    method: str
    window_days_used: int


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _money(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(MONEY)


def forecast_month_end(
    series: Mapping[date, Decimal],
    today: date,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    trend: bool = True,
) -> Forecast:
    """Forecast of the spend from ``today`` to the end of its month (see the module's method).

    ``series`` is daily spend; its value on ``today`` is the spend so far (a floor for today's
    forecast), values after ``today`` are ignored.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    past = {d: Fraction(v) for d, v in series.items() if d < today}
    so_far = Fraction(series.get(today, Decimal(0)))
    month_start = today.replace(day=1)
    mtd = sum((v for d, v in past.items() if d >= month_start), Fraction(0))
    future = [today + timedelta(days=i) for i in range((month_end(today) - today).days + 1)]
    if not past:
        values = [so_far] + [Fraction(0)] * (len(future) - 1)
        return Forecast(
            month_to_date=_money(mtd),
            days=tuple((d, _money(v)) for d, v in zip(future, values, strict=True)),
            remaining=_money(so_far),
            month_total=_money(mtd + so_far),
            method="no complete day yet: today's spend so far",
            window_days_used=0,
        )
    start = max(today - timedelta(days=window_days), min(past))
    window = [start + timedelta(days=i) for i in range((today - start).days)]
    ys = [past.get(d, Fraction(0)) for d in window]
    xs = [d.toordinal() for d in window]
    n = len(window)
    mean_x = Fraction(sum(xs), n)
    mean_y = sum(ys, Fraction(0)) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = (
        sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
        if trend and n >= 2 and sxx
        else Fraction(0)
    )

    def line(x: int) -> Fraction:
        return mean_y + slope * (x - mean_x)

    by_weekday: dict[int, list[Fraction]] = {}
    for d, x, y in zip(window, xs, ys, strict=True):
        by_weekday.setdefault(d.weekday(), []).append(y - line(x))
    seasonal = len(by_weekday) == 7 and all(len(r) >= 2 for r in by_weekday.values())
    effect = {w: sum(r, Fraction(0)) / len(r) for w, r in by_weekday.items()} if seasonal else {}
    values = [max(Fraction(0), line(d.toordinal()) + effect.get(d.weekday(), 0)) for d in future]
    values[0] = max(values[0], so_far)
    remaining = sum(values, Fraction(0))
    method = (
        f"{'linear trend' if trend and n >= 2 else 'average'} over {n} day(s)"
        f"{' with weekday effects' if seasonal else ''}"
    )
    return Forecast(
        month_to_date=_money(mtd),
        days=tuple((d, _money(v)) for d, v in zip(future, values, strict=True)),
        remaining=_money(remaining),
        month_total=_money(mtd + remaining),
        method=method,
        window_days_used=n,
    )
