"""The one write path: idempotent bulk upserts on natural keys.

``upsert(conn, table, rows)`` writes inside the caller's transaction (so a source's rows and its
watermark commit together, and a failing batch leaves nothing behind). Rows are deduplicated on
the natural key (last one wins) and a row with a NULL key part is refused before anything is
written, since NULL never matches ``ON CONFLICT``.

- SQLite: one compiled ``INSERT ... ON CONFLICT DO UPDATE`` run through the driver's
  ``executemany`` in batches.
- Postgres: small batches use the same statement through SQLAlchemy; large ones are ``COPY``-ed
  into a temporary staging table and merged with one ``INSERT ... SELECT ... ON CONFLICT``, which
  skips rows whose values did not change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, UniqueConstraint, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from collector.errors import RowKeyMissing, StoreError
from collector.store import partitions
from collector.store.schema import PARTITIONED, TABLES
from collector.store.types import to_utc

SQLITE_BATCH = 20_000
COPY_THRESHOLD = 1_000
Row = Mapping[str, Any]


def natural_key(table: Table) -> list[str]:
    """The columns that identify a row: the first unique constraint, else the primary key."""
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            return [c.name for c in constraint.columns]
    return [c.name for c in table.primary_key.columns]


def _table(table: Table | str) -> Table:
    if isinstance(table, Table):
        return table
    try:
        return TABLES[table]
    except KeyError:
        raise StoreError(f"unknown table {table!r}") from None


def _prepare(table: Table, rows: Iterable[Row]) -> tuple[list[str], list[str], list[Row]]:
    """Columns to write, key columns, and rows deduplicated on the key (last wins)."""
    key = natural_key(table)
    unique: dict[tuple[Any, ...], Row] = {}
    columns: list[str] | None = None
    for row in rows:
        if columns is None:
            unknown = set(row) - set(table.c.keys())
            if unknown:
                raise StoreError(f"{table.name}: unknown column(s) {sorted(unknown)}")
            columns = list(row)
        ident = tuple(row.get(k) for k in key)
        if any(part is None for part in ident):
            missing = [k for k, part in zip(key, ident, strict=True) if part is None]
            raise RowKeyMissing(f"{table.name}: a row has no value for key column(s) {missing}")
        unique[ident] = row
    return columns or [], key, list(unique.values())


def upsert(conn: Connection, table: Table | str, rows: Iterable[Row]) -> int:
    """Insert or update ``rows`` on their natural key; returns how many (deduplicated)."""
    target = _table(table)
    columns, key, prepared = _prepare(target, rows)
    if not prepared:
        return 0
    missing = [k for k in key if k not in columns]
    if missing:
        raise RowKeyMissing(f"{target.name}: rows lack key column(s) {missing}")
    if target.name in PARTITIONED and conn.dialect.name == "postgresql":
        time_col = PARTITIONED[target.name]
        partitions.ensure(conn, target.name, {to_utc(r[time_col]).date() for r in prepared})
    try:
        if conn.dialect.name == "sqlite":
            _sqlite_upsert(conn, target, columns, key, prepared)
        elif len(prepared) >= COPY_THRESHOLD:
            _pg_copy_merge(conn, target, columns, key, prepared)
        else:
            conn.execute(_pg_statement(target, columns, key), prepared)
    except (sqlite3.Error, psycopg.Error, DBAPIError) as exc:
        # The caller's transaction rolls back: nothing of the batch stays.
        reason = " ".join(str(getattr(exc, "orig", exc)).split())[:300]
        raise StoreError(f"writing {len(prepared)} rows to {target.name} failed: {reason}") from exc
    return len(prepared)


def _update_columns(columns: Sequence[str], key: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in key]


def _sqlite_statement(table: Table, columns: Sequence[str], key: Sequence[str]) -> Any:
    stmt = sqlite.insert(table)
    updates = _update_columns(columns, key)
    if updates:
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in updates}
        )
    return stmt.on_conflict_do_nothing(index_elements=list(key))


def _pg_statement(table: Table, columns: Sequence[str], key: Sequence[str]) -> Any:
    stmt = postgresql.insert(table)
    updates = _update_columns(columns, key)
    if not updates:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={c: stmt.excluded[c] for c in updates},
        where=tuple_(*(table.c[c] for c in updates)).is_distinct_from(
            tuple_(*(stmt.excluded[c] for c in updates))
        ),
    )


def _processors(
    conn: Connection, table: Table, columns: Sequence[str]
) -> list[Callable[[Any], Any] | None]:
    return [table.c[c].type._cached_bind_processor(conn.dialect) for c in columns]


def _sqlite_upsert(
    conn: Connection, table: Table, columns: list[str], key: list[str], rows: list[Row]
) -> None:
    compiled = _sqlite_statement(table, columns, key).compile(
        dialect=conn.dialect, column_keys=columns
    )
    order = list(compiled.positiontup or [])
    if order != columns:  # the compiled statement binds in its own order
        columns = order
    processors = _processors(conn, table, columns)
    sql = str(compiled)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), SQLITE_BATCH):
            chunk = rows[start : start + SQLITE_BATCH]
            cursor.executemany(
                sql,
                [
                    tuple(
                        proc(row.get(col)) if proc else row.get(col)
                        for col, proc in zip(columns, processors, strict=True)
                    )
                    for row in chunk
                ],
            )
    finally:
        cursor.close()


def _pg_copy_merge(
    conn: Connection, table: Table, columns: list[str], key: list[str], rows: list[Row]
) -> None:
    stage = f"_stage_{table.name}"
    quoted = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.dbapi_connection
    processors = _processors(conn, table, columns)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
            f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
        )
        cur.execute(f'TRUNCATE "{stage}"')
        with cur.copy(f'COPY "{stage}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(
                    [
                        proc(row.get(col)) if proc else row.get(col)
                        for col, proc in zip(columns, processors, strict=True)
                    ]
                )
        updates = _update_columns(columns, key)
        conflict = ", ".join(f'"{c}"' for c in key)
        if updates:
            assignments = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in updates)
            mine = ", ".join(f't."{c}"' for c in updates)
            theirs = ", ".join(f'EXCLUDED."{c}"' for c in updates)
            action = f"DO UPDATE SET {assignments} WHERE ({mine}) IS DISTINCT FROM ({theirs})"
        else:
            action = "DO NOTHING"
        cur.execute(
            f'INSERT INTO "{table.name}" AS t ({quoted}) SELECT {quoted} FROM "{stage}" '
            f"ON CONFLICT ({conflict}) {action}"
        )
        cur.execute(f'DROP TABLE "{stage}"')


def delete_days(
    conn: Connection, table: Table | str, column: str, days: Iterable[date], **equals: Any
) -> int:
    """Delete rows of ``table`` whose ``column`` is in ``days`` (and other columns equal)."""
    target = _table(table)
    stmt = target.delete().where(target.c[column].in_(sorted(set(days))))
    for name, value in equals.items():
        stmt = stmt.where(target.c[name] == value)
    return int(conn.execute(stmt).rowcount or 0)


def utc(value: datetime) -> datetime:
    """Re-exported for sources that build rows: aware UTC datetimes."""
    return to_utc(value)
