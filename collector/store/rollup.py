"""Rollups of the per-minute tables, recomputed for the hours (and days) a write touched.

``metric_hour`` and ``latency_hist_hour`` hold the per-minute rows summed per UTC hour, and
``metric_day`` and ``latency_hist_day`` the hourly rows summed per UTC day, so a 30-day view
reads whole days (1,440 times fewer rows than minutes), whole hours at its edges and minutes
only at its ragged ends. ``throttle_hour`` counts, per hour and deployment, the minutes with
429s and those of them shared with another deployment of the quota pool.

They are derived data: each refresh deletes the touched hours and days and inserts them again
from the finer table, in the caller's transaction, which makes it idempotent and keeps rollups
and minutes consistent. Anyone writing minute rows must call :func:`refresh` for their span.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    cast,
    func,
    insert,
    literal_column,
    select,
)

from collector.store.schema import TABLES

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
REQUESTS = "ModelRequests"


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def floor_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_day(moment: datetime) -> datetime:
    floor = floor_day(moment)
    return floor if floor == moment else floor + DAY


def floor_to(column: Any, seconds: int, dialect: str) -> Any:
    """The ``seconds``-long step (an hour or a day, aligned on the UTC epoch) holding
    ``column``, in the column's own storage format on each database."""
    n: Any = literal_column(str(int(seconds)))
    if dialect == "postgresql":
        if seconds == 3600:
            return func.date_trunc("hour", column)
        # date_trunc('day') would follow the session's time zone: count from the epoch instead
        return func.to_timestamp(func.floor(func.extract("epoch", column) / n) * n)
    epoch = cast(func.strftime(literal_column("'%s'"), column), Integer)
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff': match it exactly,
    # or range comparisons on the text would be off at the boundaries.
    return func.strftime(
        literal_column("'%Y-%m-%d %H:%M:%S.000000'"),
        epoch - epoch % n,
        literal_column("'unixepoch'"),
    )


def hour_of(column: Any, dialect: str) -> Any:
    """The hour holding ``column``, in the column's own storage format on each database."""
    return floor_to(column, 3600, dialect)


def refresh(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    metrics: bool = True,
    hist: bool = True,
    hours: bool = True,
) -> None:
    """Recompute the rollups for every hour, and every day, overlapping ``[start, end)``.

    ``hours=False`` keeps the hourly tables as they are and recomputes only what is derived
    from them and ``throttle_hour`` (a migration adding those tables to a filled store).
    """
    lo, hi = floor_hour(start), ceil_hour(end)
    if hi <= lo:
        return
    day_lo, day_hi = floor_day(lo), ceil_day(hi)
    if metrics:
        if hours:
            _metrics(conn, lo, hi)
        _metric_days(conn, day_lo, day_hi)
        _throttles(conn, lo, hi)
    if hist:
        if hours:
            _hist(conn, lo, hi)
        _hist_days(conn, day_lo, day_hi)


_METRIC_COLUMNS = [
    "ts", "deployment_id", "metric", "status_code", "total", "count", "maximum",
    "avg_x_count", "average_sum", "average_n",
]  # fmt: skip


def _metrics(conn: Connection, lo: datetime, hi: datetime) -> None:
    m, mh = TABLES["metric_minute"], TABLES["metric_hour"]
    conn.execute(mh.delete().where(mh.c.ts >= lo, mh.c.ts < hi))
    hour = hour_of(m.c.ts, conn.dialect.name)
    conn.execute(
        insert(mh).from_select(
            _METRIC_COLUMNS,
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


def _metric_days(conn: Connection, lo: datetime, hi: datetime) -> None:
    mh, md = TABLES["metric_hour"], TABLES["metric_day"]
    conn.execute(md.delete().where(md.c.ts >= lo, md.c.ts < hi))
    day = floor_to(mh.c.ts, 86400, conn.dialect.name)
    conn.execute(
        insert(md).from_select(
            _METRIC_COLUMNS,
            select(
                day, mh.c.deployment_id, mh.c.metric, mh.c.status_code, func.sum(mh.c.total),
                func.sum(mh.c["count"]), func.max(mh.c.maximum), func.sum(mh.c.avg_x_count),
                func.sum(mh.c.average_sum), func.sum(mh.c.average_n),
            )
            .where(mh.c.ts >= lo, mh.c.ts < hi)
            .group_by(day, mh.c.deployment_id, mh.c.metric, mh.c.status_code),
        )
    )  # fmt: skip


def _hist(conn: Connection, lo: datetime, hi: datetime) -> None:
    h, hh = TABLES["latency_hist"], TABLES["latency_hist_hour"]
    conn.execute(hh.delete().where(hh.c.ts >= lo, hh.c.ts < hi))
    hour = hour_of(h.c.ts, conn.dialect.name)
    conn.execute(
        insert(hh).from_select(
            ["ts", "deployment_id", "status_class", "bucket", "count"],
            select(hour, h.c.deployment_id, h.c.status_class, h.c.bucket, func.sum(h.c["count"]))
            .where(h.c.ts >= lo, h.c.ts < hi)
            .group_by(hour, h.c.deployment_id, h.c.status_class, h.c.bucket),
        )
    )


def _hist_days(conn: Connection, lo: datetime, hi: datetime) -> None:
    hh, hd = TABLES["latency_hist_hour"], TABLES["latency_hist_day"]
    conn.execute(hd.delete().where(hd.c.ts >= lo, hd.c.ts < hi))
    day = floor_to(hh.c.ts, 86400, conn.dialect.name)
    conn.execute(
        insert(hd).from_select(
            ["ts", "deployment_id", "status_class", "bucket", "count"],
            select(day, hh.c.deployment_id, hh.c.status_class, hh.c.bucket, func.sum(hh.c["count"]))
            .where(hh.c.ts >= lo, hh.c.ts < hi)
            .group_by(day, hh.c.deployment_id, hh.c.status_class, hh.c.bucket),
        )
    )


def throttled_minutes(lo: datetime, hi: datetime) -> Any:
    """The deployment-minutes with 429s in ``[lo, hi)`` as a subquery: ts, deployment_id,
    status_429 and ``shared`` (1 when another deployment of the same quota pool, subscription
    and model, had 429s in the same minute, else 0)."""
    m, d, r = TABLES["metric_minute"], TABLES["deployment"], TABLES["resource"]
    subscription = func.coalesce(r.c.subscription_id, literal_column("''"))
    # with metric and status code fixed, (ts, deployment_id) is the key: one row per minute
    pool_count = func.count().over(partition_by=(m.c.ts, subscription, d.c.model))
    return (
        select(
            m.c.ts,
            m.c.deployment_id,
            m.c.total.label("status_429"),
            case((and_(d.c.model.is_not(None), pool_count > 1), 1), else_=0).label("shared"),
        )
        .select_from(m.join(d, d.c.id == m.c.deployment_id).outerjoin(r, r.c.id == d.c.resource_id))
        .where(
            m.c.ts >= lo,
            m.c.ts < hi,
            m.c.metric == REQUESTS,
            m.c.status_code == 429,
            m.c.total > 0,
        )
        .subquery("throttled")
    )


def _throttles(conn: Connection, lo: datetime, hi: datetime) -> None:
    th = TABLES["throttle_hour"]
    conn.execute(th.delete().where(th.c.ts >= lo, th.c.ts < hi))
    t = throttled_minutes(lo, hi)
    hour = hour_of(t.c.ts, conn.dialect.name)
    conn.execute(
        insert(th).from_select(
            ["ts", "deployment_id", "minutes", "shared_minutes", "status_429"],
            select(
                hour,
                t.c.deployment_id,
                func.count(),
                func.sum(t.c.shared),
                func.sum(t.c.status_429),
            ).group_by(hour, t.c.deployment_id),
        )
    )
