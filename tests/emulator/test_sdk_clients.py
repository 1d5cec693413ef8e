"""The four real Azure SDK clients against the emulator: sums equal the ground truth exactly."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.costmanagement.models import (
    QueryAggregation,
    QueryDataset,
    QueryDefinition,
    QueryGrouping,
    QueryTimePeriod,
)
from azure.monitor.query import LogsQueryClient, LogsQueryStatus
from azure.monitor.querymetrics import MetricsClient

from collector import kql
from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.emulator.catalog import SUBSCRIPTION
from collector.histogram import bucket_bounds, bucket_of, percentile
from collector.sources import logs
from tests.emulator.conftest import END, NAMESPACE, START, MetricSeries

SCOPE = f"/subscriptions/{SUBSCRIPTION}"


def _metric_totals(
    metric_series: MetricSeries,
    names: list[str],
    filter: str,
    granularity: timedelta = timedelta(hours=1),
) -> dict[tuple[str, str, tuple], float]:
    """(resource id, metric, metadata) -> total over the whole window, for every region."""
    totals: dict[tuple[str, str, tuple], float] = defaultdict(float)
    for resource, name, dims, data in metric_series(names, filter, granularity=granularity):
        totals[(resource, name, tuple(sorted(dims.items())))] += sum(p.total or 0 for p in data)
    return totals


def _truth_day(truth: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for dep in truth["deployments"]:
        (day,) = dep["days"]
        out[(dep["resource"], dep["deployment"])] = day
    return out


def test_arm_lists_accounts_and_every_deployment_across_pages(
    arm_client: CognitiveServicesManagementClient, emulator: EmulatorServer, truth: dict
) -> None:
    accounts = list(arm_client.accounts.list())
    assert [(a.name, a.kind) for a in accounts] == [
        ("contoso-ai-eus2", "AIServices"),
        ("contoso-ai-swc", "AIServices"),
        ("contoso-openai", "OpenAI"),
    ]
    listed = set()
    for account in accounts:
        if account.kind != "AIServices":
            continue
        assert account.properties.endpoint == f"https://{account.name}.services.ai.azure.com/"
        rg = account.id.split("/")[4]
        for dep in arm_client.deployments.list(rg, account.name):
            listed.add(
                (account.id, dep.name, dep.properties.model.name, dep.properties.model.format)
            )
    assert emulator.stats["requests"]["arm"] >= 5  # page size 2: nextLink followed
    assert listed == {
        (d["resource"], d["deployment"], d["model"], d["model_format"])
        for d in truth["deployments"]
    }
    formats = {(d[2], d[3]) for d in listed}
    assert ("gpt-4o-mini", "OpenAI") in formats and ("claude-opus-4-5", "Anthropic") in formats


def test_arm_shows_the_capacity_change_after_it_happened(
    arm_client: CognitiveServicesManagementClient, emulator: EmulatorServer, truth: dict
) -> None:
    (change,) = truth["deployment_changes"]
    rg, account = change["resource"].split("/")[4], change["resource"].split("/")[-1]

    def capacity() -> int:
        deps = {d.name: d for d in arm_client.deployments.list(rg, account)}
        return deps[change["deployment"]].sku.capacity

    assert capacity() == change["capacity_after"]
    emulator.set_now(START)
    assert capacity() == change["capacity_before"]


def test_metrics_requests_by_status_equal_the_truth(
    metric_series: MetricSeries, truth: dict
) -> None:
    totals = _metric_totals(
        metric_series,
        ["ModelRequests"],
        "ModelDeploymentName eq '*' and StatusCode eq '*'",
    )
    got: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for (resource, _metric, meta), total in totals.items():
        dims = dict(meta)
        got[(resource, dims["modeldeploymentname"])][dims["statuscode"]] = int(total)
    expected = {k: v["requests_by_status"] for k, v in _truth_day(truth).items()}
    assert dict(got) == expected
    assert any("429" in statuses for statuses in expected.values())


def test_metrics_at_one_minute_sum_to_the_same_totals(
    metric_series: MetricSeries, truth: dict
) -> None:
    totals = _metric_totals(
        metric_series,
        ["ModelRequests"],
        "ModelDeploymentName eq '*'",
        timedelta(minutes=1),
    )
    expected = {k: v["requests"] for k, v in _truth_day(truth).items()}
    got = {(r, dict(meta)["modeldeploymentname"]): int(t) for (r, _m, meta), t in totals.items()}
    assert got == expected


def test_metrics_tokens_equal_the_truth(metric_series: MetricSeries, truth: dict) -> None:
    totals = _metric_totals(
        metric_series,
        ["InputTokens", "OutputTokens", "TotalTokens"],
        "ModelDeploymentName eq '*'",
    )
    for (resource, deployment), day in _truth_day(truth).items():
        key = (("modeldeploymentname", deployment),)
        assert totals[(resource, "InputTokens", key)] == day["input_tokens"]
        assert totals[(resource, "OutputTokens", key)] == day["output_tokens"]
        assert totals[(resource, "TotalTokens", key)] == day["input_tokens"] + day["output_tokens"]


def hourly_requests(
    clients: dict[str, MetricsClient], emulator: EmulatorServer, **options: Any
) -> Any:
    """ModelRequests of the first resource per hour over the workload (``options``: the query's
    other arguments, e.g. a filter)."""
    account = emulator.workload.resources[0]
    return clients[account.location].query_resources(
        resource_ids=[account.id],
        metric_namespace=NAMESPACE,
        metric_names=["ModelRequests"],
        timespan=(START, END),
        granularity=timedelta(hours=1),
        aggregations=["Total"],
        **options,
    )


def test_metrics_top_defaults_to_ten_series_when_a_filter_is_given(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> None:
    (result,) = hourly_requests(
        metrics_clients, emulator, filter="ModelDeploymentName eq '*' and StatusCode eq '*'"
    )
    series = result.metrics[0].timeseries
    assert len(series) == 10
    totals = [sum(p.total for p in s.data) for s in series]
    assert totals == sorted(totals, reverse=True)


def test_metrics_points_without_data_are_zero_for_totals_and_empty_for_latency(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> None:
    account = emulator.workload.resources[0]
    (result,) = metrics_clients[account.location].query_resources(
        resource_ids=[account.id],
        metric_namespace=NAMESPACE,
        metric_names=["ModelRequests", "TimeToLastByte"],
        timespan=(END, END + timedelta(minutes=5)),
        granularity=timedelta(minutes=1),
        aggregations=["Total", "Average"],
    )
    requests, latency = result.metrics
    assert [(p.total, p.average) for p in requests.timeseries[0].data] == [(0, None)] * 5
    assert [(p.total, p.average) for p in latency.timeseries[0].data] == [(None, None)] * 5
    assert requests.timeseries[0].metadata_values == {}


def test_metrics_minutes_appear_one_to_three_minutes_late(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> None:
    account = emulator.workload.resources[0]
    now = START + timedelta(hours=3)
    emulator.set_now(now)
    (result,) = metrics_clients[account.location].query_resources(
        resource_ids=[account.id],
        metric_namespace=NAMESPACE,
        metric_names=["ModelRequests"],
        timespan=(now - timedelta(minutes=6), now),
        granularity=timedelta(minutes=1),
        aggregations=["Total"],
    )
    points = [p.total for p in result.metrics[0].timeseries[0].data]
    assert len(points) == 6
    assert all(t > 0 for t in points[:2])  # ended >= 4 minutes ago: visible
    assert points[-1] == 0  # the minute that just ended: not yet


@pytest.mark.parametrize(
    ("change", "code_or_text"),
    [
        ({"metric_names": ["InputTokens"], "filter": "StatusCode eq '*'"}, "does not support"),
        ({"metric_names": ["InputTokens"], "filter": "ContextLength eq '*'"}, "does not support"),
        (
            {"metric_names": ["TimeToLastByte"], "filter": "ContextLength eq '<=200K'"},
            "does not support",
        ),
        (
            {"metric_names": ["cacheReadInputTokens"], "filter": "StreamType eq '*'"},
            "does not support",
        ),
        ({"metric_names": ["NoSuchMetric"]}, "Failed to find metric"),
        ({"region": "swedencentral"}, "in region 'eastus2'"),
        ({"many": True}, "exceeds the limit of 50"),
    ],
)
def test_metrics_rejects_what_azure_rejects(
    emulator: EmulatorServer,
    credential: StaticTokenCredential,
    change: dict[str, Any],
    code_or_text: str,
) -> None:
    account = emulator.workload.resources[0]
    client = MetricsClient(
        emulator.metrics_endpoint(change.get("region", account.location)),
        credential,
        connection_verify=str(emulator.ca_cert_path),
    )
    ids = [account.id] * (51 if change.get("many") else 1)
    with pytest.raises(HttpResponseError) as raised:
        client.query_resources(
            resource_ids=ids,
            metric_namespace=NAMESPACE,
            metric_names=change.get("metric_names", ["ModelRequests"]),
            timespan=(START, END),
            filter=change.get("filter"),
        )
    assert raised.value.status_code == 400
    assert code_or_text in str(raised.value)


def _cost_rows(cost_client: Any, definition: QueryDefinition) -> tuple[list[str], list[list]]:
    """Every row of a Cost Management query, following nextLink with the same body."""
    result = cost_client.query.usage(SCOPE, definition)
    columns = [c.name for c in result.columns]
    rows = list(result.rows)
    while result.next_link:
        token = parse_qs(urlsplit(result.next_link).query)["$skiptoken"][0]
        result = cost_client.query.usage(SCOPE, definition, params={"$skiptoken": token})
        rows.extend(result.rows)
    return columns, rows


#: what the collector groups the daily costs by
DAILY_GROUPS = ("ResourceId", "Meter", "PublisherType", "ChargeType")


def _daily_definition(
    days: int = 3, groups: Sequence[str] = DAILY_GROUPS, *, quantity: bool = False
) -> QueryDefinition:
    """Actual cost per day and ``groups`` from ``days`` before the workload to its end, with the
    usage quantity summed too when ``quantity``."""
    aggregation = {"totalCost": QueryAggregation(name="Cost", function="Sum")}
    if quantity:
        aggregation["totalQuantity"] = QueryAggregation(name="UsageQuantity", function="Sum")
    return QueryDefinition(
        type="ActualCost",
        timeframe="Custom",
        time_period=QueryTimePeriod(from_property=START - timedelta(days=days), to=END),
        dataset=QueryDataset(
            granularity="Daily",
            aggregation=aggregation,
            grouping=[QueryGrouping(type="Dimension", name=name) for name in groups],
        ),
    )


def test_costs_billed_per_resource_day_equal_the_truth_across_pages(
    cost_client: Any, emulator: EmulatorServer, truth: dict
) -> None:
    columns, rows = _cost_rows(cost_client, _daily_definition())
    assert columns == [
        "Cost",
        "UsageDate",
        "ResourceId",
        "Meter",
        "PublisherType",
        "ChargeType",
        "Currency",
    ]
    assert emulator.stats["requests"]["costs"] >= 2  # page size 2: at least one nextLink
    billed: dict[tuple[str, str], float] = {}
    for r in rows:
        if r[4] == "Marketplace" and r[5] == "Usage":
            key = (r[2], str(r[1]))
            billed[key] = round(billed.get(key, 0) + r[0], 2)
    expected: dict[tuple[str, str], float] = {}
    charges = [(c, b["day"]) for b in truth["billed"] for c in b["charges"]] + [
        (c, c["day"]) for c in truth["billed_unattributed"]
    ]
    for charge, day in charges:  # booked on SaaS resources, not on the accounts
        key = (charge["resource_id"].lower(), day.replace("-", ""))
        expected[key] = round(expected.get(key, 0) + charge["cost"], 2)
    assert billed == expected
    assert all("/microsoft.saas/resources/" in resource for resource, _ in billed)
    assert any(r[4] == "Azure" for r in rows)  # the non-Claude meter the collector must skip


def test_costs_appear_a_day_late_and_are_revised_once(
    cost_client: Any, emulator: EmulatorServer, truth: dict
) -> None:
    first = truth["billed"][0]["charges"][0]
    day = END.replace(hour=0, minute=0)

    def billed_at(now: Any) -> dict[tuple[str, str], float]:
        emulator.set_now(now)
        _cols, rows = _cost_rows(cost_client, _daily_definition())
        return {(r[2], r[3]): r[0] for r in rows if r[4] == "Marketplace"}

    key = (first["resource_id"].lower(), first["meter"])
    assert billed_at(day + timedelta(days=1, hours=5)) == {}
    preliminary = billed_at(day + timedelta(days=1, hours=7))
    assert preliminary[key] == first["preliminary_cost"]
    assert first["preliminary_cost"] < first["cost"]
    final = billed_at(day + timedelta(days=2, hours=7))
    assert final[key] == first["cost"]


def test_cost_answers_carry_the_throttling_headers(
    cost_client: Any,
) -> None:
    seen: dict[str, str] = {}

    def hook(response: Any) -> None:
        seen.update(response.http_response.headers)

    cost_client.query.usage(SCOPE, _daily_definition(), raw_response_hook=hook)
    assert "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining" in seen
    assert "x-ms-ratelimit-microsoft.costmanagement-entity-remaining" in seen
    assert "x-ms-ratelimit-microsoft.costmanagement-tenant-remaining" in seen


def test_request_rows_are_exactly_the_failed_and_slow_requests(
    logs_client: LogsQueryClient, workspace_id: str, truth: dict, emulator: EmulatorServer
) -> None:
    slow_ms = 60_000
    result = logs_client.query_workspace(
        workspace_id, kql.request_rows_query(slow_ms), timespan=(START, END)
    )
    assert result.status == LogsQueryStatus.SUCCESS
    table = result.tables[0]
    assert tuple(table.columns) == kql.REQUEST_ROW_COLUMNS
    failed = Counter()
    slow_ok = 0
    for row in table.rows:
        status = row[kql.COL_STATUS]
        if status.startswith("2"):
            props = logs.parse_properties(row[kql.COL_PROPERTIES])
            assert logs.duration_ms(row[kql.COL_DURATION_MS], props) >= slow_ms
            slow_ok += 1
        else:
            failed[(row[kql.COL_RESOURCE_ID].lower(), row[kql.COL_DEPLOYMENT], status)] += 1
    expected = Counter()
    for (resource, deployment), day in _truth_day(truth).items():
        for status, n in day["requests_by_status"].items():
            if not status.startswith("2"):
                expected[(resource.lower(), deployment, status)] = n
    assert failed == expected
    assert slow_ok > 0
    ids = {row[kql.COL_CORRELATION_ID] for row in table.rows}
    assert {f["apim_request_id"] for f in truth["failed_requests"]} <= ids


def test_histogram_counts_and_percentiles_agree_with_the_truth(
    logs_client: LogsQueryClient, workspace_id: str, truth: dict
) -> None:
    result = logs_client.query_workspace(
        workspace_id, kql.latency_histogram_query(), timespan=(START, END)
    )
    counts: Counter = Counter()
    hist: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for row in result.tables[0].rows:
        key = (row[kql.COL_RESOURCE_ID], row[kql.COL_DEPLOYMENT])
        counts[(*key, row[kql.COL_STATUS_CLASS])] += row[kql.COL_REQUEST_COUNT]
        if row[kql.COL_STATUS_CLASS] == "2xx":
            hist[key][row[kql.COL_BUCKET]] += row[kql.COL_REQUEST_COUNT]
    expected: Counter = Counter()
    for (resource, deployment), day in _truth_day(truth).items():
        for status, n in day["requests_by_status"].items():
            expected[(resource.lower(), deployment, status[0] + "xx")] += n
        buckets = hist[(resource.lower(), deployment)]
        for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            upper = percentile(buckets, q)
            lower, upper_of_truth = bucket_bounds(bucket_of(day[name]))
            assert upper == upper_of_truth
            assert lower <= day[name] < upper
    assert counts == expected


def test_lookup_finds_a_failed_request_by_its_apim_request_id(
    logs_client: LogsQueryClient, workspace_id: str, truth: dict
) -> None:
    wanted = truth["failed_requests"][len(truth["failed_requests"]) // 2]
    result = logs_client.query_workspace(
        workspace_id,
        kql.lookup_query(wanted["apim_request_id"].upper()),
        timespan=(START, END),
    )
    (row,) = result.tables[0].rows
    assert row[kql.COL_CORRELATION_ID] == wanted["apim_request_id"]
    assert row[kql.COL_STATUS] == str(wanted["status"])
    assert row[kql.COL_DEPLOYMENT] == wanted["deployment"]
    props = logs.parse_properties(row[kql.COL_PROPERTIES])
    assert logs.duration_ms(row[kql.COL_DURATION_MS], props) == wanted["duration_ms"]


def test_log_rows_arrive_two_to_five_minutes_late(
    logs_client: LogsQueryClient, workspace_id: str, emulator: EmulatorServer
) -> None:
    now = START + timedelta(hours=2)
    emulator.set_now(now)
    result = logs_client.query_workspace(
        workspace_id,
        kql.request_rows_query(1, all_rows=True),
        timespan=(now - timedelta(minutes=10), now),
    )
    times = [row[kql.COL_TIME] for row in result.tables[0].rows]
    assert times and max(times) <= now - timedelta(minutes=2)
    assert min(times) < now - timedelta(minutes=5)


def test_diagnostics_check_counts_rows_per_resource(
    logs_client: LogsQueryClient, workspace_id: str, truth: dict
) -> None:
    result = logs_client.query_workspace(workspace_id, kql.diagnostics_check_query(), timespan=None)
    got = {row[kql.COL_RESOURCE_ID]: row[kql.COL_ROW_COUNT] for row in result.tables[0].rows}
    expected: Counter = Counter()
    for (resource, _dep), day in _truth_day(truth).items():
        expected[resource.lower()] += day["requests"]
    assert got == dict(expected)


def test_unknown_kql_raises_with_log_analytics_error_code(
    logs_client: LogsQueryClient, workspace_id: str
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        logs_client.query_workspace(workspace_id, "AzureDiagnostics | take 10", timespan=None)
    assert raised.value.status_code == 400
    assert raised.value.error.code == "BadArgumentError"


def test_a_wrong_bearer_token_gets_401_from_every_service(emulator: EmulatorServer) -> None:
    wrong = StaticTokenCredential("not-the-token")
    ca = str(emulator.ca_cert_path)
    arm = CognitiveServicesManagementClient(
        wrong,
        SUBSCRIPTION,
        base_url=emulator.base_url,
        credential_scopes=["x/.default"],
        connection_verify=ca,
    )
    with pytest.raises(ClientAuthenticationError) as raised:
        list(arm.accounts.list())
    assert raised.value.status_code == 401
    assert raised.value.error.code == "InvalidAuthenticationToken"
    logs = LogsQueryClient(wrong, endpoint=emulator.logs_endpoint, connection_verify=ca)
    with pytest.raises(HttpResponseError) as raised_logs:
        logs.query_workspace(
            emulator.env["FOUNDRY_MONITOR_WORKSPACE_ID"],
            kql.diagnostics_check_query(),
            timespan=None,
        )
    assert raised_logs.value.status_code == 401
    assert raised_logs.value.error.code == "InvalidTokenError"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.CognitiveServices/accounts",
            "AuthenticationFailed",
        ),
        ("/logs/v1/workspaces/x/query", "AuthorizationRequiredError"),
    ],
)
def test_a_missing_bearer_token_gets_401(emulator: EmulatorServer, path: str, code: str) -> None:
    context = ssl.create_default_context(cafile=str(emulator.ca_cert_path))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(emulator.base_url + path, context=context)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["error"]["code"] == code
