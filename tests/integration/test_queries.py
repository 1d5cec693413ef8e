"""The read API against the seeded store, on SQLite and Postgres: numbers equal the seed's truth."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select

from collector import histogram
from collector.errors import InvalidRequestId, RequestNotFound, StoreError
from collector.store import queries, rollup
from collector.store.schema import TABLES
from collector.store.writer import upsert
from tests import seed as seeding
from tests.seed import Seed, SimRequest

Q = (0.5, 0.95, 0.99)


@pytest.fixture
def engine(seeded_pair: tuple[Engine, Seed]) -> Engine:
    return seeded_pair[0]


def _by_name(rows: list[queries.DeploymentSummary]) -> dict[str, queries.DeploymentSummary]:
    return {r.deployment: r for r in rows}


def _assert_matches_truth(row: queries.DeploymentSummary, truth: seeding.Expected) -> None:
    assert row.requests == truth.requests
    assert row.status_2xx == truth.status_2xx
    assert row.status_429 == truth.status_429
    assert row.status_4xx_other == truth.status_4xx_other
    assert row.status_5xx == truth.status_5xx
    assert row.input_tokens == truth.input_tokens
    assert row.output_tokens == truth.output_tokens
    assert row.spend_estimated == truth.spend_estimated
    assert row.spend_billed == truth.spend_billed
    if truth.requests:
        assert row.rate_429 == pytest.approx(truth.status_429 / truth.requests)
        errors = truth.status_429 + truth.status_4xx_other + truth.status_5xx
        assert row.error_rate == pytest.approx(errors / truth.requests)
    else:
        assert row.rate_429 is None and row.error_rate is None
    for q, got in zip(Q, (row.p50_ms, row.p95_ms, row.p99_ms), strict=True):
        assert got == truth.percentile_ms(q), q
        value = truth.percentile_value(q)
        if value is not None:  # the true percentile lies in the reported bucket
            lower, upper = histogram.bucket_bounds(histogram.bucket_of(value))
            assert lower <= value < upper == got


def test_summary_over_the_whole_window_equals_the_seed_truth(engine: Engine, seeded: Seed) -> None:
    rows = queries.summary(engine, seeded.start, seeded.end)
    truth = seeded.expected(seeded.start, seeded.end)
    assert [r.deployment for r in rows] == [
        "claude-opus-4-5",
        "support-bot",
        "claude-haiku-4-5",
        "claude-opus-4-1",
    ]
    for row in rows:
        _assert_matches_truth(row, truth[row.deployment_id])
    support = _by_name(rows)["support-bot"]
    assert (support.resource, support.model) == ("contoso-eastus2", "claude-sonnet-4-5")
    assert support.resource_id == seeding.resource_id("contoso-eastus2")
    assert support.requests > 1000 and support.status_429 > 0 and support.status_5xx > 0


@pytest.mark.parametrize(
    ("start_min", "end_min"),
    [(0, 1), (77, 163), (119, 121), (120, 240), (0, 120), (239, 240)],
)
def test_summary_over_a_sub_window_is_half_open(
    engine: Engine, seeded: Seed, start_min: int, end_min: int
) -> None:
    since = seeded.start + timedelta(minutes=start_min)
    until = seeded.start + timedelta(minutes=end_min)
    truth = seeded.expected(since, until)
    for row in queries.summary(engine, since, until):
        _assert_matches_truth(row, truth[row.deployment_id])


def test_a_deployment_without_traffic_has_zeros_and_unknowns(engine: Engine, seeded: Seed) -> None:
    idle = _by_name(queries.summary(engine, seeded.start, seeded.end))["claude-opus-4-1"]
    assert (idle.requests, idle.status_2xx, idle.input_tokens, idle.output_tokens) == (0, 0, 0, 0)
    assert idle.rate_429 is idle.error_rate is idle.p50_ms is idle.p95_ms is idle.p99_ms is None
    assert idle.spend_estimated is None and idle.spend_billed is None


def test_a_deployment_removed_before_the_window_is_left_out(engine: Engine, seeded: Seed) -> None:
    names = {r.deployment for r in queries.summary(engine, seeded.start, seeded.end)}
    assert "old-bot" not in names
    earlier = queries.summary(
        engine, seeded.start - timedelta(days=10), seeded.start - timedelta(days=9)
    )
    assert "old-bot" in {r.deployment for r in earlier}


def test_spend_is_unknown_not_zero_without_rows_and_sums_the_days_touched(
    engine: Engine, seeded: Seed
) -> None:
    rows = _by_name(queries.summary(engine, seeded.start, seeded.end))
    assert rows["claude-haiku-4-5"].spend_estimated is None
    assert rows["claude-haiku-4-5"].spend_billed is None
    opus = seeded.deployment_ids["claude-opus-4-5"]
    day1, day2 = seeded.start.date(), seeded.end.date()
    assert day1 != day2
    expected = seeded.spend[(opus, day1)][0] + seeded.spend[(opus, day2)][0]  # type: ignore[operator]
    assert rows["claude-opus-4-5"].spend_estimated == expected
    # a window inside the first day sums that day only
    inside = _by_name(queries.summary(engine, seeded.start, seeded.start + timedelta(hours=1)))
    assert inside["claude-opus-4-5"].spend_estimated == seeded.spend[(opus, day1)][0]
    assert isinstance(inside["claude-opus-4-5"].spend_billed, Decimal)


def test_spend_variance_compares_only_the_days_already_billed(store: Engine) -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    with store.begin() as conn:
        upsert(conn, "deployment", [{"resource_id": "r", "name": "d", "model": "m"}])
        dep = conn.execute(select(TABLES["deployment"].c.id)).scalar_one()
        figures = [("10", "12"), ("5", "4"), ("7", None)]  # the last day is not billed yet
        upsert(
            conn,
            "spend_daily",
            [
                {"day": (day + timedelta(days=i)).date(), "deployment_id": dep,
                 "estimated": Decimal(est), "billed_allocated": None if billed is None else Decimal(billed),
                 "input_tokens": 0, "output_tokens": 0, "unpriced": False, "status": "final",
                 "computed_at": day}
                for i, (est, billed) in enumerate(figures)
            ],
        )  # fmt: skip
    (row,) = queries.summary(store, day, day + timedelta(days=3))
    assert (row.spend_estimated, row.spend_billed) == (Decimal(22), Decimal(16))
    assert row.spend_variance == Decimal(1)  # (12 + 4) - (10 + 5), not 16 - 22


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"resource": "contoso-eastus2"}, ["claude-opus-4-5", "support-bot"]),
        ({"resource": "CONTOSO-EASTUS2"}, ["claude-opus-4-5", "support-bot"]),
        (
            {"resource": seeding.resource_id("contoso-swedencentral").upper()},
            ["claude-haiku-4-5", "claude-opus-4-1"],
        ),
        ({"deployment": "support-bot"}, ["support-bot"]),
        ({"deployment": "Support-Bot"}, ["support-bot"]),
        ({"model": "claude-sonnet-4-5"}, ["support-bot"]),
        ({"model": "claude-opus-4-5", "resource": "contoso-swedencentral"}, []),
        ({"deployment": "' OR 1=1 --"}, []),
    ],
)
def test_summary_filters(
    engine: Engine, seeded: Seed, filters: dict[str, str], names: list[str]
) -> None:
    rows = queries.summary(engine, seeded.start, seeded.end, **filters)
    assert [r.deployment for r in rows] == names
    truth = seeded.expected(seeded.start, seeded.end)
    for row in rows:
        _assert_matches_truth(row, truth[row.deployment_id])


def test_an_empty_store_summarises_to_nothing(store: Engine) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert queries.summary(store, now, now + timedelta(hours=1)) == []


def test_a_window_that_ends_before_it_starts_is_refused(store: Engine) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="must be before"):
        queries.summary(store, now, now)


def _floor(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


@pytest.mark.parametrize("step", ["1m", "5m", "15m", "1h", "1d"])
def test_time_buckets_are_epoch_aligned_on_both_databases(
    engine: Engine, seeded: Seed, step: str
) -> None:
    seconds = queries.STEPS[step]
    points = queries.timeseries(engine, seeded.start, seeded.end, step=step)
    expected: dict[tuple[datetime, int], Counter[str]] = defaultdict(Counter)
    for r in seeded.requests:
        key = (_floor(r.minute, seconds), r.deployment_id)
        expected[key]["requests"] += 1
        expected[key]["429"] += r.status == 429
        expected[key]["2xx"] += 200 <= r.status < 300
        expected[key]["4xx"] += 400 <= r.status < 500
        expected[key]["5xx"] += r.status >= 500
        expected[key]["in"] += r.input_tokens
        expected[key]["out"] += r.output_tokens
    got = {
        (p.ts, p.deployment_id): Counter(
            {
                "requests": p.requests,
                "429": p.status_429,
                "2xx": p.status_2xx,
                "4xx": p.status_4xx,
                "5xx": p.status_5xx,
                "in": p.input_tokens,
                "out": p.output_tokens,
            }
        )
        for p in points
    }
    assert got == expected
    assert all(p.ts.tzinfo is not None and p.ts == _floor(p.ts, seconds) for p in points)
    assert [p.ts for p in points] == sorted(p.ts for p in points)


def test_timeseries_ttlb_per_minute_equals_the_seed(engine: Engine, seeded: Seed) -> None:
    points = queries.timeseries(engine, seeded.start, seeded.end, step="1m")
    measured = {(p.deployment_id, p.ts): p.ttlb_avg_ms for p in points if p.ttlb_avg_ms}
    assert measured == pytest.approx(seeded.ttlb_average)
    for p in points:
        if p.ttlb_avg_ms is not None:
            assert p.ttlb_max_ms is not None and p.ttlb_max_ms >= p.ttlb_avg_ms
            assert p.availability_pct is not None and 0 <= p.availability_pct <= 100


def test_timeseries_ttlb_over_an_hour_is_weighted_by_requests(engine: Engine, seeded: Seed) -> None:
    support = seeded.deployment_ids["support-bot"]
    point = next(
        p
        for p in queries.timeseries(engine, seeded.start, seeded.end, step="1h")
        if p.deployment_id == support
    )
    durations = [
        r.duration_ms
        for r in seeded.requests
        if r.deployment_id == support
        and 200 <= r.status < 300
        and r.minute < seeded.start + timedelta(hours=1)
    ]
    assert point.ttlb_avg_ms == pytest.approx(sum(durations) / len(durations))
    assert point.ttlb_max_ms == max(durations)


@pytest.mark.parametrize("step", ["1m", "1h", "1d"])
def test_timeseries_ttft_equals_the_seed(engine: Engine, seeded: Seed, step: str) -> None:
    """Average (weighted by the requests timed) and maximum of NormalizedTimeToFirstToken per
    step, from the minutes, hours or days rollups alike."""
    seconds = queries.STEPS[step]
    groups: dict[tuple[datetime, int], list[int]] = defaultdict(list)
    for r in seeded.requests:
        if r.ttft_ms is not None:
            groups[(_floor(r.minute, seconds), r.deployment_id)].append(r.ttft_ms)
    assert groups
    points = queries.timeseries(engine, seeded.start, seeded.end, step=step)
    got = {(p.ts, p.deployment_id): p for p in points if p.ttft_avg_ms is not None}
    assert set(got) == set(groups)
    for key, values in groups.items():
        assert got[key].ttft_avg_ms == pytest.approx(sum(values) / len(values)), key
        assert got[key].ttft_max_ms == max(values), key


def test_summary_has_the_seed_s_cache_tokens_hit_rate_savings_and_ttft(
    engine: Engine, seeded: Seed
) -> None:
    since, until = seeded.start + timedelta(minutes=17), seeded.end - timedelta(minutes=29)
    truth = seeded.expected(since, until)
    rows = queries.summary(engine, since, until)
    assert any(r.cache_read_tokens and r.ttft_avg_ms for r in rows)
    for row in rows:
        want = truth[row.deployment_id]
        assert (row.cache_read_tokens, row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (
            want.cache_read_tokens,
            want.cache_write_5m_tokens,
            want.cache_write_1h_tokens,
        ), row.deployment
        if want.cache_hit_rate is None:
            assert row.cache_hit_rate is None
        else:
            assert row.cache_hit_rate == pytest.approx(want.cache_hit_rate)
        assert row.cache_savings == want.cache_savings, row.deployment
        if want.ttft_avg_ms is None:
            assert row.ttft_avg_ms is None
        else:
            assert row.ttft_avg_ms == pytest.approx(want.ttft_avg_ms)
        assert row.claude


def test_the_context_labels_of_the_store_are_listed(engine: Engine) -> None:
    assert queries.context_label_values(engine) == sorted([seeding.BASE_LABEL, seeding.LONG_LABEL])


def test_timeseries_filters_by_deployment(engine: Engine, seeded: Seed) -> None:
    haiku = seeded.deployment_ids["claude-haiku-4-5"]
    by_id = queries.timeseries(engine, seeded.start, seeded.end, step="1h", deployment_ids=[haiku])
    by_model = queries.timeseries(
        engine, seeded.start, seeded.end, step="1h", model="claude-haiku-4-5"
    )
    assert by_id == by_model and {p.deployment_id for p in by_id} == {haiku}
    assert all(p.deployment == "claude-haiku-4-5" for p in by_id)
    assert queries.timeseries(engine, seeded.start, seeded.end, step="1h", deployment_ids=[]) == []


def _truth_percentiles(requests: list[SimRequest]) -> tuple[float, ...]:
    hist = histogram.histogram_of(r.duration_ms for r in requests)
    return tuple(histogram.percentile(hist, q) for q in Q)


@pytest.mark.parametrize("step", ["5m", "15m", "1h"])
def test_latency_percentiles_over_time_per_deployment(
    engine: Engine, seeded: Seed, step: str
) -> None:
    seconds = queries.STEPS[step]
    groups: dict[tuple[datetime, int], list[SimRequest]] = defaultdict(list)
    for r in seeded.requests:
        if 200 <= r.status < 300:
            groups[(_floor(r.minute, seconds), r.deployment_id)].append(r)
    points = queries.latency_percentiles_over_time(engine, seeded.start, seeded.end, step=step)
    got = {(p.ts, p.deployment_id): (p.p50_ms, p.p95_ms, p.p99_ms) for p in points}
    assert got == {key: _truth_percentiles(rs) for key, rs in groups.items()}
    assert {(p.ts, p.deployment_id): p.requests for p in points} == {
        key: len(rs) for key, rs in groups.items()
    }


def test_latency_percentiles_over_time_merged_over_deployments(
    engine: Engine, seeded: Seed
) -> None:
    groups: dict[datetime, list[SimRequest]] = defaultdict(list)
    for r in seeded.requests:
        if 200 <= r.status < 300:
            groups[_floor(r.minute, 3600)].append(r)
    points = queries.latency_percentiles_over_time(
        engine, seeded.start, seeded.end, step="1h", per_deployment=False
    )
    assert all(p.deployment_id is None for p in points)
    assert {p.ts: (p.p50_ms, p.p95_ms, p.p99_ms) for p in points} == {
        ts: _truth_percentiles(rs) for ts, rs in groups.items()
    }


def test_sql_percentiles_equal_the_histogram_module_on_random_histograms(store: Engine) -> None:
    """Edge cases included: q * n an exact integer (n = 20, 100, 200), one request, bucket 0."""
    rng = random.Random(7)
    start = datetime(2026, 11, 5, tzinfo=UTC)
    with store.begin() as conn:
        upsert(
            conn,
            "resource",
            [
                {
                    "id": "r",
                    "subscription_id": "s",
                    "resource_group": "g",
                    "name": "r",
                    "kind": "AIServices",
                    "location": "eastus2",
                    "first_seen": start,
                    "last_seen": start,
                }
            ],
        )
        upsert(conn, "deployment", [{"resource_id": "r", "name": "d", "model": "m"}])
        dep_id = conn.execute(select(queries._DEPLOYMENT.c.id)).scalar_one()
        hists: dict[datetime, dict[int, int]] = {}
        sizes = [1, 2, 20, 100, 200, 7, 13, 1000] + [rng.randint(1, 400) for _ in range(40)]
        rows = []
        for i, size in enumerate(sizes):
            ts = start + timedelta(minutes=i)
            durations = [rng.choice([0, 1, rng.randint(1, 100_000)]) for _ in range(size)]
            hists[ts] = histogram.histogram_of(durations)
            rows += [
                {"ts": ts, "deployment_id": dep_id, "status_class": "2xx", "bucket": b, "count": n}
                for b, n in hists[ts].items()
            ]
        upsert(conn, "latency_hist", rows)
        rollup.refresh(conn, start, start + timedelta(hours=1))  # as the collector does
    points = queries.latency_percentiles_over_time(
        store, start, start + timedelta(hours=1), step="1m"
    )
    assert {p.ts: (p.p50_ms, p.p95_ms, p.p99_ms) for p in points} == {
        ts: tuple(histogram.percentile(h, q) for q in Q) for ts, h in hists.items()
    }
    merged = histogram.merge(hists.values())
    row = queries.summary(store, start, start + timedelta(hours=1))[0]
    assert (row.p50_ms, row.p95_ms, row.p99_ms) == tuple(histogram.percentile(merged, q) for q in Q)


# Look-up ----------------------------------------------------------------------------------------
def _busy_failure(seeded: Seed) -> SimRequest:
    """A logged failure whose minute has other failures and a 429 on its deployment."""
    for r in seeded.logged():
        if r.status >= 400:
            minute = seeded.in_minute(r.deployment_id, r.minute)
            failures = [x for x in minute if x.status >= 400]
            if len(failures) >= 3 and any(x.status == 429 for x in minute):
                return r
    raise AssertionError("the seed has no busy minute")


@pytest.mark.parametrize("shape", ["{}", "{}", " {} ", '"{}"', "'{}'", "\t'{}'\n"])
@pytest.mark.parametrize("upper", [False, True])
def test_lookup_by_apim_request_id_in_any_case_with_quotes(
    engine: Engine, seeded: Seed, shape: str, upper: bool
) -> None:
    target = _busy_failure(seeded)
    raw = shape.format(target.correlation_id.upper() if upper else target.correlation_id)
    found = queries.lookup(engine, raw)
    assert found.matched_by == "apim-request-id"
    assert found.request.apim_request_id == target.correlation_id
    assert found.request.time == target.ts
    assert found.request.status == target.status
    assert found.request.duration_ms == target.duration_ms
    assert found.fix == queries.status_fix(target.status)
    names = {v: k for k, v in seeded.deployment_ids.items()}
    assert found.deployment == names[target.deployment_id]
    assert found.resource in seeding.REGIONS
    assert found.model is not None


def test_lookup_gives_the_deployments_minute(engine: Engine, seeded: Seed) -> None:
    target = _busy_failure(seeded)
    context = queries.lookup(engine, target.correlation_id).context
    minute = seeded.in_minute(target.deployment_id, target.minute)
    assert context.minute == target.minute
    assert context.requests == len(minute)
    assert context.status_429 == sum(r.status == 429 for r in minute)
    assert context.ttlb_avg_ms == pytest.approx(
        seeded.ttlb_average.get((target.deployment_id, target.minute))
    )
    others = sorted(
        (r for r in minute if r.logged and r.status >= 300 and r is not target),
        key=lambda r: (r.ts, r.correlation_id),
    )
    assert [x.apim_request_id for x in context.other_failures] == [r.correlation_id for r in others]
    assert len(others) >= 2


def test_lookup_by_anthropic_request_id(engine: Engine, seeded: Seed) -> None:
    target = next(r for r in seeded.logged() if r.client_request_id)
    assert target.client_request_id is not None
    found = queries.lookup(engine, f" {target.client_request_id} ")
    assert found.matched_by == "request-id"
    assert found.request.apim_request_id == target.correlation_id
    assert found.request.request_id == target.client_request_id


def test_a_fast_successful_request_is_not_in_the_store(engine: Engine, seeded: Seed) -> None:
    target = next(r for r in seeded.requests if not r.logged)
    with pytest.raises(RequestNotFound) as err:
        queries.lookup(engine, target.correlation_id.upper())
    assert str(err.value) == queries.not_found_message(
        queries.RequestId("apim-request-id", target.correlation_id)
    )
    assert err.value.exit_code == 1


def test_an_unknown_request_id_explains_what_azure_indexes(engine: Engine, seeded: Seed) -> None:
    with pytest.raises(RequestNotFound) as err:
        queries.lookup(engine, "req_011CSHoEeqs5C35K2UUqR7Fy")
    message = str(err.value)
    assert "Azure's request logs index the apim-request-id" in message
    assert "Ask the caller for the apim-request-id response header" in message
    assert "give the request-id to Anthropic support" in message


@pytest.mark.parametrize(
    "raw",
    [
        "' OR 1=1 --",
        "0f8fad5b-d9cb-469f-a165-70867728950e' OR '1'='1",
        "req_1; DROP TABLE request_log",
        '0f8fad5b-d9cb-469f-a165-70867728950e" | take 100',
        "x" * 10_000,
        "0f8fad5b-d9cb-469f-a165-70867728950e\x00",
    ],
)
def test_hostile_ids_are_rejected_before_any_query(engine: Engine, seeded: Seed, raw: str) -> None:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with pytest.raises(InvalidRequestId):
            queries.lookup(engine, raw)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []
    assert queries.summary(engine, seeded.start, seeded.end)  # the store is intact


# Collector state --------------------------------------------------------------------------------
def test_freshness_per_source(engine: Engine, seeded: Seed) -> None:
    now = seeded.end + timedelta(minutes=2)
    by_source = {f.source: f for f in queries.freshness(engine, now)}
    assert set(by_source) == {"logs", "metrics"}
    metrics = by_source["metrics"]
    assert metrics.last_success_at == seeded.end - timedelta(minutes=5) + timedelta(seconds=7)
    assert metrics.last_success_age == timedelta(minutes=7) - timedelta(seconds=7)
    assert metrics.scopes == 2
    assert metrics.watermark_oldest == seeded.end - timedelta(minutes=30)
    assert metrics.watermark_newest == seeded.end - timedelta(minutes=3)
    assert metrics.data_age == timedelta(minutes=32)
    logs = by_source["logs"]
    assert logs.last_run_status == "error"
    assert logs.last_success_at == seeded.end - timedelta(minutes=15) + timedelta(seconds=7)


def test_freshness_of_an_empty_store_is_empty(store: Engine) -> None:
    assert queries.freshness(store, datetime.now(UTC)) == []
    assert queries.collector_health(store) == []


def test_collector_health_is_the_last_run_per_source_and_scope(
    engine: Engine, seeded: Seed
) -> None:
    runs = queries.collector_health(engine)
    assert [(r.source, r.scope, r.status) for r in runs] == [
        ("logs", "workspace-1", "error"),
        ("metrics", seeding.SUBSCRIPTION, "ok"),
    ]
    logs, metrics = runs
    assert (logs.rows, logs.azure_calls, logs.throttled_calls) == (0, 4, 2)
    assert logs.error == "Log Analytics answered 504 GatewayTimeout"
    assert (metrics.rows, metrics.throttled_calls, metrics.error) == (870, 1, None)
    assert metrics.started_at == seeded.end - timedelta(minutes=5)


def test_latest_runs_break_ties_by_id_and_last_success_ignores_failures(store: Engine) -> None:
    t0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    rows = []
    for i in range(500):  # many runs per scope, as months of a running collector leave
        for scope in ("sub-a", "sub-b"):
            started = t0 + timedelta(minutes=i)
            rows.append(
                {"source": "metrics", "scope": scope, "started_at": started,
                 "finished_at": started + timedelta(seconds=5), "status": "ok", "rows": i}
            )  # fmt: skip
    last = t0 + timedelta(minutes=499)
    # two runs started in the same instant: the one written last is the latest
    rows.append(
        {"source": "metrics", "scope": "sub-b", "started_at": last, "finished_at": None,
         "status": "error", "error": "Azure Monitor answered 503", "rows": 0}
    )  # fmt: skip
    rows.append(
        {"source": "costs", "scope": "billing", "started_at": t0, "finished_at": t0,
         "status": "error", "rows": 0}
    )  # fmt: skip
    keys = {k for r in rows for k in r}
    with store.begin() as conn:
        for row in rows:  # one at a time: ids in the order written
            conn.execute(TABLES["collection_run"].insert(), [dict.fromkeys(keys) | row])
    runs = queries.collector_health(store)
    assert [(r.source, r.scope, r.status, r.rows) for r in runs] == [
        ("costs", "billing", "error", 0),
        ("metrics", "sub-a", "ok", 499),
        ("metrics", "sub-b", "error", 0),
    ]
    by_source = {f.source: f for f in queries.freshness(store, last + timedelta(minutes=1))}
    assert by_source["metrics"].last_run_status == "error"
    assert by_source["metrics"].last_success_at == last + timedelta(seconds=5)
    assert by_source["costs"].last_success_at is None
    assert by_source["costs"].last_run_at == t0


def test_deployments_lists_the_inventory(engine: Engine, seeded: Seed) -> None:
    listed = queries.deployments(engine)
    assert [(d.resource, d.deployment, d.model) for d in listed] == [
        ("contoso-eastus2", "claude-opus-4-5", "claude-opus-4-5"),
        ("contoso-eastus2", "support-bot", "claude-sonnet-4-5"),
        ("contoso-swedencentral", "claude-haiku-4-5", "claude-haiku-4-5"),
        ("contoso-swedencentral", "claude-opus-4-1", "claude-opus-4-1"),
    ]
    assert "old-bot" in {d.deployment for d in queries.deployments(engine, include_removed=True)}


def test_a_read_that_runs_too_long_is_stopped_with_a_clear_error(store: Engine) -> None:
    from sqlalchemy import text

    slow = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n"
    )
    with pytest.raises(StoreError, match=r"took longer than 0\.2 s and was stopped"):  # noqa: SIM117
        with queries._reading(store, limit_s=0.2) as conn:
            conn.execute(slow)
    # the pooled connection is usable again, without the limit
    with queries._reading(store) as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
