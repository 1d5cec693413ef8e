"""The headroom arithmetic (collector.headroom) and the quota limits as data
(collector.quota_limits), without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from collector import headroom as hr
from collector.pools import PoolKey, pool_key, usage_name
from collector.quota_limits import (
    SOURCE_DEFAULT,
    SOURCE_SETTING,
    deployment_limits,
    parse_quota_settings,
    pool_limits,
)

SUB = "00000000-0000-0000-0000-0000000000f1"
BASE = int(datetime(2025, 11, 20, tzinfo=UTC).timestamp()) // 60


def test_p99_counts_the_minutes_without_traffic_as_zero() -> None:
    values = np.arange(1, 11, dtype=float)  # 10 busy minutes in a 1,000-minute window
    assert hr.p99(values, 1000) == 0
    assert hr.p99(values, 10) == 10
    assert hr.p99(np.array([5.0] * 20), 100) == 5  # rank 99 falls in the busy minutes


def test_the_peak_is_the_earliest_of_equal_minutes() -> None:
    minutes = np.array([BASE + 3, BASE + 1, BASE + 2])
    assert hr.peak(minutes, np.array([7.0, 9.0, 9.0])) == (9, hr.minute_dt(BASE + 1))
    assert hr.peak(np.zeros(0, np.int64), np.zeros(0)) == (0, None)


def test_a_limit_nobody_knows_gives_no_utilization_remaining_or_forecast() -> None:
    h = hr.limit_headroom(
        "rpm", None, np.array([BASE]), np.array([50.0]), 60, BASE, date(2025, 11, 20)
    )
    assert h.peak == 50 and h.utilization is None and h.remaining is None
    assert h.forecast is None and h.minutes_over_80 == 0


def test_minutes_over_80_and_at_100_and_remaining() -> None:
    minutes = BASE + np.arange(5)
    values = np.array([10.0, 79.0, 80.0, 100.0, 120.0])
    h = hr.limit_headroom("rpm", 100, minutes, values, 5, BASE + 4, date(2025, 11, 20))
    assert (h.minutes_over_80, h.minutes_at_100, h.remaining) == (3, 2, 0)
    assert h.utilization == pytest.approx(1.2)


def test_forecast_follows_the_trend_of_daily_peaks() -> None:
    today = date(2025, 11, 20)
    rising = [(date(2025, 11, d), 50 + 5 * (d - 11)) for d in range(11, 21)]  # 95 today
    assert hr.forecast(rising, 100, today) == "2025-11-21"
    assert hr.forecast(rising, 1000, today) == hr.NOT_WITHIN
    assert hr.forecast(rising, 90, today) == hr.REACHED
    flat = [(date(2025, 11, d), 50) for d in range(11, 21)]
    assert hr.forecast(flat, 100, today) == hr.NOT_WITHIN
    assert hr.forecast(flat, None, today) is None
    # above the limit every day but a quiet partial last one: reached, not "not within"
    over = [(date(2025, 11, d), 300) for d in range(11, 20)] + [(today, 60)]
    assert hr.forecast(over, 100, today) == hr.REACHED


def test_the_binding_limit_is_the_one_closest_to_its_ceiling() -> None:
    def lh(limit: str, value: int | None, peak: int) -> hr.LimitHeadroom:
        return hr.LimitHeadroom(limit, value, peak, None, 0, 0, 0, 0, None, None)

    by = {"rpm": lh("rpm", 100, 50), "itpm": lh("itpm", 1000, 900), "otpm": lh("otpm", 10, 1)}
    assert hr.binding_limit(by) == "itpm"
    assert hr.binding_limit({k: lh(k, None, 5) for k in ("rpm", "itpm", "otpm")}) is None


def test_throttle_levels() -> None:
    assert hr.throttle_level(True, False) == hr.LEVEL_POOL
    assert hr.throttle_level(False, True) == hr.LEVEL_DEPLOYMENT
    assert hr.throttle_level(True, True) == hr.LEVEL_BOTH
    assert hr.throttle_level(False, False) == hr.LEVEL_UNEXPLAINED


def test_shipped_defaults_per_offer_and_overrides() -> None:
    sonnet = pool_key(SUB, "claude-sonnet-4-5", "20250929", "GlobalStandard", "eastus2")
    opus = pool_key(SUB, "claude-opus-4-5", "20251101", "DataZoneStandard", "eastus2")
    assert (pool_limits(sonnet).rpm, pool_limits(sonnet).itpm) == (80, 80_000)
    assert (pool_limits(opus).rpm, pool_limits(opus).otpm) == (40, 8_000)
    settings = parse_quota_settings(
        {SUB.upper(): "MCA-E"},
        {f"{SUB}/claude-sonnet-4-5": {"rpm": 500}, f"{SUB}/claude-sonnet-4-5/1": {"rpm": 7}},
    )
    limits = pool_limits(sonnet, settings)
    assert (limits.rpm, limits.itpm, limits.offer) == (500, 10_000_000, "enterprise")
    assert limits.sources == {"rpm": SOURCE_SETTING, "itpm": SOURCE_DEFAULT, "otpm": SOURCE_DEFAULT}
    assert limits.source == "mixed"
    v1 = PoolKey(SUB, "claude-sonnet-4-5", "1", "Global", "")
    assert pool_limits(v1, settings).rpm == 7  # the version's entry beats the model's


def test_an_unknown_model_has_unknown_limits_and_a_note() -> None:
    limits = pool_limits(pool_key(SUB, "claude-fable-9", "1", "GlobalStandard", "eastus2"))
    assert (limits.rpm, limits.itpm, limits.otpm, limits.source) == (None, None, None, "unknown")
    assert limits.note is not None and "FOUNDRY_MONITOR_QUOTA_LIMITS" in limits.note


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"nope": {"rpm": 1}}, "expected 'SUBSCRIPTION/MODEL'"),
        ({"s/m": {"rpm": 0}}, "a whole number above 0"),
        ({"s/m": {"rpm": True}}, "a whole number above 0"),
        ({"s/m": {"tpm": 5}}, "'tpm' is not rpm, itpm or otpm"),
        ({"s/m": {}}, "expected a table"),
    ],
)
def test_bad_quota_settings_say_what_is_wrong(limits: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quota_settings({}, limits)


def test_deployment_limits_from_capacity() -> None:
    assert deployment_limits("claude-sonnet-4-5", 25) == (25.0, 25_000)
    assert deployment_limits("claude-fable-9", 25) == (None, 25_000)
    assert deployment_limits("claude-sonnet-4-5", None) == (None, None)


def test_usage_names() -> None:
    assert usage_name("Global", "claude-sonnet-4-5", "20250929") == (
        "AIServices.GlobalStandard.claude-sonnet-4-5"
    )
    assert usage_name("DataZone", "claude-opus-4-5", "2") == (
        "AIServices.DataZoneStandard.claude-opus-4-5.Azure"
    )


def test_headers_have_anthropics_names() -> None:
    key = PoolKey(SUB, "claude-sonnet-4-5", "1", "Global", "")
    limits = pool_limits(key)
    by = {
        name: hr.limit_headroom(
            name, limits.get(name), np.array([BASE]), np.array([30.0]), 60, BASE, date(2025, 11, 20)
        )
        for name in ("rpm", "itpm", "otpm")
    }
    pool = hr.PoolHeadroom(key, limits, by, "rpm", 0, 0, 0, {}, hr.minute_dt(BASE))
    assert pool.headers() == {
        "requests-limit": 80, "requests-remaining": 50,
        "input-tokens-limit": 80_000, "input-tokens-remaining": 79_970,
        "output-tokens-limit": 16_000, "output-tokens-remaining": 15_970,
        "reset": "2025-11-20T00:02:00Z",
    }  # fmt: skip


def test_the_binding_level_ignores_unexplained_minutes() -> None:
    key = PoolKey(SUB, "claude-sonnet-4-5", "1", "Global", "")

    def pool(levels: dict[str, int]) -> hr.PoolHeadroom:
        return hr.PoolHeadroom(key, pool_limits(key), {}, None, 0, 0, 0, levels, None)

    assert pool({"pool": 2, "deployment": 0, "unexplained": 3}).binding_level == "pool"
    assert pool({"pool": 0, "unexplained": 3}).binding_level == "unexplained"
    assert pool({"pool": 0, "deployment": 0}).binding_level is None
    assert pool({}).binding_level is None
