"""Collector-run reads for the Prometheus endpoint (issue #20): the last success of every source
and scope."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from collector.store.queries._sql import _RUN, RUN_SUCCEEDED, _reading
from collector.store.queries.health import _latest_runs
from collector.store.types import to_utc


def last_successes(engine: Engine) -> dict[tuple[str, str], datetime]:
    """When each (source, scope) last finished a successful run (pairs that never did are
    absent). One index walk for the latest runs, one probe more per pair whose latest failed."""
    r = _RUN
    out: dict[tuple[str, str], datetime] = {}
    with _reading(engine) as conn:
        for x in _latest_runs(conn):
            key = (x["source"], x["scope"])
            finished = x["finished_at"] if x["status"] == RUN_SUCCEEDED else None
            if finished is None:
                finished = conn.execute(
                    select(r.c.finished_at)
                    .where(r.c.source == key[0], r.c.scope == key[1], r.c.status == RUN_SUCCEEDED)
                    .order_by(r.c.started_at.desc())
                    .limit(1)
                ).scalar()
            if finished is not None:
                out[key] = to_utc(finished)
    return out
