"""The daily prune bounds the alert history: episodes that ended before the rollup horizon go
with their messages, silences that ended go; open episodes and everything recent stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from collector.store import alerts as rows
from collector.store.retention import prune

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=500)
RECENT = NOW - timedelta(days=3)


def _episode(rule: str, started: datetime, ended: datetime | None) -> dict[str, Any]:
    return {
        "rule": rule,
        "scope": "res/dep",
        "started_at": started,
        "signal": "rate_429",
        "severity": "warning",
        "fired_at": started,
        "ended_at": ended,
        "peak": 0.5,
        "last_value": 0.1,
        "updated_at": ended or started,
    }


def _note(rule: str, started: datetime) -> dict[str, object]:
    return {
        "rule": rule,
        "scope": "res/dep",
        "started_at": started,
        "kind": "fired",
        "seq": 0,
        "target": "log",
    }


def test_prune_removes_ended_alert_history_past_the_horizon_and_keeps_the_rest(
    store: Engine,
) -> None:
    episodes = [
        _episode("ended_long_ago", OLD, OLD + timedelta(hours=1)),
        _episode("still_open", OLD, None),  # a year-long episode is still news
        _episode("ended_recently", RECENT, RECENT + timedelta(hours=1)),
    ]
    with store.begin() as conn:
        rows.save_episodes(conn, episodes)
        for e in episodes:
            assert rows.claim_notification(conn, _note(str(e["rule"]), e["started_at"]), OLD)
        rows.add_silence(conn, rows.Silence("*", "*", OLD, OLD + timedelta(days=1), OLD, "old"))
        rows.add_silence(
            conn, rows.Silence("*", "*", RECENT, NOW + timedelta(days=1), RECENT, None)
        )

    result = prune(store, retention_days=30, rollup_days=400, now=NOW)

    with store.connect() as conn:
        kept = {e.rule for e in rows.episodes(conn)}
        noted = {n.rule for n in rows.notifications(conn)}
        silenced = [s.comment for s in rows.silences(conn)]
    assert kept == {"still_open", "ended_recently"}
    assert noted == {"still_open", "ended_recently"}
    assert silenced == [None]
    assert result.deleted["alert_episode"] == 1
    assert result.deleted["alert_notification"] == 1
    assert result.deleted["alert_silence"] == 1
