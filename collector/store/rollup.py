"""Hourly rollups of the per-minute tables, recomputed for the hours a write touched.

``metric_hour`` and ``latency_hist_hour`` hold the per-minute rows summed per UTC hour, so a
30-day view reads 60 times fewer rows. They are derived data: each refresh deletes the touched
hours and inserts them again from the minute tables, in the caller's transaction, which makes it
idempotent and keeps rollups and minutes consistent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, insert, literal_column, select

from collector.store.schema import TABLES

HOUR = timedelta(hours=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def hour_of(column: Any, dialect: str) -> Any:
    """The hour holding ``column``, in the column's own storage format on each database."""
    if dialect == "postgresql":
        return func.date_trunc("hour", column)
    epoch = cast(func.strftime(literal_column("'%s'"), column), Integer)
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff': match it exactly,
    # or range comparisons on the text would be off at the boundaries.
    return func.strftime(
        literal_column("'%Y-%m-%d %H:%M:%S.000000'"),
        epoch - epoch % 3600,
        literal_column("'unixepoch'"),
    )


def refresh(
    conn: Connection, start: datetime, end: datetime, *, metrics: bool = True, hist: bool = True
) -> None:
    """Recompute the rollups for every hour overlapping ``[start, end)``."""
    lo, hi = floor_hour(start), ceil_hour(end)
    if hi <= lo:
        return
    if metrics:
        _metrics(conn, lo, hi)
    if hist:
        _hist(conn, lo, hi)


def _metrics(conn: Connection, lo: datetime, hi: datetime) -> None:
    dialect = conn.dialect.name
    m, mh = TABLES["metric_minute"], TABLES["metric_hour"]
    conn.execute(mh.delete().where(mh.c.ts >= lo, mh.c.ts < hi))
    hour = hour_of(m.c.ts, dialect)
    conn.execute(
        insert(mh).from_select(
            ["ts", "deployment_id", "metric", "status_code", "total", "count", "maximum",
             "avg_x_count", "average_sum", "average_n"],
            select(
                hour, m.c.deployment_id, m.c.metric, m.c.status_code, func.sum(m.c.total),
                func.sum(m.c["count"]), func.max(m.c.maximum),
                func.sum(m.c.average * m.c["count"]), func.sum(m.c.average),
                func.count(m.c.average),
            )
            .where(m.c.ts >= lo, m.c.ts < hi)
            .group_by(hour, m.c.deployment_id, m.c.metric, m.c.status_code),
        )
    )  # fmt: skip


def _hist(conn: Connection, lo: datetime, hi: datetime) -> None:
    dialect = conn.dialect.name
    h, hh = TABLES["latency_hist"], TABLES["latency_hist_hour"]
    conn.execute(hh.delete().where(hh.c.ts >= lo, hh.c.ts < hi))
    hour = hour_of(h.c.ts, dialect)
    conn.execute(
        insert(hh).from_select(
            ["ts", "deployment_id", "status_class", "bucket", "count"],
            select(hour, h.c.deployment_id, h.c.status_class, h.c.bucket, func.sum(h.c["count"]))
            .where(h.c.ts >= lo, h.c.ts < hi)
            .group_by(hour, h.c.deployment_id, h.c.status_class, h.c.bucket),
        )
    )
