"""Same seed and end: byte-identical truth and answers; another seed: other data."""

from __future__ import annotations

import json
import ssl
import urllib.request
from datetime import timedelta

from collector import kql
from collector.emulator import EmulatorServer, Workload, WorkloadConfig
from collector.emulator.catalog import SUBSCRIPTION
from collector.emulator.truth import truth_json
from tests.emulated import MONTH_COST_BY_RESOURCE
from tests.emulator.conftest import END

SMALL = {"days": 2 / 24, "end": END}


def _post(server: EmulatorServer, path: str, body: dict) -> bytes:
    context = ssl.create_default_context(cafile=str(server.ca_cert_path))
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, context=context) as answer:
        return answer.read()


def _answers(seed: int) -> list[bytes]:
    with EmulatorServer(WorkloadConfig(seed=seed, **SMALL), now=END + timedelta(days=3)) as server:
        account = server.workload.resources[0]
        start = (END - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        metrics = _post(
            server,
            f"/metrics/{account.location}/subscriptions/{SUBSCRIPTION}/metrics:getBatch"
            "?api-version=2024-02-01&metricnamespace=Microsoft.CognitiveServices/accounts"
            f"&metricnames=ModelRequests,InputTokens&starttime={start}"
            f"&endtime={END.strftime('%Y-%m-%dT%H:%M:%SZ')}&interval=PT1M"
            "&aggregation=total,average&filter=ModelDeploymentName%20eq%20'*'",
            {"resourceids": [account.id]},
        )
        workspace = server.env["FOUNDRY_MONITOR_WORKSPACE_ID"]
        logs = [
            _post(
                server,
                f"/logs/v1/workspaces/{workspace}/query",
                {"query": query, "timespan": f"{start}/{END.isoformat()}"},
            )
            for query in (kql.request_rows_query(20_000), kql.latency_histogram_query())
        ]
        costs = _post(
            server,
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.CostManagement/query"
            "?api-version=2025-03-01",
            MONTH_COST_BY_RESOURCE,
        )
        return [metrics, *logs, costs]


def test_same_seed_and_end_give_byte_identical_truth() -> None:
    first = truth_json(Workload(WorkloadConfig(seed=5, **SMALL)))
    second = truth_json(Workload(WorkloadConfig(seed=5, **SMALL)))
    assert first == second
    assert first != truth_json(Workload(WorkloadConfig(seed=6, **SMALL)))


def test_same_seed_and_end_give_byte_identical_answers() -> None:
    first, second, other = _answers(5), _answers(5), _answers(6)
    assert first == second
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_an_hour_is_the_same_whatever_window_is_served() -> None:
    short = Workload(WorkloadConfig(seed=5, days=1 / 24, end=END))
    long = Workload(WorkloadConfig(seed=5, days=3, end=END))
    hour = END.timestamp() * 1000 - 3_600_000
    a = short.requests(int(hour), int(END.timestamp() * 1000))
    b = long.requests(int(hour), int(END.timestamp() * 1000))
    assert (a.ts_ms == b.ts_ms).all() and (a.status == b.status).all()
    assert (a.apim_id == b.apim_id).all()
