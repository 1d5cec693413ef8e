"""Alert replay and signals on the emulator's workload, collected as a user collects it (both DBs):
the 429 bursts are found, the orphaned Claude charge is a cost without traffic, failing runs make
a source stale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from collector.alerts.config import AlertSettings
from collector.alerts.run import evaluate, replay
from collector.config import Settings
from collector.runner import Collector
from collector.store import alerts as alert_rows
from collector.store import queries
from tests.integration.conftest import COLLECTOR_NOW, END, HOURS, collected, settings_with
from tests.runs import record_run

SOURCES = ["inventory", "metrics", "costs", "spend"]
START = END - timedelta(hours=HOURS)


def _alerts(settings: Settings, rules: list[dict[str, object]]) -> AlertSettings:
    return settings_with(settings, alert_rules=rules).alerts


def test_replay_finds_the_429_bursts_and_its_episodes_never_overlap(
    make_collector: Callable[..., Collector], store: Engine
) -> None:
    collector = collected(make_collector, SOURCES)
    rule = {"name": "throttled", "signal": "rate_429", "op": ">", "threshold": 0.10}
    alerts = _alerts(collector.settings, [{**rule, "window_minutes": 5, "scope": "deployment"}])
    found = replay(store, alerts, START, END)
    assert found, "the workload's 429 bursts give episodes"
    by_scope: dict[str, list[tuple[object, object]]] = {}
    for e in found:
        assert e.rule == "throttled" and e.signal == "rate_429"
        assert e.deployment and e.resource and e.scope == f"{e.resource}/{e.deployment}"
        end = e.end or END
        # Every minute of the episode breached: the 5 minutes to it (what its value covers) have
        # a 429 rate above 10 % in `summary`, and the episode's peak is the highest of them. (The
        # union of the windows may average less: sliding windows overlap.)
        rates = []
        minute = e.start
        while minute < end:
            (row,) = queries.summary(
                store, minute - timedelta(minutes=4), minute + timedelta(minutes=1),
                resource=e.resource, deployment=e.deployment,
            )  # fmt: skip
            assert row.rate_429 is not None and row.rate_429 > 0.10, (e, minute, row)
            rates.append(row.rate_429)
            minute += timedelta(minutes=1)
        assert e.peak == pytest.approx(max(rates))
        by_scope.setdefault(e.scope, []).append((e.start, end))
    for spans in by_scope.values():
        spans.sort()
        for (_, first_end), (second_start, _) in pairwise(spans):
            assert first_end <= second_start  # type: ignore[operator]
    # replay stores nothing
    assert queries.alert_states(store) == []


def test_cost_without_traffic_fires_on_the_orphaned_claude_charge(
    make_collector: Callable[..., Collector], store: Engine
) -> None:
    collector = collected(make_collector, SOURCES)
    alerts = _alerts(
        collector.settings,
        [{"name": "idle-bill", "signal": "cost_without_traffic", "op": ">", "threshold": 0}],
    )
    found = replay(store, alerts, END - timedelta(days=1), COLLECTOR_NOW)
    scopes = {e.scope for e in found}
    # the emulator's rg-sandbox SaaS resource: its account was deleted, its charge accrues
    assert any("rg-sandbox" in s for s in scopes), scopes
    # a resource with traffic never fires
    active = {r.resource for r in queries.summary(store, START, END) if r.requests > 0}
    assert not scopes & active


def test_stale_source_fires_while_a_sources_runs_keep_failing_and_resolves_after_success(
    store: Engine,
) -> None:
    t0 = END
    scope = "/subscriptions/sub/eastus2"

    def run(at: datetime, status: str) -> None:
        record_run(store, scope, at, status)

    settings = Settings(
        database_url=str(store.url),
        alert_rules=[
            {"name": "stale", "signal": "stale_source", "op": ">", "threshold": 30,
             "scope": "source:metrics"},
        ],
    )  # fmt: skip
    alerts = settings.alerts
    run(t0, "ok")
    first = evaluate(store, alerts, clock=lambda: t0 + timedelta(minutes=5))
    assert first.states["stale"] == {"ok": 1}
    for minutes in (10, 20, 30, 40, 50):
        run(t0 + timedelta(minutes=minutes), "error")
    failing = evaluate(store, alerts, clock=lambda: t0 + timedelta(minutes=55))
    assert failing.states["stale"] == {"firing": 1}
    with store.connect() as conn:
        (episode,) = alert_rows.episodes(conn)
    assert episode.scope == f"metrics:{scope}" and episode.ended_at is None
    # the minute ending at t0 + 31 is 30 min 40 s after the last good run (t0 + 20 s)
    assert episode.started_at == t0 + timedelta(minutes=30)
    run(t0 + timedelta(minutes=60), "ok")
    healed = evaluate(store, alerts, clock=lambda: t0 + timedelta(minutes=65))
    assert healed.states["stale"] == {"resolved": 1}
    with store.connect() as conn:
        (episode,) = alert_rows.episodes(conn)
    assert episode.ended_at == t0 + timedelta(minutes=60)
