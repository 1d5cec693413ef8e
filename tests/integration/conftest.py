"""The emulator and a collector wired to it, for end-to-end tests on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from collector.azure import AzureClients, CallCounter
from collector.config import Settings
from collector.emulator import EmulatorServer, StaticTokenCredential, WorkloadConfig
from collector.emulator.truth import build_truth
from collector.runner import Collector

END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)  # a Thursday: peak hours, 429 bursts
SEED = 5
HOURS = 6
SETTLED = END + timedelta(days=3)  # the emulator's clock: every metric, log and cost is final
COLLECTOR_NOW = END + timedelta(minutes=30)  # the collector's clock: its windows end here
BACKFILL_DAYS = 0.3  # 7.2 hours: the whole six-hour workload


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        WorkloadConfig(seed=SEED, days=HOURS / 24, end=END), now=SETTLED, cost_page_size=3
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _reset_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulator" in request.fixturenames:
        server: EmulatorServer = request.getfixturevalue("emulator")
        server.set_faults(None)
        server.set_now(SETTLED)
        server.logs.max_rows = 500_000


@pytest.fixture(scope="session")
def truth(emulator: EmulatorServer) -> dict[str, Any]:
    return build_truth(emulator.workload)


def emulator_settings(emulator: EmulatorServer, db_url: str, **overrides: Any) -> Settings:
    env = {k.removeprefix("FOUNDRY_MONITOR_").lower(): v for k, v in emulator.env.items()}
    return Settings(**{**env, "database_url": db_url, **overrides})


@pytest.fixture
def make_collector(
    emulator: EmulatorServer, store: Engine, db_url: str
) -> Callable[..., Collector]:
    """A collector on the emulator, with fast retries and the emulator's clock."""

    def build(**overrides: Any) -> Collector:
        settings = emulator_settings(emulator, db_url, **overrides)
        credential = StaticTokenCredential(emulator.token)

        def clients(counter: CallCounter) -> AzureClients:
            return AzureClients(settings, credential, counter, retry_backoff_factor=0.01)

        return Collector(settings, store, clients, now=lambda: COLLECTOR_NOW)

    return build
