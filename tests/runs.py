"""Collection runs written straight to ``collection_run`` with chosen times: what the
stale-source alert and ``queries.last_successes`` read."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from collector.store import state

#: the error a failed run records unless told otherwise
ERROR = "Azure answered 500: boom"


def record_run(
    engine: Engine,
    scope: str,
    started_at: datetime,
    status: str,
    *,
    source: str = "metrics",
    took: timedelta = timedelta(seconds=20),
    window: timedelta | None = timedelta(minutes=5),
    error: str = ERROR,
) -> None:
    """One run of ``source`` over ``scope`` that started at ``started_at`` and took ``took``,
    over the ``window`` before its start (None: no window); a run not ``ok`` carries ``error``."""
    with engine.begin() as conn:
        state.record_run(
            conn,
            source=source,
            scope=scope,
            window_start=None if window is None else started_at - window,
            window_end=None if window is None else started_at,
            started_at=started_at,
            finished_at=started_at + took,
            status=status,
            rows=0,
            azure_calls=3,
            throttled_calls=0,
            duration_s=took.total_seconds(),
            error=None if status == "ok" else error,
        )
