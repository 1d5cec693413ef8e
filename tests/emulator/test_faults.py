"""Each fault mode, observed through the real SDK clients."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, IncompleteReadError, ServiceResponseError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult, LogsQueryStatus
from azure.monitor.querymetrics import MetricsClient

from collector import kql
from collector.emulator import EmulatorServer
from collector.emulator.faults import parse_faults
from tests.emulator.conftest import END, START
from tests.emulator.test_sdk_clients import SCOPE, _daily_definition, hourly_requests


def _injected(emulator: EmulatorServer) -> dict[str, int]:
    return emulator.stats["faults_injected"]


def test_metrics_429_with_retry_after_is_retried_then_succeeds(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> None:
    before = emulator.stats["requests"].get("metrics", 0)
    emulator.set_faults("metrics:429=1*1")
    started = time.monotonic()
    (result,) = hourly_requests(metrics_clients, emulator)
    assert time.monotonic() - started >= 0.9  # honoured Retry-After: 1
    assert result.metrics[0].timeseries
    assert emulator.stats["requests"]["metrics"] - before == 2
    assert _injected(emulator)["metrics:429"] >= 1


def test_cost_429_with_only_cost_headers_is_not_retried_by_azure_core(
    cost_client: Any, emulator: EmulatorServer
) -> None:
    before = emulator.stats["requests"].get("costs", 0)
    emulator.set_faults("costs:429-costheaders=3*1")
    with pytest.raises(HttpResponseError) as raised:
        cost_client.query.usage(SCOPE, _daily_definition())
    response = raised.value.response
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.headers["x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"] == "3"
    assert response.headers["x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after"] == "1"
    assert emulator.stats["requests"]["costs"] - before == 1
    assert cost_client.query.usage(SCOPE, _daily_definition()).rows  # the next call succeeds


def test_cost_429_with_retry_after_is_retried(cost_client: Any, emulator: EmulatorServer) -> None:
    emulator.set_faults("costs:429=1")
    assert cost_client.query.usage(SCOPE, _daily_definition()).rows
    assert _injected(emulator)["costs:429"] >= 1


def test_logs_partial_result_surfaces_as_logs_query_partial_result(
    logs_client: LogsQueryClient, workspace_id: str, emulator: EmulatorServer
) -> None:
    query = kql.request_rows_query(30_000)
    full = logs_client.query_workspace(workspace_id, query, timespan=(START, END))
    emulator.set_faults("logs:partial")
    partial = logs_client.query_workspace(workspace_id, query, timespan=(START, END))
    assert isinstance(partial, LogsQueryPartialResult)
    assert partial.status == LogsQueryStatus.PARTIAL
    assert partial.partial_error.code == "PartialError"
    assert 0 < len(partial.partial_data[0].rows) < len(full.tables[0].rows)


def test_the_row_limit_turns_a_big_answer_into_a_partial_result(
    logs_client: LogsQueryClient, workspace_id: str, emulator: EmulatorServer
) -> None:
    emulator.logs.max_rows = 50
    result = logs_client.query_workspace(
        workspace_id, kql.request_rows_query(1, all_rows=True), timespan=(START, END)
    )
    assert isinstance(result, LogsQueryPartialResult)
    assert len(result.partial_data[0].rows) == 50
    (detail,) = result.partial_error.details
    assert "record count limit 50 " in detail["innererror"]["message"]


def test_logs_500_on_post_is_retried_by_azure_core(
    logs_client: LogsQueryClient, workspace_id: str, emulator: EmulatorServer
) -> None:
    emulator.set_faults("logs:500*2")
    result = logs_client.query_workspace(
        workspace_id, kql.diagnostics_check_query(), timespan=(START, END)
    )
    assert result.status == LogsQueryStatus.SUCCESS
    assert _injected(emulator)["logs:500"] == 2


def test_logs_throttling_answers_in_log_analytics_shape(
    emulator: EmulatorServer, credential: Any, workspace_id: str
) -> None:
    client = LogsQueryClient(
        credential,
        endpoint=emulator.logs_endpoint,
        connection_verify=str(emulator.ca_cert_path),
        retry_total=0,
    )
    emulator.set_faults("logs:429")
    with pytest.raises(HttpResponseError) as raised:
        client.query_workspace(workspace_id, kql.diagnostics_check_query(), timespan=None)
    assert raised.value.status_code == 429
    assert raised.value.error.code == "ThrottledError"
    assert raised.value.response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("fault", ["arm:503", "arm:drop"])
def test_a_503_or_a_dropped_get_is_retried_by_azure_core(
    fault: str, arm_client: CognitiveServicesManagementClient, emulator: EmulatorServer
) -> None:
    emulator.set_faults(fault)
    assert len(list(arm_client.accounts.list())) == 3
    assert _injected(emulator)[fault] == 1


def test_slow_answers_are_slow(
    arm_client: CognitiveServicesManagementClient, emulator: EmulatorServer
) -> None:
    emulator.set_faults("any:slow=0.4s")
    started = time.monotonic()
    list(arm_client.accounts.list())
    assert time.monotonic() - started >= 0.4


def test_a_dropped_post_is_not_retried_and_raises(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> None:
    emulator.set_faults("metrics:drop")
    # azure-core retries a POST only on 500/503/504 answers: a broken body surfaces.
    with pytest.raises((ServiceResponseError, IncompleteReadError)):
        hourly_requests(metrics_clients, emulator)
    assert hourly_requests(metrics_clients, emulator)  # the connection pool recovers


def test_faults_can_be_set_and_read_over_https(emulator: EmulatorServer) -> None:
    context = ssl.create_default_context(cafile=str(emulator.ca_cert_path))
    headers = {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}
    request = urllib.request.Request(
        emulator.base_url + "/_emulator/faults",
        data=json.dumps({"spec": "metrics:429*3,costs:500"}).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(request, context=context) as answer:
        stats = json.loads(answer.read())
    assert stats["faults_pending"] == ["metrics:429*3", "costs:500*1"]
    request = urllib.request.Request(emulator.base_url + "/_emulator/stats", headers=headers)
    with urllib.request.urlopen(request, context=context) as answer:
        assert "requests" in json.loads(answer.read())


@pytest.mark.parametrize(
    "spec",
    ["metrics:418", "arm:partial", "metrics:429-costheaders", "db:500", "any:slow", "metrics 429"],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        parse_faults(spec)


def test_fault_spec_grammar() -> None:
    faults = parse_faults("metrics:429*3, costs:429-costheaders=2*2,any:slow=1500ms,logs:partial")
    assert [(f.route, f.kind, f.arg, f.remaining) for f in faults] == [
        ("metrics", "429", None, 3),
        ("costs", "429-costheaders", 2.0, 2),
        ("any", "slow", 1.5, 1),
        ("logs", "partial", None, 1),
    ]
