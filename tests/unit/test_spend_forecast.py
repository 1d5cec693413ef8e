"""The month-end forecast: exact on a linear series, weekday-aware, documented fallbacks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from collector.spend.forecast import forecast_month_end, month_end

TODAY = date(2025, 11, 20)  # a Thursday; the month has 30 days


def linear(
    day: date, start: Decimal = Decimal("12.34"), step: Decimal = Decimal("0.56")
) -> Decimal:
    return start + step * (day - date(2025, 10, 1)).days


def days_before(today: date, n: int) -> list[date]:
    return [today - timedelta(days=i) for i in range(n, 0, -1)]


@pytest.mark.parametrize("window", [3, 7, 14, 21])
def test_a_linear_series_is_forecast_exactly(window: int) -> None:
    series = {d: linear(d) for d in days_before(TODAY, 40)}
    got = forecast_month_end(series, TODAY, window_days=window)
    expected_days = [TODAY + timedelta(days=i) for i in range(11)]  # 20..30 November
    assert [d for d, _ in got.days] == expected_days
    assert [v for _, v in got.days] == [linear(d) for d in expected_days]
    month = [date(2025, 11, i) for i in range(1, 31)]
    assert got.month_total == sum(linear(d) for d in month)
    assert got.month_to_date == sum(linear(d) for d in month if d < TODAY)
    assert got.remaining == got.month_total - got.month_to_date


def test_a_weekly_rhythm_is_kept() -> None:
    weekday = {0: 10, 1: 10, 2: 10, 3: 10, 4: 10, 5: 2, 6: 2}
    series = {d: Decimal(weekday[d.weekday()]) for d in days_before(TODAY, 28)}
    got = dict(forecast_month_end(series, TODAY, trend=False).days)
    assert got[date(2025, 11, 22)] == 2 and got[date(2025, 11, 24)] == 10


def test_without_trend_it_is_the_trailing_average() -> None:
    series = {d: linear(d) for d in days_before(TODAY, 5)}
    got = forecast_month_end(series, TODAY, window_days=5, trend=False)
    mean = sum(series.values()) / 5
    assert all(v == mean.quantize(Decimal("0.000001")) for _, v in got.days)
    assert got.method.startswith("average over 5 day(s)")


def test_a_falling_trend_never_goes_below_zero() -> None:
    series = {d: Decimal(50 - 5 * i) for i, d in enumerate(days_before(TODAY, 10))}
    assert all(v >= 0 for _, v in forecast_month_end(series, TODAY).days)
    assert forecast_month_end(series, TODAY).days[-1][1] == 0


def test_today_is_never_forecast_below_its_spend_so_far() -> None:
    series = {d: Decimal(1) for d in days_before(TODAY, 14)}
    series[TODAY] = Decimal(5)
    got = forecast_month_end(series, TODAY)
    assert got.days[0] == (TODAY, Decimal(5)) and got.days[1][1] == 1


def test_without_a_complete_day_the_forecast_is_todays_spend_so_far() -> None:
    got = forecast_month_end({TODAY: Decimal("3.5")}, TODAY)
    assert got.month_total == Decimal("3.5") and got.window_days_used == 0
    assert forecast_month_end({}, TODAY).month_total == 0


def test_a_series_starting_inside_the_window_is_not_padded_before_it() -> None:
    series = {d: Decimal(4) for d in days_before(TODAY, 3)}  # a deployment created 3 days ago
    got = forecast_month_end(series, TODAY)
    assert got.window_days_used == 3 and all(v == 4 for _, v in got.days)


def test_month_end() -> None:
    assert month_end(date(2024, 2, 3)) == date(2024, 2, 29)
    assert month_end(date(2025, 12, 31)) == date(2025, 12, 31)
