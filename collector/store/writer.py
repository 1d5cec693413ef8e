"""The one write path: idempotent bulk upserts on natural keys.

``upsert(conn, table, rows)`` writes inside the caller's transaction (so a source's rows and its
watermark commit together, and a failing batch leaves nothing behind). Rows are deduplicated on
the natural key (last one wins) and a row with a NULL key part is refused before anything is
written, since NULL never matches ``ON CONFLICT``.

- SQLite: one compiled ``INSERT ... ON CONFLICT DO UPDATE`` run through the driver's
  ``executemany`` in batches.
- Postgres: small batches use the same statement through SQLAlchemy. Large ones are ``COPY``-ed
  straight into the table, in a savepoint, unless their first or last row is stored already (a
  re-read window); if a stored row turns up anyway, the savepoint is rolled back. Otherwise they
  are ``COPY``-ed into a temporary staging table and merged with one
  ``INSERT ... SELECT ... ON CONFLICT``, which skips rows whose values did not change. Both
  COPYs are binary when every value is checked to fit its column (``collector.store.pg_copy``:
  psycopg would write an out-of-range integer wrapped around instead of failing), else text.

A ``request_log`` batch also writes its ids' entries in ``request_id_index``
(``collector.store.request_index``), in the same transaction.

``insert`` appends rows keyed by an auto-numbered id (the run log) and ``delete`` removes rows
by their key (what a re-read no longer has).

Values are converted column by column with the columns' SQLAlchemy bind processors, except
``UTCDateTime``, whose conversion is inlined here (``_utc_seconds``, ``_utc_aware``): it is the
one processor of every high-volume row and SQLAlchemy's version costs two Python calls per value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, UniqueConstraint, literal, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from collector.errors import RowKeyMissing, StoreError
from collector.store import partitions, pg_copy, request_index
from collector.store.schema import PARTITIONED, TABLES
from collector.store.types import (
    MetricCode,
    StatusClassCode,
    UTCDateTime,
    epoch_seconds,
    to_utc,
)

SQLITE_BATCH = 20_000
COPY_THRESHOLD = 1_000
Row = Mapping[str, Any]
Processor = Callable[[Any], Any]


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
    """Columns to write, key columns, and rows deduplicated on the key (last wins).

    The columns are the first row's, or every column any row has when rows differ in size (a
    missing value is then NULL; rows of one size must share their keys). The common case (every
    row has every key column, none is NULL) runs in C through ``itemgetter`` and
    ``dict(zip(...))``; anything else goes row by row.
    """
    key = natural_key(table)
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return [], key, []
    columns = list(rows[0])
    if len(set(map(len, rows))) > 1:  # rows of several shapes: write every column any row has
        columns = list(dict.fromkeys(chain.from_iterable(rows)))
        rows = [{column: row.get(column) for column in columns} for row in rows]
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise StoreError(f"{table.name}: unknown column(s) {sorted(unknown)}")
    try:
        idents = list(map(itemgetter(*key), rows))
    except KeyError:
        return columns, key, _dedupe_each(table, key, rows)
    if None in (idents if len(key) == 1 else chain.from_iterable(idents)):
        return columns, key, _dedupe_each(table, key, rows)
    if len(set(idents)) == len(rows):  # no duplicates (a set is cheaper than the dict below)
        return columns, key, rows
    return columns, key, list(dict(zip(idents, rows, strict=True)).values())


def _dedupe_each(table: Table, key: list[str], rows: Iterable[Row]) -> list[Row]:
    """Deduplicate row by row; refuse the first row with a missing or NULL key part."""
    unique: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        ident = tuple(row.get(k) for k in key)
        if any(part is None for part in ident):
            missing = [k for k, part in zip(key, ident, strict=True) if part is None]
            raise RowKeyMissing(f"{table.name}: a row has no value for key column(s) {missing}")
        unique[ident] = row
    return list(unique.values())


def _days(rows: list[Row], column: str) -> set[date]:
    """The UTC days of ``column`` in ``rows``; a batch within one day converts only its ends."""
    stamps = list(map(itemgetter(column), rows))
    try:
        first, last = to_utc(min(stamps)).date(), to_utc(max(stamps)).date()
    except TypeError:  # naive and aware datetimes mixed: they do not compare
        pass
    else:
        if first == last:
            return {first}
    return {to_utc(stamp).date() for stamp in set(stamps)}


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
        partitions.ensure(conn, target.name, _days(prepared, time_col))
    try:
        fresh = False
        if conn.dialect.name == "sqlite":
            _sqlite_upsert(conn, target, columns, key, prepared)
        elif len(prepared) >= COPY_THRESHOLD:
            fresh = _pg_copy_merge(conn, target, columns, key, prepared)
        else:
            conn.execute(_pg_statement(target, columns, key), prepared)
        if target.name == "request_log":  # its ids' times, in the same transaction
            request_index.write(conn, prepared, fresh=fresh)
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


def _utc_seconds(value: datetime | None) -> int | float | None:
    """``UTCDateTime`` on SQLite: seconds since the epoch (``types.epoch_seconds``)."""
    return None if value is None else epoch_seconds(value)


def _utc_aware(value: datetime | None) -> datetime | None:
    """``UTCDateTime`` on Postgres: naive means UTC; aware values go as they are (timestamptz)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _all_aware(rows: Sequence[Row], column: str) -> bool:
    """Whether every value of ``column`` is an aware datetime (checked in C, no Python per row)."""
    try:
        return None not in map(attrgetter("tzinfo"), map(itemgetter(column), rows))
    except (AttributeError, KeyError):  # a NULL, a missing column, or not a datetime
        return False


def _processors(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> list[Processor | None]:
    """Per column, the conversion to the driver's value, or None when values go as they are.

    ``UTCDateTime`` on Postgres needs none when every value is aware (sources yield aware UTC):
    ``timestamptz`` keeps the instant whatever the zone.
    """
    found: list[Processor | None] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, MetricCode | StatusClassCode):
            found.append(_coder(column_type, conn, rows, name))
        elif not isinstance(column_type, UTCDateTime):
            found.append(column_type._cached_bind_processor(conn.dialect))
        elif conn.dialect.name == "sqlite":
            found.append(_utc_seconds)
        else:
            found.append(None if _all_aware(rows, name) else _utc_aware)
    return found


def _coder(
    column_type: MetricCode | StatusClassCode, conn: Connection, rows: Sequence[Row], name: str
) -> Processor:
    """A coded column's conversion: a dict look-up in C once every value is known to have a
    code (``MetricCode`` and ``StatusClassCode``' own processor runs Python for each value);
    else the type's own, which refuses the first value without one."""
    try:
        values = set(map(itemgetter(name), rows))
    except KeyError:  # a row without the column: NULL
        values = {None}
    if values <= column_type.codes.keys():
        return column_type.codes.__getitem__
    processor = column_type._cached_bind_processor(conn.dialect)
    assert processor is not None
    return processor


def _parameters(
    rows: Sequence[Row], columns: Sequence[str], processors: Sequence[Processor | None]
) -> list[tuple[Any, ...]]:
    """The rows as tuples in ``columns`` order, converted column by column.

    When every row has every column, each column is read and converted by ``map`` and the
    tuples built by ``zip``, all in C: no Python per row, and no transposing back and forth."""
    values: list[tuple[Any, ...]]
    try:
        read = [map(itemgetter(column), rows) for column in columns]
        converted = (
            column if proc is None else map(proc, column)
            for column, proc in zip(read, processors, strict=True)
        )
        return list(zip(*converted, strict=True))
    except KeyError:  # a row without some column: below, which writes NULL there
        pass
    try:
        get = itemgetter(*columns)
        if len(columns) == 1:
            values = [(value,) for value in map(get, rows)]
        else:
            values = list(map(get, rows))
    except KeyError:  # a row without some column writes NULL there
        values = [tuple(row.get(c) for c in columns) for row in rows]
    convert = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    if not convert or not values:
        return values
    by_column = list(zip(*values, strict=True))
    for i, proc in convert:
        by_column[i] = tuple(map(proc, by_column[i]))
    return list(zip(*by_column, strict=True))


def _scalar_default(table: Table, column: str) -> Any:
    """A column's Python-side scalar default (None when it has none)."""
    default = table.c[column].default
    return getattr(default, "arg", None) if default is not None and default.is_scalar else None


def _sqlite_upsert(
    conn: Connection, table: Table, columns: list[str], key: list[str], rows: list[Row]
) -> None:
    compiled = _sqlite_statement(table, columns, key).compile(
        dialect=conn.dialect, column_keys=columns
    )
    order = list(compiled.positiontup or [])
    if order != columns:  # the compiled statement binds in its own order
        added = [c for c in order if c not in columns]
        if added:  # columns the compiler added for their Python-side defaults: bind those
            defaults = {c: _scalar_default(table, c) for c in added}
            rows = [{**defaults, **row} for row in rows]
        columns = order
    processors = _processors(conn, table, columns, rows)
    sql = str(compiled)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), SQLITE_BATCH):
            chunk = rows[start : start + SQLITE_BATCH]
            cursor.executemany(sql, _parameters(chunk, columns, processors))
    finally:
        cursor.close()


def _pg_copy_merge(
    conn: Connection, table: Table, columns: list[str], key: list[str], rows: list[Row]
) -> bool:
    """COPY or stage-and-merge ``rows``: True when they were all new (COPY-ed straight in)."""
    values = _columns(rows, columns, _processors(conn, table, columns, rows))
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        types = pg_copy.binary_types(pg_copy.column_types(cur, table.name), columns, values)
        if not _ends_stored(conn, table, key, rows) and _copy_new(
            conn, cur, table, columns, values, types
        ):
            return True
        _stage_and_merge(cur, table, columns, key, values, types)
    return False


def _columns(
    rows: Sequence[Row], columns: Sequence[str], processors: Sequence[Processor | None]
) -> list[list[Any]]:
    """The values of each column, converted (a row without a column has NULL there)."""
    found = []
    for column, proc in zip(columns, processors, strict=True):
        try:
            read = list(map(itemgetter(column), rows))
        except KeyError:
            read = [row.get(column) for row in rows]
        found.append(read if proc is None else list(map(proc, read)))
    return found


def _ends_stored(conn: Connection, table: Table, key: list[str], rows: list[Row]) -> bool:
    """Whether the first or the last row is stored (a re-read window overlaps at an end)."""
    ends = [tuple(row[k] for k in key) for row in (rows[0], rows[-1])]
    probe = (
        select(literal(1))
        .select_from(table)
        .where(tuple_(*(table.c[k] for k in key)).in_(ends))
        .limit(1)
    )
    return conn.execute(probe).first() is not None


def _copy_new(
    conn: Connection,
    cur: psycopg.Cursor[Any],
    table: Table,
    columns: list[str],
    values: list[list[Any]],
    types: list[str] | None,
) -> bool:
    """COPY straight into the table; False, with nothing written, if a row is already stored.

    The rows are deduplicated, so when none of them is stored, inserting them is the upsert.
    """
    try:
        with conn.begin_nested():  # a savepoint: a stored row undoes this COPY only
            pg_copy.copy(cur, table.name, columns, values, types)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _stage_and_merge(
    cur: psycopg.Cursor[Any],
    table: Table,
    columns: list[str],
    key: list[str],
    values: list[list[Any]],
    types: list[str] | None,
) -> None:
    stage = f"_stage_{table.name}"
    quoted = ", ".join(f'"{c}"' for c in columns)
    cur.execute(
        f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
        f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
    )
    cur.execute(f'TRUNCATE "{stage}"')
    pg_copy.copy(cur, stage, columns, values, types)  # LIKE: the table's column types
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


def insert(conn: Connection, table: Table | str, rows: Iterable[Row]) -> int:
    """Append ``rows`` as they are, for tables keyed by an auto-numbered id (the run log)."""
    target = _table(table)
    rows = list(rows)
    for row in rows:
        conn.execute(target.insert().values(**row))
    return len(rows)


def delete(conn: Connection, table: Table | str, keys: Iterable[Row]) -> int:
    """Delete the rows equal to each of ``keys`` on its columns; returns how many went."""
    target = _table(table)
    deleted = 0
    for key in keys:
        where = [target.c[column] == value for column, value in key.items()]
        deleted += int(conn.execute(target.delete().where(*where)).rowcount or 0)
    return deleted


def insert_new(conn: Connection, table: Table | str, row: Row) -> bool:
    """Insert ``row`` unless its natural key is stored already: True when this call inserted it.

    The database decides atomically (``INSERT ... ON CONFLICT DO NOTHING``), so of two processes
    inserting the same key exactly one gets True: the store's claim (an alert's notification).
    """
    target = _table(table)
    key = natural_key(target)
    if any(row.get(k) is None for k in key):
        raise RowKeyMissing(f"{target.name}: the row has no value for a key column of {key}")
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(target).values(**row).on_conflict_do_nothing(index_elements=key)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT here
    return conn.execute(stmt.returning(literal(1))).first() is not None


def update_if(conn: Connection, table: Table | str, key: Row, expected: Row, values: Row) -> bool:
    """Update the row ``key`` with ``values`` only while its columns still equal ``expected``
    (NULL matching NULL): True when this call changed it. A compare-and-set: of two processes
    that read the same row, only the first to write succeeds."""
    target = _table(table)
    where = [target.c[column] == value for column, value in key.items()]
    where += [
        target.c[column].is_(None) if value is None else target.c[column] == value
        for column, value in expected.items()
    ]
    stmt = target.update().where(*where).values(**values).returning(literal(1))
    return len(conn.execute(stmt).all()) == 1
