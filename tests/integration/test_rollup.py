"""Hourly rollups: the same numbers as the minutes they summarise, on both databases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from collector.store import queries, rollup
from collector.store.schema import TABLES
from collector.store.writer import upsert

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _fill(store: Engine, minutes: int = 300) -> None:
    rng = random.Random(3)
    with store.begin() as conn:
        upsert(conn, "deployment", [{"resource_id": "r", "name": "d", "model": "m"}])
        dep = conn.execute(select(TABLES["deployment"].c.id)).scalar_one()
        metric_rows, hist_rows = [], []
        for i in range(minutes):
            ts = START + timedelta(minutes=i)
            for code in (200, 429):
                metric_rows.append(
                    {
                        "ts": ts,
                        "deployment_id": dep,
                        "metric": "ModelRequests",
                        "status_code": code,
                        "total": float(rng.randint(0, 50)),
                    }
                )
            count = rng.randint(1, 40)
            metric_rows.append(
                {
                    "ts": ts,
                    "deployment_id": dep,
                    "metric": "TimeToLastByte",
                    "status_code": 0,
                    "count": float(count),
                    "average": rng.uniform(100, 9000),
                    "maximum": 9999.0,
                }
            )
            metric_rows.append(
                {
                    "ts": ts,
                    "deployment_id": dep,
                    "metric": "InputTokens",
                    "status_code": 0,
                    "total": float(rng.randint(0, 10**6)),
                }
            )
            for bucket in rng.sample(range(40, 80), 5):
                hist_rows.append(
                    {
                        "ts": ts,
                        "deployment_id": dep,
                        "status_class": "2xx",
                        "bucket": bucket,
                        "count": rng.randint(1, 9),
                    }
                )
        upsert(conn, "metric_minute", metric_rows)
        upsert(conn, "latency_hist", hist_rows)
        rollup.refresh(conn, START, START + timedelta(minutes=minutes))


def test_rollups_sum_exactly_the_minutes(store: Engine) -> None:
    _fill(store)
    m, mh = TABLES["metric_minute"], TABLES["metric_hour"]
    with store.connect() as conn:
        minute_sum = conn.execute(select(func.sum(m.c.total))).scalar()
        hour_sum = conn.execute(select(func.sum(mh.c.total))).scalar()
        hours = conn.execute(select(func.count(func.distinct(mh.c.ts)))).scalar()
    assert minute_sum == hour_sum and hours == 5


def test_refreshing_again_changes_nothing(store: Engine) -> None:
    _fill(store)
    tables = ("metric_hour", "latency_hist_hour")

    def rows() -> dict[str, list[tuple]]:
        with store.connect() as conn:
            return {  # float sums may differ in the last bits with the order Postgres adds them
                t: sorted(
                    tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                    for r in conn.execute(select(TABLES[t]))
                )
                for t in tables
            }

    before = rows()
    with store.begin() as conn:
        rollup.refresh(conn, START + timedelta(minutes=30), START + timedelta(minutes=150))
    assert rows() == before


def test_windows_with_ragged_edges_read_the_same_as_minutes_alone(store: Engine) -> None:
    _fill(store)
    since, until = START + timedelta(minutes=17), START + timedelta(minutes=263)
    row = queries.summary(store, since, until)[0]
    per_minute = queries.timeseries(store, since, until, step="1m")
    assert row.requests == sum(p.requests for p in per_minute)
    assert row.status_429 == sum(p.status_429 for p in per_minute)
    assert row.input_tokens == sum(p.input_tokens for p in per_minute)
    hourly = queries.timeseries(store, since, until, step="1h")  # hours from the rollup
    five = queries.timeseries(store, since, until, step="5m")  # minutes only
    assert sum(p.requests for p in hourly) == sum(p.requests for p in five) == row.requests
    ttlb_hourly = {p.ts: p.ttlb_avg_ms for p in hourly}
    whole_hour = START + timedelta(hours=1)
    minutes = [p for p in per_minute if whole_hour <= p.ts < whole_hour + timedelta(hours=1)]
    assert ttlb_hourly[whole_hour] is not None
    weights = {p.ts: p for p in minutes}
    assert len(weights) == 60
    by_hour = queries.latency_percentiles_over_time(store, since, until, step="1h")
    by_minute_merged = queries.latency_percentiles_over_time(
        store, whole_hour, whole_hour + timedelta(hours=1), step="1m", per_deployment=False
    )
    assert by_hour and by_minute_merged
    assert sum(p.requests for p in by_hour) == queries_hist_total(store, since, until)


def queries_hist_total(store: Engine, since: datetime, until: datetime) -> int:
    h = TABLES["latency_hist"]
    with store.connect() as conn:
        return int(
            conn.execute(
                select(func.sum(h.c["count"])).where(h.c.ts >= since, h.c.ts < until)
            ).scalar()
        )


def test_prune_removes_old_rollups_too(store: Engine) -> None:
    from collector.store import retention

    _fill(store)
    retention.prune(store, retention_days=1, now=START + timedelta(days=1, hours=3))
    mh = TABLES["metric_hour"]
    with store.connect() as conn:
        kept = conn.execute(select(func.min(mh.c.ts))).scalar()
    assert kept == START + timedelta(hours=3)
