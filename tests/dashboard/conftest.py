"""A seeded store for the dashboard's AppTests: the one seeded data builder, placed in the last
few hours so that the dashboard's "last 24 hours" covers it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine, select

from collector.store import migrate
from collector.store.schema import TABLES
from collector.store.writer import upsert
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
    _add_pool_and_change(engine, built)
    try:
        yield SeededStore(url=url, engine=engine, seed=built)
    finally:
        engine.dispose()


POOL_TWIN = "support-bot-eu"


def _add_pool_and_change(engine: Engine, built: seeding.Seed) -> None:
    """Beyond the shared seed: a second claude-sonnet-4-5 deployment in the same subscription,
    throttled in exactly the minutes support-bot is (one quota pool), and a capacity change."""
    support = built.deployment_ids["support-bot"]
    minutes = sorted(
        {r.minute for r in built.requests if r.deployment_id == support and r.status == 429}
    )
    with engine.begin() as conn:
        upsert(
            conn,
            "deployment",
            [
                {
                    "resource_id": seeding.resource_id("contoso-swedencentral"),
                    "name": POOL_TWIN,
                    "model": "claude-sonnet-4-5",
                    "model_version": "1",
                    "sku": "GlobalStandard",
                    "capacity": 50,
                    "first_seen": built.start - timedelta(days=2),
                    "last_seen": built.end,
                }
            ],
        )
        d = TABLES["deployment"]
        twin = conn.execute(select(d.c.id).where(d.c.name == POOL_TWIN)).scalar_one()
        upsert(
            conn,
            "metric_minute",
            [
                {
                    "ts": m,
                    "deployment_id": twin,
                    "metric": "ModelRequests",
                    "status_code": code,
                    "total": n,
                    "count": n,
                }
                for m in minutes
                for code, n in ((200, 10.0), (429, 3.0))
            ],
        )
        upsert(
            conn,
            "deployment_change",
            [
                {
                    "deployment_id": support,
                    "changed_at": built.start + timedelta(minutes=60),
                    "field": "capacity",
                    "old_value": "100",
                    "new_value": "200",
                }
            ],
        )


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
