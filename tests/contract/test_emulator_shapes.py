"""Shape parity: Azure's example payloads and the emulator's answers go through the same SDK
models and populate the same fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.cognitiveservices.models import Account, Deployment, UsageListResult
from azure.mgmt.costmanagement.models import QueryResult
from azure.monitor.query import LogsQueryResult
from azure.monitor.querymetrics import MetricsQueryResult

from collector import kql
from collector.emulator import Workload, WorkloadConfig
from collector.emulator.arm_api import ArmApi
from collector.emulator.catalog import SUBSCRIPTION
from collector.emulator.costs_api import CostsApi
from collector.emulator.logs_api import LogsApi
from collector.emulator.metrics_api import MetricsApi
from tests.emulated import MONTH_COST_BY_RESOURCE

# Azure's example payloads, copied from the public REST API specifications (each file's "x-source"
# names its path, API version and licence; fixtures/README.md lists them).
EXAMPLES = Path(__file__).resolve().parent / "fixtures"
END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
NOW = END + timedelta(days=3)


def _example(name: str) -> dict[str, Any]:
    example = json.loads((EXAMPLES / name).read_text())
    assert example["x-source"]["repository"] == "https://github.com/Azure/azure-rest-api-specs"
    return example["responses"]["200"]["body"]


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload(WorkloadConfig(seed=2, days=0.1, end=END))


def _metrics_shape(result: MetricsQueryResult) -> dict[str, Any]:
    metric = result.metrics[0]
    series = metric.timeseries[0]
    return {
        "timespan": bool(result.timespan),
        "granularity": result.granularity is not None,
        "namespace": result.namespace == result.namespace.lower(),
        "region": bool(result.resource_region),
        "metric": (bool(metric.id), bool(metric.name), bool(metric.unit), metric.type),
        "id_suffix": metric.id.endswith(f"/providers/Microsoft.Insights/metrics/{metric.name}"),
        "dims_lower": all(k == k.lower() for k in series.metadata_values)
        and bool(series.metadata_values),
        "timestamps": all(p.timestamp is not None for p in series.data),
        "empty_points": any(
            p.average is None and p.total is None for s in metric.timeseries for p in s.data
        ),
    }


@pytest.mark.parametrize("metric", ["TimeToLastByte", "NormalizedTimeToFirstToken"])
def test_metrics_batch_answers_parse_like_azures_example(workload: Workload, metric: str) -> None:
    example = MetricsQueryResult._from_generated(
        _example("metrics-MetricBatchExample.json")["values"][0]
    )
    account = workload.resources[0]
    answer = MetricsApi(workload).query_batch(
        account.location,
        SUBSCRIPTION,
        {
            "metricnamespace": "Microsoft.CognitiveServices/accounts",
            "metricnames": metric,
            "starttime": "2025-11-20T10:00:00.000Z",
            "endtime": "2025-11-20T12:30:00.000Z",
            "interval": "PT15M",
            "aggregation": "average,minimum,maximum",
            "filter": "ModelDeploymentName eq '*' and StreamType eq '*'",
        },
        {"resourceids": [account.id]},
        NOW,
    )
    ours = MetricsQueryResult._from_generated(answer["values"][0])
    assert _metrics_shape(ours) == _metrics_shape(example)


def test_log_analytics_answers_parse_like_azures_example(workload: Workload) -> None:
    example = LogsQueryResult._from_generated(_example("logs-la-post-example.json"))
    answer = LogsApi(workload, workload.catalog.workspace_id).query(
        workload.catalog.workspace_id,
        {"query": kql.request_rows_query(1, all_rows=True), "timespan": "PT1H"},
        NOW - timedelta(days=3) + timedelta(minutes=10),
    )
    ours = LogsQueryResult._from_generated(answer)
    for result in (example, ours):
        (table,) = result.tables
        assert table.name == "PrimaryResult"
        assert len(table.columns) == len(table.columns_types) == len(table.rows[0])
        assert "datetime" in table.columns_types
        assert isinstance(table.rows[0][table.columns.index("TimeGenerated")], datetime)


def test_cost_answers_parse_like_azures_example(workload: Workload) -> None:
    example = QueryResult(_example("cost-SubscriptionQueryGrouping.json"))
    answer = CostsApi(workload, page_size=1).query(
        f"/subscriptions/{SUBSCRIPTION}",
        {
            "type": "ActualCost",
            "timeframe": "Custom",
            "timePeriod": {"from": "2025-11-19T00:00:00Z", "to": "2025-11-20T23:59:59Z"},
            "dataset": {
                "granularity": "None",
                "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
                "grouping": [{"type": "Dimension", "name": "ResourceGroup"}],
            },
        },
        {"api-version": "2025-03-01"},
        NOW,
        "https://127.0.0.1:1",
    )
    ours = QueryResult(answer)
    for result in (example, ours):
        assert [(c.name, c.type) for c in result.columns] == [
            ("PreTaxCost", "Number"),
            ("ResourceGroup", "String"),
            ("Currency", "String"),
        ]
        assert isinstance(result.rows[0][0], float) and result.rows[0][2] == "USD"
        assert "/providers/Microsoft.CostManagement/" in result.id.replace("Query", "query")
    assert ours.next_link is None or "$skiptoken=" in ours.next_link


def test_daily_cost_rows_carry_usage_date_as_a_number(workload: Workload) -> None:
    answer = CostsApi(workload).query(
        f"/subscriptions/{SUBSCRIPTION}",
        MONTH_COST_BY_RESOURCE,
        {},
        NOW,
        "https://127.0.0.1:1",
    )
    result = QueryResult(answer)
    assert [c.name for c in result.columns] == ["Cost", "UsageDate", "ResourceId", "Currency"]
    assert all(isinstance(r[1], int) and 20251101 <= r[1] <= 20251130 for r in result.rows)
    assert all(r[2] == r[2].lower() for r in result.rows)


def test_deployments_parse_like_azures_example(workload: Workload) -> None:
    example = Deployment.deserialize(_example("arm-ListDeployments.json")["value"][0])
    account = workload.resources[0]
    answer = ArmApi(workload).list_deployments(
        SUBSCRIPTION, account.resource_group, account.name, {}, "https://127.0.0.1:1", NOW
    )
    ours = Deployment.deserialize(answer["value"][0])
    for dep in (example, ours):
        assert dep.id.endswith(f"/deployments/{dep.name}")
        assert dep.type == "Microsoft.CognitiveServices/accounts/deployments"
        assert dep.sku.name and dep.sku.capacity
        assert dep.properties.model.format and dep.properties.model.name
        assert dep.properties.model.version and dep.properties.provisioning_state == "Succeeded"
    assert ours.properties.model.format == "Anthropic"


def _usage_shape(usage: Any) -> tuple[bool, ...]:
    return (
        bool(usage.name.value),
        bool(usage.name.localized_value),
        isinstance(usage.current_value, float),
        isinstance(usage.limit, float),
        usage.unit == "Count",
    )


def test_usages_parse_like_azures_example(workload: Workload) -> None:
    example = UsageListResult.deserialize(_example("arm-ListUsages.json"))
    answer = UsageListResult.deserialize(ArmApi(workload).list_usages(SUBSCRIPTION, "eastus2", NOW))
    assert {_usage_shape(u) for u in example.value} == {_usage_shape(u) for u in answer.value}
    names = [u.name.value for u in answer.value]
    assert names[0] == example.value[0].name.value == "AccountCount"
    # Global pools everywhere, the US data zone's pool in eastus2, not the EU one's
    assert "AIServices.GlobalStandard.claude-sonnet-4-5" in names
    assert "AIServices.DataZoneStandard.claude-haiku-4-5" in names
    eu = UsageListResult.deserialize(
        ArmApi(workload).list_usages(SUBSCRIPTION, "Sweden Central", NOW)
    )
    haiku = {u.name.value: u.current_value for u in eu.value if "claude-haiku" in u.name.value}
    us = {u.name.value: u.current_value for u in answer.value if "claude-haiku" in u.name.value}
    assert haiku != us  # two Data Zone pools: each location reports its own zone's allocation


def test_accounts_deserialise_with_kind_location_and_endpoint(workload: Workload) -> None:
    answer = ArmApi(workload).list_accounts(SUBSCRIPTION, {}, "https://127.0.0.1:1")
    accounts = [Account.deserialize(item) for item in answer["value"]]
    assert {a.kind for a in accounts} == {"AIServices", "OpenAI"}
    for account in accounts:
        assert account.location and account.properties.endpoint.startswith("https://")
