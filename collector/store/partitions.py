"""Daily range partitions of the raw tables on Postgres (no-ops elsewhere).

A partition of ``request_log`` for 2026-11-28 is ``request_log_p20261128`` and holds
``[2026-11-28 00:00 UTC, 2026-11-29 00:00 UTC)``. Partitions are created ahead of need (at upgrade,
by the daily prune, and by the writer for any day a batch touches) and dropped whole by the prune.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

from collector.store.schema import PARTITIONED

_NAME_RE = re.compile(r"_p(\d{8})$")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of_partition(name: str) -> date | None:
    match = _NAME_RE.search(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def existing(conn: Connection, table: str) -> dict[date, str]:
    """The partitions of ``table`` by day (Postgres only)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table"
        ),
        {"table": table},
    ).scalars()
    found: dict[date, str] = {}
    for name in rows:
        day = day_of_partition(name)
        if day is not None:
            found[day] = name
    return found


#: pg_advisory_xact_lock key serialising partition creation ("fm-parts")
PARTITION_LOCK = 0x666D2D7061727473


def ensure(conn: Connection, table: str, days: Iterable[date]) -> list[str]:
    """Create the missing daily partitions of ``table`` for ``days``; returns the names created."""
    if conn.dialect.name != "postgresql" or table not in PARTITIONED:
        return []
    wanted = set(days)
    if not wanted:
        return []
    if not wanted - set(existing(conn, table)):
        return []
    # Processes starting together must not race on CREATE TABLE (a UniqueViolation on pg_type
    # even with IF NOT EXISTS): one creates, the others wait, then see the partitions made.
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    have = existing(conn, table)
    created = []
    for day in sorted(wanted - set(have)):
        name = partition_name(table, day)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
        created.append(name)
    return created


def ensure_ahead(conn: Connection, today: date, back_days: int, ahead_days: int = 3) -> list[str]:
    """Partitions of every raw table from ``today - back_days`` to ``today + ahead_days``."""
    days = [today + timedelta(days=offset) for offset in range(-back_days, ahead_days + 1)]
    created: list[str] = []
    for table in PARTITIONED:
        created += ensure(conn, table, days)
    return created


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: daily partitions are made at run time, not by migrations; ignore them."""
    return not (type_ == "table" and name is not None and _NAME_RE.search(name))
