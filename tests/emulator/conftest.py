"""A session-wide emulator (six hours of the default workload) and real SDK clients on it."""

from __future__ import annotations

from collections.abc import Iterator
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
def workspace_id(emulator: EmulatorServer) -> str:
    return emulator.env["FOUNDRY_MONITOR_WORKSPACE_ID"]
