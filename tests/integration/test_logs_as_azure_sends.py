"""Request logs as Azure really sends them, end to end: the emulator's duplicate and nearly empty
rows, upper-case ResourceIds, JSON-string properties_s, zero/negative/missing DurationMs and late
rows, read by the real SDK's LogsQueryClient into the store, leave every number exact.

Only the logs source runs (with the inventory it needs): these tests do not depend on metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from collector import histogram
from collector.azure import AzureClients, CallCounter
from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.emulator.workload import guid_of, to_ms
from collector.runner import Collector
from collector.store import queries
from collector.store.schema import TABLES
from tests.integration.conftest import BACKFILL_DAYS, END, HOURS, emulator_settings

START = END - timedelta(hours=HOURS)


def _keys(store: Engine) -> dict[int, tuple[str, str]]:
    t = TABLES["deployment"]
    with store.connect() as conn:
        return {i: (r, n) for i, r, n in conn.execute(select(t.c.id, t.c.resource_id, t.c.name))}


def _stored(store: Engine) -> tuple[Counter, Counter, dict[tuple[str, str], Counter]]:
    """(requests by deployment and status class from the histograms, request_log rows by
    deployment and status, 2xx histogram per deployment)."""
    keys = _keys(store)
    h, log = TABLES["latency_hist"], TABLES["request_log"]
    by_class: Counter = Counter()
    logged: Counter = Counter()
    hist: dict[tuple[str, str], Counter] = {}
    with store.connect() as conn:
        for dep, klass, bucket, n in conn.execute(
            select(
                h.c.deployment_id, h.c.status_class, h.c.bucket, func.sum(h.c["count"])
            ).group_by(h.c.deployment_id, h.c.status_class, h.c.bucket)
        ):
            by_class[(*keys[dep], klass)] += int(n)
            if klass == "2xx":
                hist.setdefault(keys[dep], Counter())[int(bucket)] += int(n)
        for dep, status, n in conn.execute(
            select(log.c.deployment_id, log.c.status_code, func.count()).group_by(
                log.c.deployment_id, log.c.status_code
            )
        ):
            logged[(*keys[dep], int(status))] += int(n)
    return by_class, logged, hist


def _truth(truth: dict[str, Any]) -> tuple[Counter, Counter, dict[tuple[str, str], dict]]:
    by_class: Counter = Counter()
    failed: Counter = Counter()
    days = {}
    for dep in truth["deployments"]:
        key = (dep["resource"].lower(), dep["deployment"])
        (day,) = dep["days"]  # the workload lies inside one day
        days[key] = day
        for status, n in day["requests_by_status"].items():
            by_class[(*key, status[0] + "xx")] += n
            if not status.startswith("2"):
                failed[(*key, int(status))] += n
    return by_class, failed, days


def test_duplicate_and_near_empty_rows_leave_every_number_exact(
    make_collector: Callable[..., Collector],
    store: Engine,
    truth: dict[str, Any],
    emulator: EmulatorServer,
) -> None:
    # The workload really has what Azure sends among its failures: twins and bad DurationMs.
    req = emulator.workload.requests(to_ms(START), to_ms(END))
    traits = emulator.logs.traits(req)
    failed = req.status != 200
    assert (traits.twin & failed).sum() > 20
    assert ((traits.bad_duration < 3) & failed).sum() > 5
    assert ((traits.bad_duration < 3) & ~failed).sum() > 100  # successes: the percentiles

    collector = make_collector()
    reports = collector.run_once(["logs"], backfill_days=BACKFILL_DAYS)
    assert [r.status for r in reports] == ["ok"] * len(reports), [r.error for r in reports]
    by_class, logged, hist = _stored(store)
    want_class, want_failed, days = _truth(truth)
    assert by_class == want_class  # every request counted once, in its status class
    assert +Counter({k: v for k, v in logged.items() if k[2] != 200}) == want_failed  # 429s too
    assert (
        sum(n for k, n in logged.items() if k[2] == 429)
        == sum(n for k, n in want_failed.items() if k[2] == 429)
        > 0
    )

    # resources stored once, lower case, though Azure sent them in upper case
    r = TABLES["resource"]
    with store.connect() as conn:
        rids = [x for (x,) in conn.execute(select(r.c.id))]
    assert rids and all(x == x.lower() for x in rids)
    assert {k[0] for k in _keys(store).values()} <= set(rids)

    # percentiles unchanged by negative, zero and missing DurationMs (they come from the ticks)
    for key, day in days.items():
        for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            upper = histogram.percentile(hist[key], q)
            assert upper == histogram.bucket_bounds(histogram.bucket_of(day[name]))[1], (key, name)

    # failed-request look-ups: found by their id in any case, with the true status and duration
    bad = {guid_of(req.apim_id[i]) for i in np.flatnonzero(failed & (traits.bad_duration < 3))}
    checked_bad = 0
    for wanted in truth["failed_requests"]:
        found = queries.lookup(store, wanted["apim_request_id"].upper())
        assert found.request.status == wanted["status"]
        assert found.deployment == wanted["deployment"]
        assert found.request.duration_ms == wanted["duration_ms"]
        assert found.request.caller_ip and found.request.caller_ip.endswith(".***")
        checked_bad += wanted["apim_request_id"] in bad
    assert checked_bad > 0

    # a re-read over the overlap (a second run) changes nothing
    before = _stored(store)
    reports = collector.run_once(["logs"])
    assert [r.status for r in reports] == ["ok"] * len(reports)
    assert _stored(store) == before
    log = TABLES["request_log"]
    with store.connect() as conn:
        rows, ids = conn.execute(
            select(func.count(), func.count(func.distinct(log.c.correlation_id)))
        ).one()
        props = conn.execute(select(log.c.properties).limit(1)).scalar_one()
    assert rows == ids
    assert "caller_object_id" in props


def test_rows_arriving_late_are_read_by_the_overlap(
    emulator: EmulatorServer, store: Engine, db_url: str
) -> None:
    """Some rows arrive 11 to 20 minutes late; the logs window re-reads the last 30 minutes, so
    after the next run the store holds every call of the first run's window."""
    settings = emulator_settings(emulator, db_url)
    credential = StaticTokenCredential(emulator.token)
    clock = [START + timedelta(hours=3)]

    def clients(counter: CallCounter) -> AzureClients:
        return AzureClients(settings, credential, counter, retry_backoff_factor=0.01)

    collector = Collector(settings, store, clients, now=lambda: clock[0])
    first = clock[0]
    emulator.set_now(first)
    collector.run_once(["logs"], backfill_days=BACKFILL_DAYS)
    req = emulator.workload.requests(to_ms(START), to_ms(first))
    late = emulator.logs.traits(req).lag_ms > 10 * 60_000
    pending = late & (req.ts_ms + emulator.logs.traits(req).lag_ms > to_ms(first))
    assert pending.sum() > 0  # late rows not there yet at the first run

    def stored_calls(until: datetime) -> int:
        h = TABLES["latency_hist"]
        with store.connect() as conn:
            return int(
                conn.execute(select(func.sum(h.c["count"])).where(h.c.ts < until)).scalar_one()
            )

    assert stored_calls(first) < len(req)
    clock[0] = first + timedelta(minutes=25)
    emulator.set_now(clock[0])
    collector.run_once(["logs"])
    assert stored_calls(first) == len(req)


def test_one_stored_row_per_call_even_when_its_time_changes(store: Engine) -> None:
    """Two rows of a call that tie on completeness may be picked in turn by successive reads:
    the store keeps one row per correlation id (the latest written), whatever the id's case."""
    from collector.rows import RequestRow
    from collector.runner import write_requests

    rid = "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A"
    row = RequestRow(
        ts=END,
        resource_id=rid.lower(),
        deployment="claude-opus-4-5",
        correlation_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        operation="Messages_Create",
        status_code=429,
        duration_ms=12,
        caller_ip="10.1.2.***",
        model=None,
        model_version=None,
        api_name=None,
        stream_type=None,
        request_bytes=None,
        response_bytes=None,
    )
    moved = RequestRow(**{**row.__dict__, "ts": END + timedelta(milliseconds=480)})
    with store.begin() as conn:
        write_requests(conn, [row])
    with store.begin() as conn:
        write_requests(conn, [moved, row])  # collapsed to one first, then the old time dropped
    with store.begin() as conn:
        write_requests(conn, [moved])
    log = TABLES["request_log"]
    with store.connect() as conn:
        stored = conn.execute(select(log.c.ts, log.c.status_code)).all()
    assert len(stored) == 1
    found = queries.lookup(store, row.correlation_id.upper())
    assert found.request.status == 429
