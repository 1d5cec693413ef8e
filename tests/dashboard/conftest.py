"""A seeded store for the dashboard's AppTests: the one seeded data builder, placed in the last
few hours so that the dashboard's "last 24 hours" covers it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
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
    built = seeding.build(engine, start=start, minutes=150, other_publisher=True)
    _add_pool_and_change(engine, built)
    _add_reconciliation_and_unpriced(engine, built)
    try:
        yield SeededStore(url=url, engine=engine, seed=built)
    finally:
        engine.dispose()


POOL_TWIN = seeding.POOL_TWIN


def _add_pool_and_change(engine: Engine, built: seeding.Seed) -> None:
    """Beyond the shared seed: a second claude-sonnet-4-5 deployment in the same subscription,
    throttled in exactly the minutes support-bot is (one quota pool), and a capacity change."""
    support = built.deployment_ids["support-bot"]
    minutes = {r.minute for r in built.requests if r.deployment_id == support and r.status == 429}
    counts = {(m, code): n for m in minutes for code, n in ((200, 10), (429, 3))}
    seeding.add_pool_twin(engine, built, counts, change_at_min=60)


#: Billed on contoso-swedencentral today with no estimate to allocate it to.
UNALLOCATED = Decimal("2.50")
#: Billed under other meters (the seed's OpenAI deployment) on contoso-eastus2 every billed day.
OTHER_BILLED = Decimal("1.75")
DRIFT_THRESHOLD = Decimal("0.15")


def _add_reconciliation_and_unpriced(engine: Engine, built: seeding.Seed) -> None:
    """What the spend step writes beside ``spend_daily``: the reconciliation per resource and day
    (contoso-eastus2 from the seed's spend, plus an unallocated bill on contoso-swedencentral
    today, so Marketplace charges accrue this month), and an unpriced day of the pool twin."""
    eastus2 = seeding.resource_id("contoso-eastus2")
    today = datetime.now(UTC).date()
    per_day: dict[date, list[tuple[Decimal | None, Decimal | None]]] = {}
    for (_, day), pair in sorted(built.spend.items()):
        per_day.setdefault(day, []).append(pair)
    rows = []
    for day, figures in per_day.items():
        estimated = sum((e for e, _ in figures if e is not None), Decimal(0))
        bills = [b for _, b in figures if b is not None]
        billed = sum(bills, Decimal(0)) if len(bills) == len(figures) else None
        variance = billed - estimated if billed is not None else None
        rows.append(
            {
                "day": day,
                "resource_id": eastus2,
                "estimated": estimated,
                "billed": billed,
                "unallocated": Decimal(0) if billed is not None else None,
                "variance": variance,
                "drift_flagged": variance is not None
                and abs(variance) > DRIFT_THRESHOLD * estimated,
                "status": "final" if billed is not None else "provisional",
                "computed_at": built.end,
                "other_billed": OTHER_BILLED if billed is not None else None,
            }
        )
    rows.append(
        {
            "day": today,
            "resource_id": seeding.resource_id("contoso-swedencentral"),
            "estimated": None,
            "billed": UNALLOCATED,
            "unallocated": UNALLOCATED,
            "variance": None,
            "drift_flagged": False,
            "status": "provisional",
            "computed_at": built.end,
            "other_billed": None,
        }
    )
    d = TABLES["deployment"]
    with engine.begin() as conn:
        upsert(conn, "spend_resource_daily", rows)
        twin = conn.execute(select(d.c.id).where(d.c.name == POOL_TWIN)).scalar_one()
        upsert(
            conn,
            "spend_daily",
            [
                {
                    "day": today,
                    "deployment_id": twin,
                    "input_tokens": 1000,
                    "output_tokens": 100,
                    "cache_read_tokens": 0,
                    "cache_write_5m_tokens": 0,
                    "cache_write_1h_tokens": 0,
                    "claude": True,
                    "estimated": None,
                    "billed_allocated": None,
                    "unpriced": True,
                    "status": "provisional",
                    "computed_at": built.end,
                }
            ],
        )


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """AppTests share the process's Streamlit caches: start each test without cached figures."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch, seeded_store: SeededStore) -> SeededStore:
    """The seeded store, as the dashboard's store."""
    use_store(monkeypatch, seeded_store.url)
    return seeded_store


def use_store(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name in (
        "FOUNDRY_MONITOR_CONFIG",
        "FOUNDRY_MONITOR_RETENTION_DAYS",
        "FOUNDRY_MONITOR_BUDGETS",
        "FOUNDRY_MONITOR_SPEND_CREDITS_WARNING",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FOUNDRY_MONITOR_DATABASE_URL", url)


# Alerts ---------------------------------------------------------------------------------------
ALERT_TABLES = ("alert_notification", "alert_episode", "alert_state", "alert_silence")
SILENCE_COMMENT = "deploy in progress"


@dataclass(frozen=True)
class SeededAlerts:
    """What :func:`add_alerts` stored: ``firing`` (the shipped ``throttled`` rule on ``scope``,
    silenced), ``pending`` (``slow`` on ``scope``), a resolved ``errors`` episode more than an
    hour old (shown ok) and a firing state of a rule no longer configured (``retired``)."""

    now: datetime
    scope: str
    fired_at: datetime
    run_start: datetime
    updated_at: datetime
    resolved_start: datetime


def add_alerts(engine: Engine, scope: str) -> SeededAlerts:
    """Alert states, episodes and a silence, as evaluation and ``alerts silence`` store them."""
    from collector.store import alerts as rows

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seeded = SeededAlerts(
        now=now,
        scope=scope,
        fired_at=now - timedelta(minutes=20),
        run_start=now - timedelta(minutes=25),
        updated_at=now - timedelta(minutes=1),
        resolved_start=now - timedelta(hours=3),
    )

    def state(rule: str, signal: str, status: str, **values: object) -> None:
        base = dict.fromkeys(("run_start", "run_peak", "fired_at", "last_end", "last_value"), None)
        body = {"signal": signal, "status": status, "until": now - timedelta(minutes=2)}
        with engine.begin() as conn:
            rows.save_state(
                conn, rule, scope, {**base, **body, "updated_at": seeded.updated_at, **values}, None
            )

    state(
        "throttled",
        "rate_429",
        "firing",
        run_start=seeded.run_start,
        run_peak=0.31,
        fired_at=seeded.fired_at,
        last_value=0.25,
    )
    state("slow", "p95_ms", "pending", run_start=now - timedelta(minutes=3), last_value=61000.0)
    state("errors", "error_rate", "resolved", last_end=now - timedelta(hours=2), last_value=0.0)
    state("retired", "rate_429", "firing", run_start=now, fired_at=now, last_value=1.0)
    episode = {"scope": scope, "last_value": None, "updated_at": now}
    with engine.begin() as conn:
        rows.save_episodes(
            conn,
            [
                episode
                | {
                    "rule": "throttled",
                    "started_at": seeded.run_start,
                    "signal": "rate_429",
                    "severity": "warning",
                    "fired_at": seeded.fired_at,
                    "ended_at": None,
                    "peak": 0.31,
                },
                episode
                | {
                    "rule": "errors",
                    "started_at": seeded.resolved_start,
                    "signal": "error_rate",
                    "severity": "warning",
                    "fired_at": seeded.resolved_start + timedelta(minutes=5),
                    "ended_at": now - timedelta(hours=2),
                    "peak": 0.4,
                },
            ],
        )
        rows.add_silence(
            conn,
            rows.Silence("throttled", scope, now, now + timedelta(hours=2), now, SILENCE_COMMENT),
        )
    return seeded


def remove_alerts(engine: Engine) -> None:
    with engine.begin() as conn:
        for name in ALERT_TABLES:
            conn.execute(TABLES[name].delete())
