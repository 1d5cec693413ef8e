"""A session-wide emulator (six hours of the default workload) and real SDK clients on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.costmanagement import CostManagementClient
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient

from collector.emulator import EmulatorServer, StaticTokenCredential, WorkloadConfig
from collector.emulator.catalog import SUBSCRIPTION
from collector.emulator.truth import build_truth

END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)  # a Thursday: peak hours, 429 bursts
SEED = 11
HOURS = 6
START = END - timedelta(hours=HOURS)
SETTLED = END + timedelta(days=3)  # every metric, log row and cost is final by then
FAST_RETRY: dict[str, Any] = {"retry_backoff_factor": 0.01, "retry_total": 4}


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        WorkloadConfig(seed=SEED, days=HOURS / 24, end=END),
        now=SETTLED,
        cost_page_size=2,
        arm_page_size=2,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clean_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with no pending fault, the settled clock and documented metric names."""
    yield
    if "emulator" in request.fixturenames:
        server: EmulatorServer = request.getfixturevalue("emulator")
        server.set_faults(None)
        server.set_now(SETTLED)
        server.logs.max_rows = 500_000
        server.set_metric_name_case(None)


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
def workspace_id(emulator: EmulatorServer) -> str:
    return emulator.env["FOUNDRY_MONITOR_WORKSPACE_ID"]
