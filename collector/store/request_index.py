"""``request_id_index``: from each request id to its ``request_log`` time, sliced by week.

``request_log`` is partitioned by day (Postgres) and an id carries no time, so without this a
look-up probes every day's index. Here a look-up probes the few week slices in one statement,
then reads the one ``request_log`` day that the time names. An entry is
``(id, kind, ts)``: ``id`` the 16 bytes of a GUID (else the id's UTF-8 text), ``kind``
:data:`APIM` or :data:`CLIENT`, ``ts`` integer microseconds since the epoch.

Slices are UTC weeks from Monday, named after their Monday (``request_id_index_p20261005``, the
daily partitions' naming, so Alembic's filter and the partition helpers skip them): Postgres
range partitions of ``request_id_index``, SQLite one ``WITHOUT ROWID`` table per week. They are
created by the writer for the weeks a batch touches and dropped whole by the prune once the week
is past the cut-off; until then an entry may outlive its ``request_log`` row, so a look-up always
re-reads the row by (time, id) and an entry without one means "not found".

The writer calls :func:`write` with every ``request_log`` batch, in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import Connection, Engine, String, TextClause, bindparam, text

from collector.store import partitions, pg_copy
from collector.store.types import UTCDateTime, stored_time

TABLE = "request_id_index"
#: ``kind``: the apim-request-id (``request_log.correlation_id``)
APIM = 1
#: ``kind``: Anthropic's request-id (``request_log.client_request_id``)
CLIENT = 2
KINDS = {"apim-request-id": APIM, "request-id": CLIENT}
COLUMNS = {APIM: "correlation_id", CLIENT: "client_request_id"}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
#: 1970-01-01 was a Thursday: its week began 3 days earlier, on Monday 1969-12-29.
_MONDAY_SHIFT_US = 3 * _DAY_US
#: Entries per statement or COPY slice.
BATCH = 20_000

Entry = tuple[bytes, int, int]


def encode(value: str) -> bytes:
    """An id as stored: a GUID's 16 bytes (any case), anything else its UTF-8 text.

    Two ids can share an encoding (a GUID in upper and lower case): the look-up re-reads
    ``request_log`` by the id's text, so a shared entry costs a read, never a wrong answer.
    """
    if len(value) == 36:
        try:
            raw = bytes.fromhex(value.replace("-", ""))
        except ValueError:
            pass
        else:
            if len(raw) == 16:
                return raw
    return value.encode()


def micros(value: datetime) -> int:
    """A time as integer microseconds since the epoch (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _US


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def week_of(us: int) -> date:
    """The Monday starting the UTC week of ``us``."""
    return from_micros(us - (us + _MONDAY_SHIFT_US) % _WEEK_US).date()


def slice_name(monday: date) -> str:
    return partitions.partition_name(TABLE, monday)


def entries(rows: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """The index entries of ``request_log`` rows: one per correlation id, one per client id."""
    if not rows:
        return []
    times = list(map(micros, map(itemgetter("ts"), rows)))
    found = [
        (encode(cid), APIM, us)
        for cid, us in zip(map(itemgetter("correlation_id"), rows), times, strict=True)
    ]
    clients = [row.get("client_request_id") for row in rows]
    found += [(encode(c), CLIENT, us) for c, us in zip(clients, times, strict=True) if c]
    return found


def by_week(found: Iterable[Entry]) -> dict[date, list[Entry]]:
    weeks: dict[date, list[Entry]] = defaultdict(list)
    shift, week = _MONDAY_SHIFT_US, _WEEK_US
    starts: dict[int, date] = {}
    for entry in found:
        start = entry[2] - (entry[2] + shift) % week
        monday = starts.get(start)
        if monday is None:
            monday = starts[start] = from_micros(start).date()
        weeks[monday].append(entry)
    return weeks


def mondays(found: Sequence[Entry]) -> set[date]:
    """The weeks of ``found`` (what :func:`by_week` keys): a batch within one week reads only
    its earliest and latest times (in C), with no Python per entry."""
    if not found:
        return set()
    times = list(map(itemgetter(2), found))
    first, last = week_of(min(times)), week_of(max(times))
    return {first} if first == last else set(by_week(found))


# --- slices ---------------------------------------------------------------------------------


def existing(conn: Connection) -> dict[date, str]:
    """The week slices by Monday."""
    if conn.dialect.name == "postgresql":
        return partitions.existing(conn, TABLE)
    names = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'request_id_index_p%'"
    ).scalars()
    found: dict[date, str] = {}
    for name in names:
        day = partitions.day_of_partition(name)
        if day is not None:
            found[day] = name
    return found


def ensure(conn: Connection, mondays: Iterable[date]) -> list[str]:
    """Create the missing week slices; returns the names created."""
    wanted = set(mondays)
    if not wanted - set(existing(conn)):
        return []
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # as partitions.ensure: one process creates, the others wait
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": partitions.PARTITION_LOCK})
    created = []
    for monday in sorted(wanted - set(existing(conn))):
        name = slice_name(monday)
        if postgres:
            start = micros(datetime(monday.year, monday.month, monday.day, tzinfo=UTC))
            conn.exec_driver_sql(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{TABLE}" '
                f"FOR VALUES FROM ({start}) TO ({start + _WEEK_US})"
            )
        else:
            conn.exec_driver_sql(
                f'CREATE TABLE IF NOT EXISTS "{name}" (id BLOB NOT NULL, kind SMALLINT NOT NULL, '
                "ts BIGINT NOT NULL, PRIMARY KEY (id, kind, ts)) WITHOUT ROWID"
            )
        created.append(name)
    return created


def drop_before(conn: Connection, cutoff: datetime) -> list[str]:
    """Drop the week slices that end at or before ``cutoff``; returns their names."""
    dropped = []
    for monday, name in sorted(existing(conn).items()):
        if datetime(monday.year, monday.month, monday.day, tzinfo=UTC) + timedelta(7) <= cutoff:
            conn.exec_driver_sql(f'DROP TABLE "{name}"')
            dropped.append(name)
    return dropped


# --- writes ---------------------------------------------------------------------------------


def write(conn: Connection, rows: Sequence[Mapping[str, Any]], fresh: bool = False) -> int:
    """Add the entries of ``request_log`` rows (those stored already are kept).

    ``fresh``: the caller has just inserted every row as new (Postgres' COPY path), so their
    entries are new too and one binary COPY writes them; otherwise (and if a COPY meets a stored
    entry after all) ``INSERT ... ON CONFLICT DO NOTHING``.
    """
    found = entries(rows)
    found.sort()  # in key order: each b-tree page is visited once, in turn (measured faster)
    if conn.dialect.name == "postgresql":
        ensure(conn, mondays(found))
        if not (fresh and _pg_copy(conn, found)):
            _pg_insert(conn, found)
        return len(found)
    weeks = by_week(found)
    ensure(conn, weeks)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for monday, week in weeks.items():
            cursor.executemany(
                f'INSERT OR IGNORE INTO "{slice_name(monday)}" (id, kind, ts) VALUES (?, ?, ?)',
                week,
            )
    finally:
        cursor.close()
    return len(found)


def _pg_copy(conn: Connection, found: list[Entry]) -> bool:
    """Binary COPY (safe here: every value is made by :func:`entries`, in range by its type)."""
    raw: Any = conn.connection.dbapi_connection
    try:
        sql = f'COPY "{TABLE}" (id, kind, ts) FROM STDIN (FORMAT BINARY)'
        with conn.begin_nested(), raw.cursor() as cur:
            pg_copy.c_dumpers(cur)
            with cur.copy(sql) as copy:
                copy.set_types(["bytea", "int2", "int8"])
                for entry in found:
                    copy.write_row(entry)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _pg_insert(conn: Connection, found: list[Entry]) -> None:
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        for start in range(0, len(found), BATCH):
            chunk = found[start : start + BATCH]
            cur.execute(
                f'INSERT INTO "{TABLE}" (id, kind, ts) '
                "SELECT * FROM unnest(%s::bytea[], %s::int2[], %s::int8[]) "
                "ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*chunk, strict=True)],
            )


def forget(conn: Connection, found: Iterable[Entry]) -> int:
    """Delete these entries (a row deleted from ``request_log``)."""
    gone = 0
    if conn.dialect.name == "postgresql":
        for ident, kind, us in found:
            gone += int(
                conn.execute(
                    text(f'DELETE FROM "{TABLE}" WHERE id = :i AND kind = :k AND ts = :t'),
                    {"i": ident, "k": kind, "t": us},
                ).rowcount
                or 0
            )
        return gone
    names = existing(conn)
    for monday, week in by_week(found).items():
        if monday in names:
            for ident, kind, us in week:
                gone += int(
                    conn.execute(
                        text(
                            f'DELETE FROM "{names[monday]}" WHERE id = :i AND kind = :k AND ts = :t'
                        ),
                        {"i": ident, "k": kind, "t": us},
                    ).rowcount
                    or 0
                )
    return gone


# --- reads ----------------------------------------------------------------------------------


def probe(conn: Connection, kind: int, ids: Sequence[str]) -> list[tuple[bytes, int]]:
    """``(encoded id, ts)`` of every entry of ``ids``, newest first, in one statement.

    Postgres probes each week partition's key; SQLite a ``UNION ALL`` over the week tables.
    """
    keys = [encode(i) for i in ids]
    if not keys:
        return []
    params: dict[str, Any] = {f"i{n}": key for n, key in enumerate(keys)}
    params["k"] = kind
    sources = (TABLE,) if conn.dialect.name == "postgresql" else _sqlite_slices(conn)
    if not sources:
        return []
    found = [(bytes(i), int(t)) for i, t in conn.execute(_probe_sql(sources, len(keys)), params)]
    return sorted(found, key=itemgetter(1), reverse=True)


#: SQLite: per engine, the schema version and the week tables listed at that version.
_LISTED: WeakKeyDictionary[Engine, tuple[int, tuple[str, ...]]] = WeakKeyDictionary()


def _sqlite_slices(conn: Connection) -> tuple[str, ...]:
    """The week tables, listed again only when the schema has changed.

    Creating or dropping a slice (here or in another process) bumps the database's
    ``PRAGMA schema_version``, which is read from the file's header at the start of every read;
    listing ``sqlite_master`` took a third of a look-up's time at 10 M rows (0.12 of 0.37 ms).
    """
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    listed = _LISTED.get(conn.engine)
    if listed is None or listed[0] != version:
        listed = (version, tuple(existing(conn).values()))
        if conn.engine.url.database not in (None, "", ":memory:"):  # one engine, one file
            _LISTED[conn.engine] = listed
    return listed[1]


@lru_cache(maxsize=64)
def _probe_sql(sources: tuple[str, ...], count: int) -> TextClause:
    marks = ", ".join(f":i{n}" for n in range(count))
    return text(
        " UNION ALL ".join(
            f'SELECT id, ts FROM "{name}" WHERE kind = :k AND id IN ({marks})' for name in sources
        )
    )


# --- filling from request_log ----------------------------------------------------------------


def fill(conn: Connection, start: datetime | None = None, end: datetime | None = None) -> int:
    """Write the entries of the ``request_log`` rows stored in ``[start, end)`` (all by default),
    a day at a time; the migration and the benchmark's SQL-made rows use it."""
    bounds = conn.exec_driver_sql("SELECT min(ts), max(ts) FROM request_log").one()
    if bounds[0] is None:
        return 0
    # read through the driver: SQLite's stored number (or pre-0014 text), Postgres's datetime
    first = stored_time(bounds[0]) if start is None else start
    last = stored_time(bounds[1]) + _US if end is None else end
    day = datetime(first.year, first.month, first.day, tzinfo=UTC)
    written = 0
    select = (
        text(
            "SELECT ts, correlation_id, client_request_id FROM request_log "
            "WHERE ts >= :a AND ts < :b"
        )
        .bindparams(bindparam("a", type_=UTCDateTime()), bindparam("b", type_=UTCDateTime()))
        .columns(ts=UTCDateTime(), correlation_id=String(), client_request_id=String())
    )
    while day < last:
        a, b = max(day, first), min(day + timedelta(days=1), last)
        rows = [
            {"ts": ts, "correlation_id": cid, "client_request_id": client}
            for ts, cid, client in conn.execute(select, {"a": a, "b": b})
        ]
        written += write(conn, rows)
        day += timedelta(days=1)
    return written
