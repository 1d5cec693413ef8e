"""The rolling window: raw data (and its minute-to-hour rollups) older than the retention goes,
daily rollups, run logs and the alert history that has ended keep 400 days.

Postgres drops whole daily partitions that end at or before the cut-off, then deletes the few
rows of the one partition the cut-off falls inside. SQLite deletes in bounded batches through the
time column that leads each raw table's key, so a prune never holds the write lock for long.
``request_id_index`` goes a week at a time, on both databases: its slices are dropped whole once
their week ends at or before the cut-off (``request_index.drop_before``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, literal_column, select

from collector.store import alerts, partitions, request_index, rollup
from collector.store.schema import PARTITIONED, TABLES
from collector.store.types import to_utc
from collector.store.writer import upsert

SQLITE_DELETE_BATCH = 20_000
#: Rollups of the raw tables (per hour and per day): they keep the raw tables' retention.
HOURLY = {
    "metric_15m": "ts",
    "latency_hist_15m": "ts",
    "metric_hour": "ts",
    "latency_hist_hour": "ts",
    "throttle_hour": "ts",
    "pool_minute": "ts",
    "deployment_throttle": "ts",
    "latency_pct_15m": "ts",
    "latency_pct_hour": "ts",
}
#: Daily rollups of the raw tables: they keep ``rollup_days``, so reports of past months (and
#: the month before, to compare) still have requests, tokens and latency per deployment.
DAILY = {"metric_day": "ts", "latency_hist_day": "ts", "latency_pct_day": "ts"}
#: Daily tables (rollups) and their day column; they keep ``rollup_days``.
ROLLUPS = {
    "cost_daily": "day",
    "spend_daily": "day",
    "spend_resource_daily": "day",
}
#: Bookkeeping tables pruned with the rollups.
LOGS = {"collection_run": "started_at"}


@dataclass
class PruneResult:
    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    dropped_partitions: list[str] = field(default_factory=list)


def prune(
    engine: Engine,
    retention_days: int,
    rollup_days: int = 400,
    now: datetime | None = None,
) -> PruneResult:
    """Remove raw rows with time < now - retention_days, rollups older than rollup_days."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    cutoff = now - timedelta(days=retention_days)
    rollup_cutoff = (now - timedelta(days=rollup_days)).date()
    result = PruneResult(cutoff=cutoff)
    postgres = engine.dialect.name == "postgresql"
    for name, column in PARTITIONED.items():
        table = TABLES[name]
        if postgres:
            with engine.begin() as conn:
                for day, partition in sorted(partitions.existing(conn, name).items()):
                    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
                    if end <= cutoff:
                        conn.exec_driver_sql(f'DROP TABLE "{partition}"')
                        result.dropped_partitions.append(partition)
                count = conn.execute(delete(table).where(table.c[column] < cutoff)).rowcount
                partitions.ensure_ahead(conn, now.date(), back_days=0)
            result.deleted[name] = int(count or 0)
        else:
            result.deleted[name] = _sqlite_batched_delete(engine, name, column, cutoff)
    for name, column in HOURLY.items():
        if postgres:
            table = TABLES[name]
            with engine.begin() as conn:
                count = conn.execute(delete(table).where(table.c[column] < cutoff)).rowcount
            result.deleted[name] = int(count or 0)
        else:
            result.deleted[name] = _sqlite_batched_delete(engine, name, column, cutoff)
    with engine.begin() as conn:  # whole weeks of request-id entries; see request_index
        result.dropped_partitions += request_index.drop_before(conn, cutoff)
    for name, refresh in (
        ("pool_hour", rollup.refresh_pool_hours),
        ("deployment_hour", rollup.refresh_deployment_hours),
    ):
        result.deleted[name] = _prune_hours(engine, name, refresh, cutoff)
    _record_cutoff(engine, cutoff, now)
    day_cutoff = datetime(rollup_cutoff.year, rollup_cutoff.month, rollup_cutoff.day, tzinfo=UTC)
    for name, column in DAILY.items():
        table = TABLES[name]
        with engine.begin() as conn:
            result.deleted[name] = int(
                conn.execute(delete(table).where(table.c[column] < day_cutoff)).rowcount or 0
            )
    for name, column in ROLLUPS.items():
        table = TABLES[name]
        with engine.begin() as conn:
            result.deleted[name] = int(
                conn.execute(delete(table).where(table.c[column] < rollup_cutoff)).rowcount or 0
            )
    for name, column in LOGS.items():
        table = TABLES[name]
        with engine.begin() as conn:
            result.deleted[name] = int(
                conn.execute(
                    delete(table).where(table.c[column] < now - timedelta(days=rollup_days))
                ).rowcount
                or 0
            )
    with engine.begin() as conn:  # alert history: kept as long as the run logs
        result.deleted.update(alerts.prune(conn, now - timedelta(days=rollup_days)))
    return result


def _prune_hours(
    engine: Engine,
    name: str,
    refresh: Callable[[Connection, datetime, datetime], None],
    cutoff: datetime,
) -> int:
    """Drop the rows of hourly table ``name`` (``pool_hour``, ``deployment_hour``) of the hours
    before the cut-off's and recompute the hour the cut-off falls inside from its remaining
    minutes with ``refresh``, so the rollup stays its minutes'."""
    table = TABLES[name]
    hour = rollup.floor_time(cutoff, rollup.HOUR)
    with engine.begin() as conn:
        count = int(conn.execute(delete(table).where(table.c.ts < hour)).rowcount or 0)
        if hour < cutoff:
            refresh(conn, hour, hour + rollup.HOUR)
    return count


def _record_cutoff(engine: Engine, cutoff: datetime, now: datetime) -> None:
    """Remember how far raw rows are gone (the latest cut-off ever): ``rollup.refresh`` then
    leaves the daily rows of the days before it, whose hours are no longer all there."""
    w = TABLES["watermark"]
    source, scope = rollup.PRUNED
    with engine.begin() as conn:
        before = conn.execute(
            select(w.c.value).where(w.c.source == source, w.c.scope == scope)
        ).scalar()
        if before is not None and to_utc(before) >= cutoff:
            return
        row = {"source": source, "scope": scope, "value": cutoff, "updated_at": now}
        upsert(conn, "watermark", [row])


def _sqlite_batched_delete(engine: Engine, name: str, column: str, cutoff: datetime) -> int:
    table = TABLES[name]
    if table.dialect_options["sqlite"]["with_rowid"] is False:
        return _sqlite_range_delete(engine, name, column, cutoff)
    total = 0
    while True:
        # rowid batches: each transaction is short, readers are never blocked for long.
        with engine.begin() as conn:
            ids: Any = (
                select(literal_column("rowid"))
                .select_from(table)
                .where(table.c[column] < cutoff)
                .limit(SQLITE_DELETE_BATCH)
            )
            count = int(
                conn.execute(delete(table).where(literal_column("rowid").in_(ids))).rowcount or 0
            )
        total += count
        if count < SQLITE_DELETE_BATCH:
            return total


def _sqlite_range_delete(engine: Engine, name: str, column: str, cutoff: datetime) -> int:
    """The batched delete of a ``WITHOUT ROWID`` table whose key leads with ``column``: each
    batch deletes the key range before the time of the batch's last row, one short transaction
    each (a batch grows past the size only when that many rows share its first time)."""
    table = TABLES[name]
    time = table.c[column]
    total = 0
    while True:
        with engine.begin() as conn:
            bound = conn.execute(
                select(time)
                .where(time < cutoff)
                .order_by(time)
                .limit(1)
                .offset(SQLITE_DELETE_BATCH)
            ).scalar()
            if bound is None:  # the last batch: everything before the cut-off
                return total + int(conn.execute(delete(table).where(time < cutoff)).rowcount or 0)
            first = conn.execute(select(func.min(time)).where(time < cutoff)).scalar()
            done = time <= bound if first == bound else time < bound
            total += int(conn.execute(delete(table).where(done)).rowcount or 0)
