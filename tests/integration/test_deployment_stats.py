"""Each deployment's headroom figures read whole hours from deployment_hour and only the ragged
ends and the hot throttled hours from the minutes: they must equal a brute-force recomputation
from the minutes written, on the cases that trap a rollup: a peak tied across hours and with a
ragged end, a deployment with rows but no traffic, one without rows, 429 minutes near and not
near the deployment's own limits (and near only by tokens), windows not on the hour or shorter
than one. On both databases, through the product's write path and rollup refresh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select

from collector import headroom as hr
from collector import metric_names as names
from collector.runner import Collector
from collector.store import migrate, retention, rollup
from collector.store.queries._sql import _reading
from collector.store.queries.deployment_stats import deployment_stats
from collector.store.schema import TABLES
from collector.store.types import to_utc
from collector.store.writer import upsert
from tests.integration.conftest import BACKFILL_DAYS

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
MINUTES = 2 * 1440
TIES, THROTTLED, IDLE, ABSENT = 1, 2, 3, 4
#: (RPM, TPM) limits of each deployment's capacity; the idle one's are unknown
LIMITS = {TIES: (50.0, 50_000), THROTTLED: (20.0, 20_000), IDLE: (None, None), ABSENT: (10.0, 1)}


def _usage(dep: int, m: int) -> tuple[float, float, float, float, float] | None:
    """(requests, 429s, input, cache writes, output) of minute ``m`` (None: no rows)."""
    h, i = divmod(m, 60)
    if dep == TIES:
        # peak 45 requests in minutes 3, 341 and 1807 (and 1808): ties across hours, one in
        # the first hour that ragged windows cut off; tokens peak in one minute of hour 40
        if m in (3, 341, 1807, 1808):
            return 45.0, 0.0, 1_000.0, 0.0, 100.0
        if m == 40 * 60 + 59:
            return 2.0, 0.0, 30_000.0, 5_000.0, 9_000.0
        return None if (m * 7) % 11 == 0 else (float(m % 13), 0.0, 100.0 * (m % 7), 0.0, 10.0)
    if dep == THROTTLED:
        # bursts of 429s every 5 hours: in even bursts at 19 requests (near the 20 RPM limit),
        # in odd ones quiet (a pool's doing), and once near only by tokens (cache writes)
        busy = h % 5 == 0 and 20 <= i < 26
        if busy and (h // 5) % 2 == 0:
            return 19.0, 3.0, 500.0, 0.0, 50.0
        if busy:
            return 2.0, 4.0, 100.0, 0.0, 10.0
        if h == 33 and i == 7:
            return 1.0, 1.0, 12_000.0, 4_000.0, 1_000.0
        return float(i % 3), 0.0, 50.0, 0.0, 5.0
    if dep == IDLE:
        return (0.0, 0.0, 0.0, 0.0, 0.0) if h % 6 == 2 else None
    return None


@pytest.fixture
def filled(store: Engine) -> Engine:
    rows = []
    for dep in LIMITS:
        for m in range(MINUTES):
            usage = _usage(dep, m)
            if usage is None:
                continue
            requests, s429, given, writes, output = usage
            ts = START + timedelta(minutes=m)
            for metric, code, total in (
                (names.REQUESTS, 200, requests),
                (names.REQUESTS, 429, s429),
                (names.INPUT_TOKENS, 0, given),
                (names.CACHE_WRITE_5M, 0, writes),
                (names.OUTPUT_TOKENS, 0, output),
                (names.CACHE_READ, 0, 99_999.0),  # cache reads count against no limit
            ):
                if total or code == 200:
                    rows.append(
                        {"ts": ts, "deployment_id": dep, "metric": metric,
                         "status_code": code, "total": total, "count": 1.0}
                    )  # fmt: skip
    with store.begin() as conn:
        upsert(conn, "metric_minute", rows)
        rollup.refresh(conn, START, START + timedelta(minutes=MINUTES), hist=False)
    return store


def _brute_force(dep: int, since: datetime, until: datetime) -> dict[str, object]:
    first = int((since - START).total_seconds()) // 60
    last = int((until - START).total_seconds()) // 60
    rows = [(m, _usage(dep, m)) for m in range(max(0, first), min(MINUTES, last))]
    present = [(START + timedelta(minutes=m), u) for m, u in rows if u is not None]
    if not present:
        return {"rpm": (0, None), "tpm": (0, None), "429": 0, "minutes": 0, "near": set()}
    requests = [(u[0], t) for t, u in present]
    tokens = [(u[2] + u[3] + u[4], t) for t, u in present]
    rpm, tpm = LIMITS[dep]

    def peak(values: list[tuple[float, datetime]]) -> tuple[int, datetime]:
        top = max(v for v, _ in values)
        return round(top), min(t for v, t in values if v == top)

    def near(u: tuple[float, ...]) -> bool:
        return bool(rpm and u[0] >= hr.LEVEL_SHARE * rpm) or bool(
            tpm and u[2] + u[3] + u[4] >= hr.LEVEL_SHARE * tpm
        )

    return {
        "rpm": peak(requests),
        "tpm": peak(tokens),
        "429": round(sum(u[1] for _, u in present)),
        "minutes": sum(1 for _, u in present if u[1] > 0),
        "near": {int(t.timestamp()) // 60 for t, u in present if u[1] > 0 and near(u)},
    }


WINDOWS = [
    (START, START + timedelta(days=2)),  # whole hours only
    (START + timedelta(minutes=7), START + timedelta(days=2) - timedelta(minutes=13)),
    (START + timedelta(hours=5, minutes=41), START + timedelta(hours=30, minutes=8)),  # ties
    (START + timedelta(hours=6), START + timedelta(hours=30, minutes=8)),  # peak in the tail
    (START, START + timedelta(hours=10, minutes=23)),  # ends inside a burst of 429s
    (START + timedelta(hours=10, minutes=22), START + timedelta(hours=10, minutes=25)),
    (START + timedelta(hours=9, minutes=50), START + timedelta(hours=10, minutes=30)),
    (START + timedelta(hours=33), START + timedelta(hours=34)),  # near only by tokens
    (START - timedelta(days=1), START - timedelta(hours=1)),  # before every minute
]


@pytest.mark.parametrize("window", range(len(WINDOWS)))
def test_deployment_figures_equal_the_minutes(filled: Engine, window: int) -> None:
    since, until = WINDOWS[window]
    with _reading(filled) as conn:
        stats = deployment_stats(conn, since, until, LIMITS)
    for dep in LIMITS:
        want = _brute_force(dep, since, until)
        got = stats[dep]
        seen = {
            "rpm": got.peak_rpm(),
            "tpm": got.peak_tpm(),
            "429": round(got.status_429),
            "minutes": got.throttled_minutes,
            "near": got.near_throttled,
        }
        assert seen == want, (dep, since, until)


def test_the_cases_are_there(filled: Engine) -> None:
    """The windows above hold what the module docstring promises to trap."""
    whole = _brute_force(THROTTLED, *WINDOWS[0])
    assert len(whole["near"]) > 0 and whole["minutes"] > len(whole["near"])  # type: ignore[arg-type]
    ties = _brute_force(TIES, *WINDOWS[2])
    assert ties["rpm"] == (45, START + timedelta(hours=5, minutes=41))
    assert _brute_force(IDLE, *WINDOWS[0])["rpm"] == (0, START + timedelta(hours=2))
    assert _brute_force(TIES, *WINDOWS[3])["rpm"] == (45, START + timedelta(minutes=1807))
    assert _brute_force(THROTTLED, *WINDOWS[4])["minutes"] == 6 * 2 + 3  # hours 0, 5 and 10
    tokens_only = _brute_force(THROTTLED, *WINDOWS[7])
    assert tokens_only["near"] == {int((START + timedelta(hours=33, minutes=7)).timestamp()) // 60}


def _recomputed(store: Engine) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """deployment_hour and deployment_throttle as Python computes them from metric_minute."""
    m = TABLES["metric_minute"]
    minutes: dict[tuple[datetime, int], list[float]] = {}
    inputs = (names.INPUT_TOKENS, names.CACHE_WRITE_5M, names.CACHE_WRITE_1H, names.OUTPUT_TOKENS)
    with store.connect() as conn:
        for r in conn.execute(select(m)).mappings():
            if r["metric"] not in (names.REQUESTS, *inputs):
                continue
            seen = minutes.setdefault((to_utc(r["ts"]), r["deployment_id"]), [0.0, 0.0, 0.0])
            if r["metric"] == names.REQUESTS:
                seen[2 if r["status_code"] == 429 else 0] += r["total"] or 0.0
            else:
                seen[1] += r["total"] or 0.0
    hours: dict[tuple[datetime, int], tuple[float, datetime, float, datetime]] = {}
    for (ts, dep), (requests, tokens, _) in sorted(minutes.items()):
        key = (rollup.floor_time(ts, rollup.HOUR), dep)
        best = hours.get(key, (-1.0, ts, -1.0, ts))
        hours[key] = (
            *((requests, ts) if requests > best[0] else best[:2]),
            *((tokens, ts) if tokens > best[2] else best[2:]),
        )
    throttles = {key: tuple(v) for key, v in minutes.items() if v[2] > 0}
    return hours, throttles


def _stored(store: Engine) -> tuple[dict[Any, Any], dict[Any, Any]]:
    dh, dt = TABLES["deployment_hour"], TABLES["deployment_throttle"]
    with store.connect() as conn:
        hours = {
            (to_utc(r.ts), r.deployment_id): (
                r.requests,
                to_utc(r.requests_at),
                r.tokens,
                to_utc(r.tokens_at),
            )
            for r in conn.execute(select(dh))
        }
        throttles = {
            (to_utc(r.ts), r.deployment_id): (r.requests, r.tokens, r.status_429)
            for r in conn.execute(select(dt))
        }
    return hours, throttles


def test_rollups_are_the_minutes_after_ingest_prune_and_migration(
    make_collector: Callable[..., Collector], store: Engine
) -> None:
    """Through the collector's ingest from the emulator, a prune whose cut-off falls inside an
    hour, and migration 0013 downgraded and upgraded again (its fill)."""
    assert all(r.status == "ok" for r in make_collector().run_once(backfill_days=BACKFILL_DAYS))
    expected = _recomputed(store)
    assert len(expected[0]) > 24 and len(expected[1]) > 0  # hours, and minutes with 429s
    assert _stored(store) == expected

    m = TABLES["metric_minute"]
    with store.connect() as conn:
        first = to_utc(conn.execute(select(func.min(m.c.ts))).scalar_one())
    cutoff = rollup.floor_time(first, rollup.HOUR) + timedelta(hours=2, minutes=23)
    retention.prune(store, retention_days=1, now=cutoff + timedelta(days=1))
    after = _recomputed(store)
    assert 0 < len(after[0]) < len(expected[0])
    assert _stored(store) == after

    migrate.downgrade(store, "0012")
    assert "deployment_hour" not in inspect(store).get_table_names()
    migrate.upgrade(store)
    assert _stored(store) == after
