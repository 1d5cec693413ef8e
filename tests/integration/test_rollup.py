"""Hourly rollups: the same numbers as the minutes they summarise, on both databases."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, MetaData, Table, func, literal_column, select

from collector.store import migrate, queries, rollup
from collector.store.engine import make_engine
from collector.store.schema import TABLES
from collector.store.writer import upsert

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _fill(store: Engine, minutes: int = 300, *, roll_up: bool = True) -> None:
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
        # a store at an old revision is filled as that revision stores rows (metric names and
        # status classes as text before 0012): through its own tables, not today's models
        tables = {
            name: Table(name, MetaData(), autoload_with=conn) if not roll_up else name
            for name in ("metric_minute", "latency_hist")
        }
        upsert(conn, tables["metric_minute"], metric_rows)
        upsert(conn, tables["latency_hist"], hist_rows)
        if roll_up:
            rollup.refresh(conn, START, START + timedelta(minutes=minutes))


def test_rollups_sum_exactly_the_minutes(store: Engine) -> None:
    _fill(store)
    m, mh, mq = TABLES["metric_minute"], TABLES["metric_hour"], TABLES["metric_15m"]
    h, hq = TABLES["latency_hist"], TABLES["latency_hist_15m"]
    with store.connect() as conn:
        minute_sum = conn.execute(select(func.sum(m.c.total))).scalar()
        hour_sum = conn.execute(select(func.sum(mh.c.total))).scalar()
        quarter_sum = conn.execute(select(func.sum(mq.c.total))).scalar()
        hours = conn.execute(select(func.count(func.distinct(mh.c.ts)))).scalar()
        quarters = conn.execute(select(func.count(func.distinct(mq.c.ts)))).scalar()
        hist = [conn.execute(select(func.sum(t.c["count"]))).scalar() for t in (h, hq)]
        first = conn.execute(select(func.min(mq.c.ts))).scalar()
    assert minute_sum == hour_sum == quarter_sum and (hours, quarters) == (5, 20)
    assert hist[0] == hist[1] and first == START


ROLLUPS = (
    "metric_15m", "latency_hist_15m", "metric_hour", "latency_hist_hour", "metric_day",
    "latency_hist_day", "throttle_hour", "latency_pct_15m", "latency_pct_hour", "latency_pct_day",
)  # fmt: skip


def _rollup_rows(store: Engine) -> dict[str, list[tuple]]:
    with store.connect() as conn:
        return {  # float sums may differ in the last bits with the order Postgres adds them
            t: sorted(
                tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                for r in conn.execute(select(TABLES[t]))
            )
            for t in ROLLUPS
        }


def test_upgrading_a_filled_store_fills_every_rollup_as_a_refresh_would(db_url: str) -> None:
    """Each migration that adds a rollup fills it from the data already stored, using only the
    tables of its own revision (a store upgraded from the first schema, minutes and all)."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0001")
        _fill(engine, roll_up=False)
        migrate.upgrade(engine)
        migrated = _rollup_rows(engine)
        assert [t for t in ROLLUPS if not migrated[t]] == []
        with engine.begin() as conn:
            rollup.refresh(conn, START, START + timedelta(minutes=300))
        assert _rollup_rows(engine) == migrated
    finally:
        engine.dispose()


def test_refreshing_again_changes_nothing(store: Engine) -> None:
    _fill(store)

    def rows() -> dict[str, list[tuple]]:
        return _rollup_rows(store)

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
    for step in ("5m", "15m"):  # quarters from their rollup; steps cut from the stored text
        seconds = queries.parse_step(step)
        expected: dict[datetime, float] = {}
        for p in per_minute:
            start = p.ts - timedelta(seconds=p.ts.timestamp() % seconds)
            expected[start] = expected.get(start, 0) + p.requests
        coarse = queries.timeseries(store, since, until, step=step)
        assert {p.ts: p.requests for p in coarse} == expected
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


# Daily rollups --------------------------------------------------------------------------------
DAY_START = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def _fill_days(store: Engine) -> tuple[int, list[dict], list[dict]]:
    """Two deployments, a row every 7 minutes from 19:00 on one day to 05:00 two days later."""
    rng = random.Random(11)
    with store.begin() as conn:
        upsert(conn, "deployment", [{"resource_id": "r", "name": n, "model": "m"} for n in "ab"])
        ids = [r.id for r in conn.execute(select(TABLES["deployment"].c.id))]
        metric_rows, hist_rows = [], []
        ts = DAY_START
        while ts < DAY_START + timedelta(hours=34):
            for dep in ids:
                for code in (200, 429, 500):
                    metric_rows.append(
                        {"ts": ts, "deployment_id": dep, "metric": "ModelRequests",
                         "status_code": code, "total": float(rng.randint(0, 30))}
                    )  # fmt: skip
                metric_rows.append(
                    {"ts": ts, "deployment_id": dep, "metric": "TimeToLastByte", "status_code": 0,
                     "count": float(rng.randint(1, 9)), "average": rng.uniform(100, 9000),
                     "maximum": rng.uniform(9000, 20000)}
                )  # fmt: skip
                for bucket in rng.sample(range(30, 90), 4):
                    hist_rows.append(
                        {"ts": ts, "deployment_id": dep, "status_class": "2xx", "bucket": bucket,
                         "count": rng.randint(1, 20)}
                    )  # fmt: skip
            ts += timedelta(minutes=7)
        upsert(conn, "metric_minute", metric_rows)
        upsert(conn, "latency_hist", hist_rows)
        rollup.refresh(conn, DAY_START, ts)
    return ids[0], metric_rows, hist_rows


#: The rollups :func:`rollup.refresh` writes from these rows (no Claude model: no pool rows).
_REWRITTEN = (
    "metric_15m", "metric_hour", "metric_day", "latency_hist_15m", "latency_hist_hour",
    "latency_hist_day", "latency_pct_15m", "latency_pct_hour", "latency_pct_day",
    "throttle_hour", "deployment_hour", "deployment_throttle",
)  # fmt: skip


def _row_versions(engine: Engine) -> dict[str, dict[tuple, str]]:
    """Per rollup, each row's key and its Postgres row version (``xmin``: the transaction that
    wrote it; an update or a delete and re-insert makes a new one)."""
    found: dict[str, dict[tuple, str]] = {}
    with engine.connect() as conn:
        for name in _REWRITTEN:
            table = TABLES[name]
            key = list(table.primary_key.columns)
            rows = conn.execute(select(literal_column("xmin::text"), *key))
            found[name] = {tuple(r[1:]): r[0] for r in rows}
    return found


def test_a_postgres_refresh_rewrites_only_the_rollup_rows_whose_values_changed(
    pg_store: Engine,
) -> None:
    """A rewritten row leaves a dead tuple in the table and its indexes until a vacuum, and the
    collector refreshes mostly unchanged hours every minute (docs/benchmarks.md, bytes)."""
    first, metric_rows, _ = _fill_days(pg_store)
    before = _row_versions(pg_store)
    assert all(before.values()), {k: len(v) for k, v in before.items()}
    end = DAY_START + timedelta(hours=34)
    with pg_store.begin() as conn:
        rollup.refresh(conn, DAY_START, end)
    assert _row_versions(pg_store) == before  # nothing rewritten, nothing deleted
    # one minute's 200s change: the rows summing it change, and no other
    minute = DAY_START + timedelta(hours=2, minutes=20)
    changed = next(
        dict(r, total=r["total"] + 7)
        for r in metric_rows
        if r["ts"] == minute and r["deployment_id"] == first and r["status_code"] == 200
    )
    with pg_store.begin() as conn:
        upsert(conn, "metric_minute", [changed])
        rollup.refresh(conn, minute, minute + timedelta(minutes=1))
    after = _row_versions(pg_store)
    assert {name: set(rows) for name, rows in after.items()} == {
        name: set(rows) for name, rows in before.items()
    }
    rewritten = {
        name: sorted(k for k, version in rows.items() if version != before[name][k])
        for name, rows in after.items()
    }
    hour = minute.replace(minute=0)
    day = minute.replace(hour=0, minute=0)
    for name, start in (("metric_15m", minute.replace(minute=15)), ("metric_hour", hour),
                        ("metric_day", day)):  # fmt: skip
        key = (start, first, "ModelRequests", 200)
        assert key in rewritten[name]
        # a latency sum of the same period may be rewritten too: a sum of non-integral floats
        # differs in its last bit when a plan (here: of a smaller window) adds them in another
        # order; request and token counts are whole numbers, exact in any order
        latency = {(start, dep, "TimeToLastByte", 0) for dep in (first, first + 1)}
        assert set(rewritten[name]) <= {key} | latency, rewritten
    untouched = ("latency_hist_15m", "latency_hist_hour", "latency_hist_day", "latency_pct_15m",
                 "latency_pct_hour", "latency_pct_day", "throttle_hour")  # fmt: skip
    assert all(rewritten[name] == [] for name in untouched), rewritten
    assert rewritten["deployment_hour"] in ([], [(hour, first)])  # unless it was the peak
    assert [k[:2] for k in rewritten["deployment_throttle"]] in ([], [(minute, first)])


def test_daily_rollups_sum_the_hours(store: Engine) -> None:
    _fill_days(store)
    mh, md = TABLES["metric_hour"], TABLES["metric_day"]
    hh, hd = TABLES["latency_hist_hour"], TABLES["latency_hist_day"]
    with store.connect() as conn:
        days = [r.ts for r in conn.execute(select(md.c.ts).distinct().order_by(md.c.ts))]
        assert days == [datetime(2026, 11, d, tzinfo=UTC) for d in (2, 3, 4)]
        for hour_table, day_table in ((mh, md), (hh, hd)):
            column = "total" if hour_table is mh else "count"
            hours = conn.execute(select(func.sum(hour_table.c[column]))).scalar()
            assert conn.execute(select(func.sum(day_table.c[column]))).scalar() == hours
        ttlb = md.c.metric == "TimeToLastByte"
        n, peak = conn.execute(
            select(func.sum(md.c.average_n), func.max(md.c.maximum)).where(ttlb)
        ).one()
        assert (n, peak) == tuple(
            conn.execute(
                select(func.sum(mh.c.average_n), func.max(mh.c.maximum)).where(
                    mh.c.metric == "TimeToLastByte"
                )
            ).one()
        )


def test_multi_day_windows_read_the_same_as_minutes_alone(store: Engine) -> None:
    from collector.histogram import merge, percentile

    first, metric_rows, hist_rows = _fill_days(store)
    since = datetime(2026, 11, 2, 20, 13, tzinfo=UTC)  # ragged: minutes, hours, a whole day, ...
    until = datetime(2026, 11, 4, 3, 51, tzinfo=UTC)
    inside = [r for r in metric_rows if since <= r["ts"] < until and r["deployment_id"] == first]
    requests = [r for r in inside if r["metric"] == "ModelRequests"]
    row = next(s for s in queries.summary(store, since, until) if s.deployment_id == first)
    assert row.requests == sum(r["total"] for r in requests)
    assert row.status_5xx == sum(r["total"] for r in requests if r["status_code"] == 500)

    daily = [
        p for p in queries.timeseries(store, since, until, step="1d") if p.deployment_id == first
    ]
    assert [p.ts.day for p in daily] == [2, 3, 4]
    for p in daily:
        day = [r for r in inside if r["ts"].date() == p.ts.date()]
        assert p.requests == sum(r["total"] for r in day if r["metric"] == "ModelRequests")
        ttlb = [r for r in day if r["metric"] == "TimeToLastByte"]
        weighted = sum(r["average"] * r["count"] for r in ttlb) / sum(r["count"] for r in ttlb)
        assert p.ttlb_avg_ms == pytest.approx(weighted)
        assert p.ttlb_max_ms == pytest.approx(max(r["maximum"] for r in ttlb))

    by_day = queries.latency_percentiles_over_time(
        store, since, until, step="1d", deployment_ids=[first]
    )
    assert [p.ts.day for p in by_day] == [2, 3, 4]
    for p in by_day:
        counts = merge(
            {r["bucket"]: r["count"]}
            for r in hist_rows
            if r["deployment_id"] == first
            and since <= r["ts"] < until
            and r["ts"].date() == p.ts.date()
        )
        assert p.requests == sum(counts.values())
        assert (p.p50_ms, p.p95_ms, p.p99_ms) == tuple(
            percentile(counts, q) for q in (0.5, 0.95, 0.99)
        )


@pytest.mark.parametrize(
    ("since", "until", "step", "expected"),
    [
        # no whole quarter inside: minutes only
        ("2026-11-02 10:05", "2026-11-02 10:14", None, [("minute", "10:05", "10:14")]),
        # quarters between ragged minutes
        ("2026-11-02 10:05", "2026-11-02 10:55", None,
         [("minute", "10:05", "10:15"), ("quarter", "10:15", "10:45"), ("minute", "10:45", "10:55")]),
        # whole hours between quarters and minutes
        ("2026-11-02 10:05", "2026-11-02 13:20", None,
         [("minute", "10:05", "10:15"), ("quarter", "10:15", "11:00"), ("hour", "11:00", "13:00"),
          ("quarter", "13:00", "13:15"), ("minute", "13:15", "13:20")]),
        # a whole day between hours and minutes
        ("2026-11-01 22:30", "2026-11-03 01:15", None,
         [("quarter", "22:30", "23:00"), ("hour", "23:00", "00:00"), ("day", "00:00", "00:00"),
          ("hour", "00:00", "01:00"), ("quarter", "01:00", "01:15")]),
        # an hourly step never reads days; a 5-minute step reads minutes only
        ("2026-11-01 23:00", "2026-11-03 00:00", 3600, [("hour", "23:00", "00:00")]),
        ("2026-11-01 23:00", "2026-11-01 23:40", 300, [("minute", "23:00", "23:40")]),
        ("2026-11-01 23:05", "2026-11-02 00:00", 900,
         [("minute", "23:05", "23:15"), ("quarter", "23:15", "00:00")]),
        ("2026-11-02 00:00", "2026-11-04 00:00", 86400, [("day", "00:00", "00:00")]),
    ],
)  # fmt: skip
def test_windows_are_cut_into_the_coarsest_rollups_that_fit(
    since: str, until: str, step: int | None, expected: list[tuple[str, str, str]]
) -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    segments = queries._segments(at(since), at(until), step)
    assert [(level, f"{lo:%H:%M}", f"{hi:%H:%M}") for level, lo, hi in segments] == expected
    assert segments[0][1] == at(since) and segments[-1][2] == at(until)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(segments))


# Throttled minutes per hour ---------------------------------------------------------------------
POOL_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _throttle_store(store: Engine) -> tuple[dict[str, int], dict[tuple[datetime, int], float]]:
    """Three deployments: a and b share a pool (one subscription, one model, two regions), c is
    alone in its pool. 429s in random minutes over five hours."""
    rng = random.Random(5)
    now = datetime(2026, 11, 2, tzinfo=UTC)
    resources = [
        {"id": f"/subscriptions/s1/resourcegroups/g/providers/x/accounts/{n}", "subscription_id": "s1",
         "resource_group": "g", "name": n, "kind": "AIServices", "location": loc,
         "first_seen": now, "last_seen": now}
        for n, loc in (("east", "eastus2"), ("west", "westus"))
    ]  # fmt: skip
    specs = {
        "a": (0, "claude-sonnet-4-5"),
        "b": (1, "claude-sonnet-4-5"),
        "c": (0, "claude-opus-4-5"),
    }
    throttled: dict[tuple[datetime, int], float] = {}
    with store.begin() as conn:
        upsert(conn, "resource", resources)
        upsert(
            conn,
            "deployment",
            [
                {"resource_id": resources[r]["id"], "name": n, "model": m}
                for n, (r, m) in specs.items()
            ],
        )
        d = TABLES["deployment"]
        ids = {r.name: r.id for r in conn.execute(select(d.c.name, d.c.id))}
        rows = []
        for i in range(300):
            ts = POOL_START + timedelta(minutes=i)
            burst = rng.random() < 0.3  # the pool's quota: a and b together
            for name, dep in ids.items():
                hit = (burst and name != "c" and rng.random() < 0.8) or rng.random() < 0.1
                total = float(rng.randint(1, 9)) if hit else 0.0
                rows.append(
                    {"ts": ts, "deployment_id": dep, "metric": "ModelRequests", "status_code": 429,
                     "total": total}
                )  # fmt: skip
                if total:
                    throttled[(ts, dep)] = total
        upsert(conn, "metric_minute", rows)
        rollup.refresh(conn, POOL_START, POOL_START + timedelta(minutes=300))
    return ids, throttled


def _brute_force(
    ids: dict[str, int],
    throttled: dict[tuple[datetime, int], float],
    since: datetime,
    until: datetime,
) -> dict[str, tuple[int, int, float]]:
    pool = {ids["a"]: ids["b"], ids["b"]: ids["a"]}
    out = {}
    for name, dep in ids.items():
        mine = [(ts, n) for (ts, d), n in throttled.items() if d == dep and since <= ts < until]
        shared = sum(1 for ts, _ in mine if dep in pool and (ts, pool[dep]) in throttled)
        out[name] = (len(mine), shared, sum(n for _, n in mine))
    return out


@pytest.mark.parametrize(
    ("start_min", "end_min"), [(0, 300), (17, 283), (61, 119), (5, 50), (120, 180)]
)
def test_throttle_causes_match_a_minute_by_minute_count(
    store: Engine, start_min: int, end_min: int
) -> None:
    ids, throttled = _throttle_store(store)
    since = POOL_START + timedelta(minutes=start_min)
    until = POOL_START + timedelta(minutes=end_min)
    expected = _brute_force(ids, throttled, since, until)
    got = {
        c.deployment: (c.throttled_minutes, c.shared_minutes, c.status_429)
        for c in queries.throttle_causes(store, since, until)
    }
    assert got == {name: figures for name, figures in expected.items() if figures[0]}
    assert expected["a"][1] > 0 and expected["c"][1] == 0


def test_a_pool_member_written_later_updates_the_shared_minutes(store: Engine) -> None:
    """The collector writes one region at a time: b's minutes arrive after a's hours were
    rolled up, and the refresh for b's chunk recounts a's shared minutes too."""
    ids, throttled = _throttle_store(store)
    m = TABLES["metric_minute"]
    until = POOL_START + timedelta(minutes=300)
    with store.begin() as conn:
        conn.execute(m.delete().where(m.c.deployment_id == ids["b"]))
        rollup.refresh(conn, POOL_START, until)
    alone = {c.deployment: c for c in queries.throttle_causes(store, POOL_START, until)}
    assert alone["a"].shared_minutes == 0
    b_rows = [
        {"ts": ts, "deployment_id": dep, "metric": "ModelRequests", "status_code": 429, "total": n}
        for (ts, dep), n in throttled.items()
        if dep == ids["b"]
    ]
    with store.begin() as conn:
        upsert(conn, "metric_minute", b_rows)
        rollup.refresh(
            conn, POOL_START + timedelta(minutes=60), POOL_START + timedelta(minutes=120)
        )
    after = {c.deployment: c for c in queries.throttle_causes(store, POOL_START, until)}
    expected = _brute_force(
        ids, throttled, POOL_START + timedelta(minutes=60), POOL_START + timedelta(minutes=120)
    )
    assert after["a"].shared_minutes == expected["a"][1] > 0


def test_daily_rollups_outlive_the_raw_window_and_keep_the_day_the_prune_cut(
    store: Engine,
) -> None:
    from collector.store import retention

    first, metric_rows, _ = _fill_days(store)
    now = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    result = retention.prune(store, retention_days=1, rollup_days=400, now=now)
    assert result.cutoff == datetime(2026, 11, 3, 12, 0, tzinfo=UTC)

    def requests_on(day: int) -> float:
        return sum(
            r["total"]
            for r in metric_rows
            if r["deployment_id"] == first and r["metric"] == "ModelRequests" and r["ts"].day == day
        )

    def day_rows() -> list[tuple]:
        md = TABLES["metric_day"]
        with store.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(md)))

    # the whole of 2 and 3 November, read from the daily rows: their minutes are gone
    for day in (2, 3):
        since = datetime(2026, 11, day, tzinfo=UTC)
        (row,) = [
            s
            for s in queries.summary(store, since, since + timedelta(days=1))
            if s.deployment_id == first
        ]
        assert row.requests == requests_on(day) > 0
    kept = day_rows()
    # a late write into the day the prune cut (its morning is gone) leaves that day's row alone;
    # the next day's is recomputed from its hours, whose float sums may differ in the last bit
    # (Postgres reads updated rows in another order)
    with store.begin() as conn:
        rollup.refresh(conn, datetime(2026, 11, 3, 13, tzinfo=UTC), now)
    after = day_rows()
    assert len(after) == len(kept)
    for got, want in zip(after, kept, strict=True):
        assert [
            pytest.approx(g, rel=1e-12) == w if isinstance(w, float) else g == w
            for g, w in zip(got, want, strict=True)
        ] == [True] * len(want), (got, want)
    # the prune's cut-off is no collector source
    assert "prune" not in {f.source for f in queries.freshness(store, now)}
    # and the daily rows go with the rollup retention
    retention.prune(store, retention_days=1, rollup_days=30, now=now + timedelta(days=31))
    assert day_rows() == []
