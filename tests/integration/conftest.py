"""The emulator and a collector wired to it, for end-to-end tests on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from collector import runner
from collector.azure import AzureClients, CallCounter
from collector.config import Settings
from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.emulator.truth import build_truth
from collector.runner import Collector
from tests import emulated
from tests.emulated import END, HOURS, SETTLED

SEED = 5
COLLECTOR_NOW = END + timedelta(minutes=30)  # the collector's clock: its windows end here
BACKFILL_DAYS = 0.3  # 7.2 hours: the whole six-hour workload
__all__ = ["BACKFILL_DAYS", "COLLECTOR_NOW", "END", "HOURS", "SETTLED", "emulator_settings"]


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with emulated.running(SEED, cost_page_size=3) as server:
        yield server


@pytest.fixture(scope="session")
def truth(emulator: EmulatorServer) -> dict[str, Any]:
    return build_truth(emulator.workload)


def emulator_settings(emulator: EmulatorServer, db_url: str, **overrides: Any) -> Settings:
    env = {k.removeprefix("FOUNDRY_MONITOR_").lower(): v for k, v in emulator.env.items()}
    return Settings(**{**env, "database_url": db_url, **overrides})


def settings_with(base: Settings, **changes: Any) -> Settings:
    """A new, validated Settings: ``base`` with ``changes``."""
    return Settings(**{**base.model_dump(), **changes})


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


def collected(
    make_collector: Callable[..., Collector],
    sources: Iterable[str] = runner.SOURCES,
    backfill_days: float = BACKFILL_DAYS,
) -> Collector:
    """A collector that has run ``sources`` once over the last ``backfill_days``,
    every run succeeding."""
    collector = make_collector()
    reports = collector.run_once(sources, backfill_days=backfill_days)
    assert all(r.status == "ok" for r in reports), [r.error for r in reports]
    return collector
