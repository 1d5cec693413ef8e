"""The store's side of quota pools, on both databases: the pool key in SQL agrees with
:func:`collector.pools.pool_key` for every kind of deployment; the usages list is written and
replaced through the store's write path; migration 0008 downgrades and upgrades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, select

from collector.pools import pool_key
from collector.store import migrate
from collector.store.engine import make_engine
from collector.store.inventory import write_usages
from collector.store.pool_sql import pool_columns
from collector.store.schema import TABLES
from collector.store.writer import upsert

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-0000000000aa"
CASES = [  # (location, sku, version)
    ("eastus2", "GlobalStandard", "20250929"),
    ("swedencentral", "GlobalStandard", "20250929"),
    ("eastus2", "DataZoneStandard", "1"),
    ("swedencentral", "datazonestandard", "1"),
    ("uksouth", "DataZoneStandard", "2"),  # no known data zone: the region
    ("westus", "Standard", "2"),
    ("westus", "ProvisionedManaged", None),
    ("eastus", None, "1"),
]


def test_the_sql_pool_key_is_the_python_one(store: Engine) -> None:
    r, d = TABLES["resource"], TABLES["deployment"]
    with store.begin() as conn:
        for i, (location, sku, version) in enumerate(CASES):
            rid = f"/subscriptions/{SUB}/resourcegroups/g/providers/microsoft.cognitiveservices/accounts/a{i}"
            upsert(conn, r, [{"id": rid, "subscription_id": SUB, "resource_group": "g",
                              "name": f"a{i}", "kind": "AIServices", "location": location,
                              "first_seen": NOW, "last_seen": NOW}])  # fmt: skip
            upsert(conn, d, [{"resource_id": rid, "name": "dep", "model": "claude-haiku-4-5",
                              "model_version": version, "sku": sku}])  # fmt: skip
        rows = conn.execute(
            select(
                r.c.location.label("loc"), d.c.sku.label("raw_sku"), d.c.model_version.label("ver"),
                *pool_columns(r.c.subscription_id, d.c.model, d.c.model_version, d.c.sku,
                              r.c.location),
            ).select_from(d.join(r, r.c.id == d.c.resource_id))
        ).all()  # fmt: skip
    got = {(row.loc, row.raw_sku, row.ver): tuple(row[3:]) for row in rows}
    assert len(got) == len(CASES)
    for location, sku, version in CASES:
        expected = pool_key(SUB, "claude-haiku-4-5", version, sku, location)
        assert got[(location, sku, version)] == tuple(expected), (location, sku)
    # the Global pool spans regions, the Data Zone ones split by zone
    keys = {pool_key(SUB, "m", v, s, loc) for loc, s, v in CASES}
    assert len(keys) == len(CASES) - 1


def _usage(location: str, name: str, current: float) -> dict[str, object]:
    return {"subscription_id": SUB, "location": location, "name": name,
            "localized_name": name, "current_value": current, "limit": 80.0, "unit": "Count"}  # fmt: skip


def test_usages_are_replaced_per_location(store: Engine) -> None:
    q = TABLES["quota_usage"]
    first = [_usage("eastus2", "AccountCount", 2), _usage("eastus2", "AIServices.X", 10),
             _usage("westus", "AIServices.Y", 5)]  # fmt: skip
    with store.begin() as conn:
        assert write_usages(conn, SUB, ["eastus2", "westus"], first, NOW) == 3
    again = [_usage("eastus2", "AccountCount", 3)]
    with store.begin() as conn:
        write_usages(conn, SUB, ["eastus2"], again, NOW)  # westus not listed this time: kept
    with store.connect() as conn:
        rows = {(r.location, r.name): r.current_value for r in conn.execute(select(q))}
    assert rows == {("eastus2", "AccountCount"): 3.0, ("westus", "AIServices.Y"): 5.0}


def test_migration_0008_downgrades_and_upgrades(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        assert "quota_usage" in inspect(engine).get_table_names()
        migrate.downgrade(engine, "0007")
        assert "quota_usage" not in inspect(engine).get_table_names()
        assert migrate.current(engine) == "0007"
        migrate.upgrade(engine)
        assert "quota_usage" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("sku", ["", None])
def test_a_deployment_without_sku_is_in_one_pool_of_unknown_kind(sku: str | None) -> None:
    assert pool_key(SUB, "m", "1", sku, "eastus").kind == "Unknown"
    assert pool_key(SUB, "m", "1", sku, "eastus") == pool_key(SUB, "m", "1", sku, "westeurope")


def test_doctor_names_each_pools_limits_and_how_to_set_the_granted_ones(store: Engine) -> None:
    from collector.config import Settings
    from collector.doctor import _quota_limits

    r, d = TABLES["resource"], TABLES["deployment"]
    rid = f"/subscriptions/{SUB}/resourcegroups/g/providers/microsoft.cognitiveservices/accounts/a"
    with store.begin() as conn:
        upsert(conn, r, [{"id": rid, "subscription_id": SUB, "resource_group": "g", "name": "a",
                          "kind": "AIServices", "location": "eastus2", "first_seen": NOW,
                          "last_seen": NOW}])  # fmt: skip
        upsert(conn, d, [
            {"resource_id": rid, "name": n, "model": m, "model_version": "1",
             "model_format": "Anthropic", "sku": "GlobalStandard"}
            for n, m in (("s", "claude-sonnet-4-5"), ("h", "claude-haiku-4-5"), ("x", "claude-x-9"))
        ])  # fmt: skip
    settings = Settings(quota_limits={f"{SUB}/claude-sonnet-4-5": {"rpm": 9, "itpm": 9, "otpm": 9}})
    checks = {c.target.split(" ")[0]: c for c in _quota_limits(settings, store)}
    assert set(checks) == {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-x-9"}
    assert checks["claude-sonnet-4-5"].ok and "(setting," in checks["claude-sonnet-4-5"].detail
    assert checks["claude-sonnet-4-5"].fix == ""
    haiku = checks["claude-haiku-4-5"]
    assert haiku.ok and "RPM 80, ITPM 80,000, OTPM 16,000 (shipped default" in haiku.detail
    assert "FOUNDRY_MONITOR_QUOTA_LIMITS" in haiku.fix
    unknown = checks["claude-x-9"]
    assert not unknown.ok and unknown.detail.startswith("limit unknown")


def test_the_sql_aggregates_equal_the_minute_series_arithmetic(store: Engine) -> None:
    """pool_stats (SQL over pool_minute) against collector.headroom's numpy reference, on random
    minutes with gaps, ties and zeros, for windows shorter and longer than the data."""
    import numpy as np

    from collector import headroom as hr
    from collector.store.queries._sql import _reading
    from collector.store.queries.pool_stats import pool_stats
    from collector.store.rollup import refresh_pool_hours

    rng = np.random.default_rng(3)
    keys = [pool_key(SUB, m, "1", "GlobalStandard", "eastus2") for m in ("a", "b")]
    start = NOW - timedelta(days=3)
    series: dict[object, dict[str, np.ndarray]] = {}
    rows = []
    for key in keys:
        minutes = np.sort(rng.choice(3 * 1440, size=1500, replace=False))
        values = {
            "rpm": rng.integers(0, 40, minutes.size).astype(float),
            "itpm": rng.integers(0, 9_000, minutes.size).astype(float),
            "otpm": np.where(
                rng.random(minutes.size) < 0.3, 0.0, rng.integers(0, 900, minutes.size)
            ),
        }
        series[key] = {"minute": minutes + int(start.timestamp()) // 60, **values}
        for i, m in enumerate(minutes):
            rows.append({"ts": start + timedelta(minutes=int(m)), **key._asdict(),
                         "requests": values["rpm"][i], "status_429": float(i % 7 == 0),
                         "itpm": values["itpm"][i], "otpm": values["otpm"][i]})  # fmt: skip
    with store.begin() as conn:
        upsert(conn, TABLES["pool_minute"], rows)
        # pool_hour follows pool_minute on the store's write path (rollup.refresh)
        refresh_pool_hours(conn, start, NOW)
    limits = {
        keys[0]: {"rpm": 30, "itpm": 8000, "otpm": None},
        keys[1]: {"rpm": 35, "itpm": None, "otpm": 800},
    }
    for since, until in ((start, NOW), (start + timedelta(hours=30), NOW - timedelta(hours=5)),
                         (start - timedelta(days=10), NOW),
                         # ragged ends: minutes of the partial hours, hours in between
                         (start + timedelta(hours=30, minutes=17), NOW - timedelta(minutes=303)),
                         (start + timedelta(minutes=7), start + timedelta(minutes=50))):  # fmt: skip
        window = int((until - since).total_seconds()) // 60
        with _reading(store) as conn:
            stats, newest = pool_stats(conn, since, until, limits, window)
        assert newest is not None
        last = int(newest.timestamp()) // 60
        for key in keys:
            s = series[key]
            inside = (s["minute"] >= int(since.timestamp()) // 60) & (
                s["minute"] < int(until.timestamp()) // 60
            )
            for limit in ("rpm", "itpm", "otpm"):
                ref = hr.limit_headroom(
                    limit, limits[key][limit], s["minute"][inside], s[limit][inside], window, last,
                    until.date(),
                )  # fmt: skip
                got = stats[key]
                assert (got.peak[limit], got.peak_at[limit]) == (ref.peak, ref.peak_at), limit
                assert got.p99[limit] == ref.p99, (limit, since)
                if limits[key][limit]:
                    assert got.over_80[limit] == ref.minutes_over_80, limit
                    assert got.at_100[limit] == ref.minutes_at_100, limit
                assert got.last[limit] == ref.last_minute, limit
                assert got.daily[limit] == hr.daily_peaks(s["minute"][inside], s[limit][inside])
