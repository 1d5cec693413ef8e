"""A session-wide emulator (six hours of the default workload) and real SDK clients on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.costmanagement import CostManagementClient
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient

from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.emulator.catalog import SUBSCRIPTION
from collector.emulator.truth import build_truth
from tests import emulated
from tests.emulated import END, HOURS

SEED = 11
START = END - timedelta(hours=HOURS)
FAST_RETRY: dict[str, Any] = {"retry_backoff_factor": 0.01, "retry_total": 4}
NAMESPACE = "Microsoft.CognitiveServices/accounts"
#: One answered series: (resource id, metric name as answered, dimensions, points).
Series = tuple[str, str, dict[str, str], list[Any]]
MetricSeries = Callable[..., list[Series]]


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with emulated.running(SEED, cost_page_size=2, arm_page_size=2) as server:
        yield server


@pytest.fixture(scope="session")
def truth(emulator: EmulatorServer) -> dict[str, Any]:
    return build_truth(emulator.workload)


@pytest.fixture(scope="session")
def credential(emulator: EmulatorServer) -> StaticTokenCredential:
    return StaticTokenCredential(emulator.token)


@pytest.fixture(scope="session")
def arm_client(emulator: EmulatorServer, credential: StaticTokenCredential):
    return CognitiveServicesManagementClient(
        credential,
        SUBSCRIPTION,
        base_url=emulator.base_url,
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=str(emulator.ca_cert_path),
        **FAST_RETRY,
    )


@pytest.fixture(scope="session")
def cost_client(emulator: EmulatorServer, credential: StaticTokenCredential):
    return CostManagementClient(
        credential,
        base_url=emulator.base_url,
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=str(emulator.ca_cert_path),
        **FAST_RETRY,
    )


@pytest.fixture(scope="session")
def logs_client(emulator: EmulatorServer, credential: StaticTokenCredential) -> LogsQueryClient:
    return LogsQueryClient(
        credential,
        endpoint=emulator.logs_endpoint,
        audience="https://api.loganalytics.io",
        connection_verify=str(emulator.ca_cert_path),
        **FAST_RETRY,
    )


@pytest.fixture(scope="session")
def metrics_clients(
    emulator: EmulatorServer, credential: StaticTokenCredential
) -> dict[str, MetricsClient]:
    """One MetricsClient per region, as the collector builds them."""
    return {
        account.location: MetricsClient(
            emulator.metrics_endpoint(account.location),
            credential,
            audience="https://metrics.monitor.azure.com",
            connection_verify=str(emulator.ca_cert_path),
            **FAST_RETRY,
        )
        for account in emulator.workload.resources
    }


@pytest.fixture(scope="session")
def metric_series(
    metrics_clients: dict[str, MetricsClient], emulator: EmulatorServer
) -> MetricSeries:
    """``metric_series(names, filter, aggregations=("Total",), granularity=1 h)``: every series
    of ``names`` over the workload for every resource, each region's resources asked of its own
    region's client (as the collector asks)."""

    def query(
        names: list[str],
        filter: str | None,
        aggregations: Sequence[str] = ("Total",),
        granularity: timedelta = timedelta(hours=1),
    ) -> list[Series]:
        out: list[Series] = []
        for region, client in metrics_clients.items():
            ids = [a.id for a in emulator.workload.resources if a.location == region]
            for result in client.query_resources(
                resource_ids=ids,
                metric_namespace=NAMESPACE,
                metric_names=names,
                timespan=(START, END),
                granularity=granularity,
                aggregations=list(aggregations),
                filter=filter,
                max_results=1000,
            ):
                assert result.resource_region == region
                for metric in result.metrics:
                    resource = metric.id.split("/providers/Microsoft.Insights/metrics/")[0]
                    out.extend(
                        (resource, metric.name, dict(s.metadata_values), s.data)
                        for s in metric.timeseries
                    )
        return out

    return query


@pytest.fixture(scope="session")
def workspace_id(emulator: EmulatorServer) -> str:
    return emulator.env["FOUNDRY_MONITOR_WORKSPACE_ID"]
