"""Alert delivery is once per episode and target: across evaluations, a restart (a new process),
and two processes evaluating at the same moment on Postgres, with a loopback webhook receiver.
The signal is ``stale_source`` over ``collection_run`` rows written with chosen times, so the
evaluation clock can be pinned."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from collector.alerts.run import evaluate
from collector.config import Settings
from collector.store import alerts as alert_rows
from collector.store.engine import make_engine
from tests.ports import QuietHandler, serving
from tests.runs import record_run

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SCOPE = "/subscriptions/00000000-0000-4000-8000-000000000001/eastus2"
RULES = [
    {
        "name": "stale",
        "signal": "stale_source",
        "op": ">",
        "threshold": 30,
        "scope": "source:metrics",
        "notify": ["webhook"],
        "severity": "critical",
    }
]


@dataclass
class Receiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statuses(self) -> list[tuple[str, str]]:
        return [(r["status"], r["alerts"][0]["labels"]["scope"]) for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with got.lock:
                got.received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as base:
        got.url = f"{base}/hook/s3cret"
        yield got


def _settings(url: str, webhook: str) -> Settings:
    return Settings(
        database_url=url, alert_rules=RULES, alert_webhook_url=webhook, report_retries=1
    )


def _run(store: Engine, at: datetime, status: str) -> None:
    record_run(store, SCOPE, at, status)


def _evaluate_in_child(url: str, webhook: str, at: str, barrier: Any, out: Any) -> None:
    """One evaluation in a process of its own (a restart, a replica), started with the other."""
    engine = make_engine(url)
    try:
        alerts = _settings(url, webhook).alerts
        if barrier is not None:
            barrier.wait(timeout=60)
        report = evaluate(
            engine, alerts, clock=lambda: datetime.fromisoformat(at), sleep=lambda _: None
        )
        out.put((len(report.sent), report.lost_races))
    finally:
        engine.dispose()


def _in_processes(url: str, webhook: str, at: datetime, count: int) -> list[tuple[int, int]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count) if count > 1 else None
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_evaluate_in_child, args=(url, webhook, at.isoformat(), barrier, out))
        for _ in range(count)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def test_an_episode_is_sent_once_and_resolved_once_across_evaluations_and_a_restart(
    store: Engine, db_url: str, receiver: Receiver
) -> None:
    alerts = _settings(db_url, receiver.url).alerts
    _run(store, T0, "ok")
    for minutes in (10, 20, 30, 40):
        _run(store, T0 + timedelta(minutes=minutes), "error")
    evaluate(store, alerts, clock=lambda: T0 + timedelta(minutes=45), sleep=lambda _: None)
    assert receiver.statuses() == [("firing", f"metrics:{SCOPE}")]
    evaluate(store, alerts, clock=lambda: T0 + timedelta(minutes=46), sleep=lambda _: None)
    _in_processes(db_url, receiver.url, T0 + timedelta(minutes=47), 1)  # a restart
    assert len(receiver.received) == 1
    _run(store, T0 + timedelta(minutes=48), "ok")
    evaluate(store, alerts, clock=lambda: T0 + timedelta(minutes=52), sleep=lambda _: None)
    _in_processes(db_url, receiver.url, T0 + timedelta(minutes=53), 1)
    evaluate(store, alerts, clock=lambda: T0 + timedelta(minutes=54), sleep=lambda _: None)
    assert receiver.statuses() == [
        ("firing", f"metrics:{SCOPE}"),
        ("resolved", f"metrics:{SCOPE}"),
    ]
    firing, resolved = receiver.received
    assert firing["version"] == "4" and firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert firing["alerts"][0]["labels"]["severity"] == "critical"
    assert firing["alerts"][0]["annotations"]["error"] == "Azure answered 500: boom"
    assert resolved["alerts"][0]["endsAt"] == "2026-11-20T12:48:00Z"
    assert firing["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    with store.connect() as conn:
        notes = alert_rows.notifications(conn)
    assert [(n.kind, n.status, n.target) for n in notes] == [
        ("firing", "sent", "webhook"),
        ("resolved", "sent", "webhook"),
    ]


@pytest.mark.postgres
def test_two_processes_evaluating_at_once_on_postgres_send_each_message_once(
    pg_server: Any, receiver: Receiver
) -> None:
    url = pg_server.create_database("alerts_two_processes")
    engine = make_engine(url)
    from collector.store import migrate

    migrate.upgrade(engine)
    try:
        _run(engine, T0, "ok")
        for minutes in (10, 20, 30, 40):
            _run(engine, T0 + timedelta(minutes=minutes), "error")
        first = _in_processes(url, receiver.url, T0 + timedelta(minutes=45), 2)
        assert sorted(sent for sent, _ in first) == [0, 1]
        again = _in_processes(url, receiver.url, T0 + timedelta(minutes=46), 2)
        assert [sent for sent, _ in again] == [0, 0]
        _run(engine, T0 + timedelta(minutes=48), "ok")
        resolved = _in_processes(url, receiver.url, T0 + timedelta(minutes=52), 2)
        assert sorted(sent for sent, _ in resolved) == [0, 1]
        assert [status for status, _ in receiver.statuses()] == ["firing", "resolved"]
    finally:
        engine.dispose()


def test_a_failed_message_is_retried_by_the_next_evaluation_and_then_sent_once(
    store: Engine, db_url: str, receiver: Receiver
) -> None:
    good = receiver.url
    broken = good.replace("/hook/", "/nothing/").rsplit(":", 1)[0] + ":9/hook/s3cret"
    _run(store, T0, "ok")
    _run(store, T0 + timedelta(minutes=40), "error")
    at = T0 + timedelta(minutes=45)
    down = evaluate(store, _settings(db_url, broken).alerts, clock=lambda: at, sleep=lambda _: None)
    assert down.failed and not receiver.received
    up = _settings(db_url, good).alerts
    evaluate(store, up, clock=lambda: at + timedelta(minutes=1), sleep=lambda _: None)
    evaluate(store, up, clock=lambda: at + timedelta(minutes=2), sleep=lambda _: None)
    assert receiver.statuses() == [("firing", f"metrics:{SCOPE}")]


def test_a_silenced_episode_is_announced_when_the_silence_ends_and_repeats_after_the_interval(
    store: Engine, db_url: str, receiver: Receiver
) -> None:
    settings = Settings(
        database_url=db_url,
        alert_rules=[{**RULES[0], "repeat_minutes": 60}],
        alert_webhook_url=receiver.url,
        report_retries=1,
    )
    alerts = settings.alerts
    _run(store, T0, "ok")
    _run(store, T0 + timedelta(minutes=40), "error")
    with store.begin() as conn:
        alert_rows.add_silence(
            conn,
            alert_rows.Silence(
                "stale", f"metrics:{SCOPE}", T0, T0 + timedelta(minutes=50), T0, "maintenance"
            ),
        )

    def at(minutes: int) -> None:
        evaluate(store, alerts, clock=lambda: T0 + timedelta(minutes=minutes), sleep=lambda _: None)

    at(45)
    assert receiver.received == []  # silenced: the state is kept, nothing sent
    with store.connect() as conn:
        assert [s.status for s in alert_rows.states(conn).values()] == ["firing"]
    at(50)  # the silence has ended, the episode is still open
    at(51)
    assert [r["annotations"]["kind"] for r in [m["alerts"][0] for m in receiver.received]] == [
        "firing"
    ]
    at(89)
    assert len(receiver.received) == 1
    at(90)  # it fired at t0 + 30: the first repeat is due an hour later
    at(91)
    kinds = [m["alerts"][0]["annotations"]["kind"] for m in receiver.received]
    assert kinds == ["firing", "repeat"]
    with store.connect() as conn:
        notes = alert_rows.notifications(conn)
    assert [(n.kind, n.seq) for n in notes] == [("firing", 0), ("repeat", 1)]
