"""A seeded store for the dashboard's AppTests: the one seeded data builder, placed in the last
few hours so that the dashboard's "last 24 hours" covers it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine

from collector.store import migrate
from tests import seed as seeding

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@dataclass(frozen=True)
class SeededStore:
    url: str
    engine: Engine
    seed: seeding.Seed


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'seeded.db'}"
    engine = migrate.prepare(url)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    built = seeding.build(engine, start=start, minutes=150)
    try:
        yield SeededStore(url=url, engine=engine, seed=built)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """AppTests share the process's Streamlit caches: start each test without cached figures."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def use_store(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name in ("FOUNDRY_MONITOR_CONFIG", "FOUNDRY_MONITOR_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FOUNDRY_MONITOR_DATABASE_URL", url)
