"""The collector end to end: real SDK clients over HTTPS to the emulator, into SQLite and Postgres."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from collector import histogram
from collector.emulator import EmulatorServer
from collector.runner import Collector
from collector.sources import metrics
from collector.store.schema import TABLES
from tests.integration.conftest import BACKFILL_DAYS, END
from tests.workload_store import reference


def _dep_keys(store: Engine) -> dict[int, tuple[str, str]]:
    t = TABLES["deployment"]
    with store.connect() as conn:
        return {i: (r, n) for i, r, n in conn.execute(select(t.c.id, t.c.resource_id, t.c.name))}


def stored_totals(store: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (resource, deployment): requests by status, tokens, 2xx latency histogram."""
    keys = _dep_keys(store)
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(dep_id: int) -> dict[str, Any]:
        return out.setdefault(
            keys[dep_id], {"by_status": Counter(), "input": 0, "output": 0, "hist": Counter()}
        )

    m, h = TABLES["metric_minute"], TABLES["latency_hist"]
    with store.connect() as conn:
        for dep, metric, status, total in conn.execute(
            select(m.c.deployment_id, m.c.metric, m.c.status_code, func.sum(m.c.total)).group_by(
                m.c.deployment_id, m.c.metric, m.c.status_code
            )
        ):
            e = entry(dep)
            if metric == "ModelRequests":
                e["by_status"][str(status)] += int(total)
            elif metric == "InputTokens":
                e["input"] += int(total)
            elif metric == "OutputTokens":
                e["output"] += int(total)
        for dep, bucket, count in conn.execute(
            select(h.c.deployment_id, h.c.bucket, func.sum(h.c.count))
            .where(h.c.status_class == "2xx")
            .group_by(h.c.deployment_id, h.c.bucket)
        ):
            entry(dep)["hist"][int(bucket)] += int(count)
    return out


def truth_totals(truth: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for dep in truth["deployments"]:
        by_status: Counter[str] = Counter()
        for day in dep["days"]:
            by_status.update(day["requests_by_status"])
        out[(dep["resource"].lower(), dep["deployment"])] = {
            "by_status": by_status,
            "input": sum(d["input_tokens"] for d in dep["days"]),
            "output": sum(d["output_tokens"] for d in dep["days"]),
            "days": dep["days"],
        }
    return out


def snapshot(store: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored number, except bookkeeping that records when things ran."""
    skip = {"collection_run": None, "watermark": None}
    out = {}
    with store.connect() as conn:
        for name, table in TABLES.items():
            if name in skip:
                continue
            cols = [c for c in table.c if c.name not in {"fetched_at", "last_seen", "computed_at"}]
            out[name] = sorted(  # float sums may differ in their last bits with the order added
                (
                    tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                    for r in conn.execute(select(*cols))
                ),
                key=repr,
            )
    return out


def test_a_backfill_equals_the_truth(
    make_collector: Callable[..., Collector],
    store: Engine,
    truth: dict[str, Any],
    emulator: EmulatorServer,
) -> None:
    reports = make_collector().run_once(backfill_days=BACKFILL_DAYS)
    assert [r.status for r in reports] == ["ok"] * len(reports), [r.error for r in reports]
    stored, expected = stored_totals(store), truth_totals(truth)
    assert set(stored) == set(expected)
    # the true percentiles from the simulated requests themselves, not the emulator's truth
    # document (which ranks with the product's own histogram.nearest_rank)
    refs = reference(emulator.workload, emulator.workload.start, END)
    for key, want in expected.items():
        got = stored[key]
        assert dict(got["by_status"]) == dict(want["by_status"]), key
        assert (got["input"], got["output"]) == (want["input"], want["output"]), key
        assert len(want["days"]) == 1  # the workload lies inside one day
        for q in (0.5, 0.95, 0.99):
            upper = histogram.percentile(got["hist"], q)
            lower, _ = histogram.bucket_bounds(histogram.bucket_of(upper - 1e-9))
            true = refs[key].percentile_ms(q)
            assert true is not None and lower <= true < upper, (key, q)


def test_every_failed_request_of_the_truth_is_stored_with_its_status(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    make_collector().run_once(backfill_days=BACKFILL_DAYS)
    t = TABLES["request_log"]
    with store.connect() as conn:
        stored = {c: s for c, s in conn.execute(select(t.c.correlation_id, t.c.status_code))}
    assert truth["failed_requests"]
    for failed in truth["failed_requests"]:
        assert stored[failed["apim_request_id"].lower()] == failed["status"]


def test_billed_cost_per_resource_and_day_equals_the_truth(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    make_collector().run_once(["costs"], backfill_days=BACKFILL_DAYS)
    t = TABLES["cost_daily"]
    with store.connect() as conn:
        rows = conn.execute(  # the Claude bill: Marketplace rows (gpt is under Azure meters)
            select(t.c.resource_id, t.c.day, func.sum(t.c.cost))
            .where(t.c.publisher_type == "Marketplace")
            .group_by(t.c.resource_id, t.c.day)
        ).all()
        everything = conn.execute(select(t.c.resource_id, t.c.day).distinct()).all()
    stored = {(r.lower(), d.isoformat()): Decimal(c) for r, d, c in rows}
    expected: dict[tuple[str, str], Decimal] = {}  # booked on SaaS resources, as Azure does
    charges = [(c, b["day"]) for b in truth["billed"] for c in b["charges"]]
    charges += [(c, c["day"]) for c in truth["billed_unattributed"]]
    for charge, day in charges:
        key = (charge["resource_id"].lower(), day)
        expected[key] = expected.get(key, Decimal(0)) + Decimal(str(charge["cost"]))
    assert expected and stored == expected
    assert len(everything) > len(expected)  # the scope's other resources are kept too


def test_running_twice_or_overlapping_changes_no_stored_number(
    make_collector: Callable[..., Collector], store: Engine
) -> None:
    collector = make_collector()
    collector.run_once(backfill_days=BACKFILL_DAYS)
    first = snapshot(store)
    collector.run_once()  # from the watermarks, with overlap
    collector.run_once(backfill_days=BACKFILL_DAYS)  # an explicit, overlapping window
    assert snapshot(store) == first


def test_a_metrics_cycle_makes_one_call_per_batch_and_metric_group(
    make_collector: Callable[..., Collector], emulator: EmulatorServer
) -> None:
    collector = make_collector()
    collector.run_once(["inventory"])
    resources = collector.known_resources()
    collector.run_once(["metrics"], backfill_days=1)  # sets the watermarks
    before = emulator.stats["requests"]["metrics"]
    collector.run_once(["metrics"])  # a steady-state cycle: from the watermark
    calls = emulator.stats["requests"]["metrics"] - before
    per_region = Counter((r.subscription_id, r.location) for r in resources)
    batches = sum(math.ceil(n / metrics.BATCH_LIMIT) for n in per_region.values())
    assert len(resources) > 1 and batches == len(per_region)
    # requests (by status), usage (tokens, latency, TTFT) and the Anthropic cache metrics (their
    # ContextLength dimension needs its own call): one call per batch more than before the cache
    assert [g.name for g in metrics.GROUPS] == ["requests", "usage", "cache"]
    assert calls == batches * 3


@pytest.mark.parametrize(
    "faults",
    [
        "metrics:429*3",
        "costs:429-costheaders*2",
        "logs:partial*2",
        "metrics:500*2,logs:503*2,arm:500*1",
        "metrics:drop*1,logs:drop*1,costs:drop*1",
    ],
)
def test_under_faults_the_data_is_completed_or_refilled(
    faults: str,
    make_collector: Callable[..., Collector],
    emulator: EmulatorServer,
    store: Engine,
    truth: dict[str, Any],
) -> None:
    emulator.set_faults(faults)
    collector = make_collector()
    first = collector.run_once(backfill_days=BACKFILL_DAYS)
    if any(r.status != "ok" for r in first):  # a recorded failure is refilled by the next run
        collector.run_once(backfill_days=BACKFILL_DAYS)
    assert emulator.stats["faults_pending"] == []
    stored, expected = stored_totals(store), truth_totals(truth)
    for key, want in expected.items():
        assert dict(stored[key]["by_status"]) == dict(want["by_status"]), key
        assert stored[key]["input"] == want["input"]
    reference = snapshot(store)
    collector.run_once(backfill_days=BACKFILL_DAYS)
    assert snapshot(store) == reference  # nothing duplicated
    t = TABLES["collection_run"]
    with store.connect() as conn:
        throttled = conn.execute(select(func.sum(t.c.throttled_calls))).scalar()
    if "429" in faults:
        assert throttled and throttled > 0


def test_a_failing_source_is_recorded_and_does_not_stop_the_others(
    make_collector: Callable[..., Collector], emulator: EmulatorServer, store: Engine
) -> None:
    emulator.set_faults("logs:500*40")
    reports = make_collector().run_once(backfill_days=BACKFILL_DAYS)
    by_source = {r.source: r for r in reports}
    assert by_source["logs"].status == "error" and "500" in (by_source["logs"].error or "")
    assert all(r.status == "ok" for r in reports if r.source != "logs")
    t = TABLES["collection_run"]
    with store.connect() as conn:
        errors = conn.execute(select(t.c.source, t.c.error).where(t.c.status == "error")).all()
    assert [s for s, _ in errors] == ["logs"]


def test_summary_and_lookup_agree_with_the_truth(
    make_collector: Callable[..., Collector],
    store: Engine,
    truth: dict[str, Any],
    emulator: EmulatorServer,
) -> None:
    from datetime import timedelta

    from collector.store import queries

    make_collector().run_once(backfill_days=BACKFILL_DAYS)
    refs = reference(emulator.workload, emulator.workload.start, END)
    rows = {
        (r.resource_id, r.deployment): r
        for r in queries.summary(store, END - timedelta(days=1), END + timedelta(hours=1))
    }
    for key, want in truth_totals(truth).items():
        got = rows[key]
        by_status = {int(s): n for s, n in want["by_status"].items()}
        assert got.requests == sum(by_status.values())
        assert got.status_2xx == sum(n for s, n in by_status.items() if 200 <= s < 300)
        assert got.status_429 == by_status.get(429, 0)
        assert got.status_4xx_other == sum(
            n for s, n in by_status.items() if 400 <= s < 500 and s != 429
        )
        assert got.status_5xx == sum(n for s, n in by_status.items() if s >= 500)
        assert (got.input_tokens, got.output_tokens) == (want["input"], want["output"])
        for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            upper = getattr(got, name)
            lower, _ = histogram.bucket_bounds(histogram.bucket_of(upper - 1e-9))
            true = refs[key].percentile_ms(q)
            assert true is not None and lower <= true < upper, (key, name)
    for failed in truth["failed_requests"]:
        guid = failed["apim_request_id"]
        for variant in (guid.upper(), f'"{guid}"', f"  '{guid}'\n"):
            found = queries.lookup(store, variant)
            assert found.request.status == failed["status"]
            assert found.deployment == failed["deployment"]


def test_a_live_lookup_fetches_a_request_the_store_lacks(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    from collector.errors import RequestNotFound
    from collector.store import queries

    collector = make_collector()
    collector.run_once(["inventory"])
    failed = truth["failed_requests"][0]
    with pytest.raises(RequestNotFound):
        queries.lookup(store, failed["apim_request_id"])
    assert collector.fetch_request(failed["apim_request_id"]) == 1
    found = queries.lookup(store, failed["apim_request_id"])
    assert (found.request.status, found.deployment) == (failed["status"], failed["deployment"])


def test_a_stalled_azure_answer_is_cut_by_the_read_timeout_and_retried(
    make_collector: Callable[..., Collector], emulator: EmulatorServer
) -> None:
    """azure-core waits 300 s per read by default; the collector sets its own read timeout, so a
    stalled answer costs one more attempt, not the job."""
    collector = make_collector(azure_read_timeout_s=0.5)

    def arm_calls() -> int:
        before = emulator.stats["requests"].get("arm", 0)
        (report,) = collector.run_once(["inventory"])
        assert report.status == "ok"
        return int(emulator.stats["requests"].get("arm", 0) - before)

    normal = arm_calls()
    emulator.set_faults("arm:slow=3s*1")  # the next ARM answer stalls for 3 s
    assert arm_calls() == normal + 1  # the stalled attempt was abandoned and retried
    assert emulator.stats["faults_pending"] == []
