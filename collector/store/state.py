"""The collector's own state: watermarks (how far each source and scope has read) and the run
log (one ``collection_run`` row per run of a source for a scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from collector.store import writer
from collector.store.schema import TABLES


def watermark(conn: Connection, source: str, scope: str) -> datetime | None:
    """How far ``source`` has read ``scope`` (None before its first run)."""
    table = TABLES["watermark"]
    return conn.execute(
        select(table.c.value).where(and_(table.c.source == source, table.c.scope == scope))
    ).scalar()


def set_watermark(conn: Connection, source: str, scope: str, value: datetime) -> None:
    """Move the watermark of ``source``/``scope``, in the caller's transaction (with its rows)."""
    writer.upsert(
        conn,
        TABLES["watermark"],
        [{"source": source, "scope": scope, "value": value, "updated_at": datetime.now(UTC)}],
    )


def record_run(conn: Connection, **run: Any) -> None:
    """One ``collection_run`` row: source, scope, window, times, status, counts, error."""
    writer.insert(conn, TABLES["collection_run"], [run])
