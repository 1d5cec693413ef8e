"""``queries.last_successes`` on both databases: the last successful run per source and scope,
also when a later run of the pair failed; a pair that never succeeded is absent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from collector.store import queries
from tests.runs import record_run

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _run(engine: Engine, source: str, scope: str, minute: int, status: str) -> None:
    started = T0 + timedelta(minutes=minute)
    record_run(
        engine, scope, started, status, source=source, took=timedelta(seconds=30), window=None
    )


def test_last_success_per_source_and_scope(store: Engine) -> None:
    _run(store, "metrics", "sub-a", 0, "ok")
    _run(store, "metrics", "sub-a", 1, "ok")
    _run(store, "metrics", "sub-a", 2, "error")  # the latest failed: the success before counts
    _run(store, "metrics", "sub-b", 0, "ok")
    _run(store, "logs", "ws", 0, "error")  # never succeeded: absent
    got = queries.last_successes(store)
    assert got == {
        ("metrics", "sub-a"): T0 + timedelta(minutes=1, seconds=30),
        ("metrics", "sub-b"): T0 + timedelta(seconds=30),
    }
