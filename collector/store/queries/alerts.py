"""Reads the alert signals need that no page does: 2xx latency histograms per minute (a p95 over
a sliding window merges them), the collector's runs with each scope's last success before a
window, the newest stored minutes (how far evaluation may go), and the alert tables' views for
``alerts status`` and the dashboard (:mod:`collector.store.alerts` holds the rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from collector.store import alerts as alert_rows
from collector.store.alerts import Silence, StoredEpisode, StoredState
from collector.store.queries._sql import (
    _HIST,
    _METRIC,
    _RUN,
    REQUESTS,
    RUN_SUCCEEDED,
    _check_window,
    _reading,
)
from collector.store.types import to_utc


@dataclass(frozen=True, slots=True)
class HistMinute:
    """Successful requests of one deployment in one minute and latency bucket."""

    ts: datetime
    deployment_id: int
    bucket: int
    count: int


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One collector run of a source and scope (``finished_at`` None: still running)."""

    source: str
    scope: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool


def latency_minutes(engine: Engine, since: datetime, until: datetime) -> list[HistMinute]:
    """``latency_hist`` rows of 2xx requests over ``[since, until)``, per minute."""
    since, until = _check_window(since, until)
    h = _HIST
    stmt = (
        select(h.c.ts, h.c.deployment_id, h.c.bucket, h.c["count"])
        .where(h.c.ts >= since, h.c.ts < until, h.c.status_class == "2xx")
        .order_by(h.c.ts)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    return [HistMinute(to_utc(r.ts), int(r.deployment_id), int(r.bucket), int(r[3])) for r in rows]


def run_events(engine: Engine, since: datetime, until: datetime) -> list[RunEvent]:
    """Every run started in ``[since, until)``, plus each (source, scope)'s last successful run
    before ``since`` (so the age of its data is known from the window's first minute)."""
    since, until = _check_window(since, until)
    r = _RUN
    inside = select(r.c.source, r.c.scope, r.c.started_at, r.c.finished_at, r.c.status).where(
        r.c.started_at >= since, r.c.started_at < until
    )
    before = (
        select(r.c.source, r.c.scope, func.max(r.c.finished_at).label("finished_at"))
        .where(r.c.status == RUN_SUCCEEDED, r.c.finished_at < since)
        .group_by(r.c.source, r.c.scope)
    )
    with _reading(engine) as conn:
        rows = conn.execute(inside).all()
        last_ok = conn.execute(before).all()
    events = [
        RunEvent(x.source, x.scope, to_utc(x.finished_at), to_utc(x.finished_at), True)
        for x in last_ok
        if x.finished_at is not None
    ]
    events += [
        RunEvent(
            x.source,
            x.scope,
            to_utc(x.started_at),
            to_utc(x.finished_at) if x.finished_at is not None else None,
            x.status == RUN_SUCCEEDED,
        )
        for x in rows
    ]
    return sorted(events, key=lambda e: (e.started_at, e.source, e.scope))


def newest_minutes(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """The newest minute with a ``ModelRequests`` point and the newest with a request-log
    histogram row: how far metrics and logs have arrived."""
    with _reading(engine) as conn:
        metrics = conn.execute(
            select(func.max(_METRIC.c.ts)).where(_METRIC.c.metric == REQUESTS)
        ).scalar()
        logs = conn.execute(select(func.max(_HIST.c.ts))).scalar()
    return (
        to_utc(metrics) if metrics is not None else None,
        to_utc(logs) if logs is not None else None,
    )


def alert_states(engine: Engine) -> list[StoredState]:
    """Every rule's state per scope, by rule then scope (``alerts status``, the dashboard)."""
    with _reading(engine) as conn:
        found = alert_rows.states(conn)
    return [found[k] for k in sorted(found)]


def alert_episodes(
    engine: Engine, since: datetime, until: datetime, *, rule: str | None = None
) -> list[StoredEpisode]:
    """Episodes overlapping ``[since, until)`` (open ones included), oldest first."""
    since, until = _check_window(since, until)
    with _reading(engine) as conn:
        return alert_rows.episodes(conn, since=since, until=until, rule=rule)


def alert_silences(engine: Engine, *, active_at: datetime | None = None) -> list[Silence]:
    """Silences (only those in force at ``active_at`` when given)."""
    with _reading(engine) as conn:
        return alert_rows.silences(conn, active_at=active_at)
