"""COPY rows into a Postgres table: binary when every value is known to fit its column, else text.

Binary COPY is psycopg's fastest bulk path (the store bench: 2.5 times text COPY on
``metric_minute``), but psycopg sends what it is given in the column's format without checking
it: an integer too large for a ``smallint`` arrives wrapped around (70,000 is stored as 4,464),
where text COPY has Postgres parse the value and refuse it. So a batch goes binary only when, in
every column,

- the column's type is one of :data:`BINARY` (others, ``numeric`` for one, go as text);
- every value is ``None`` or exactly of the Python type(s) that type takes (no ``bool`` for an
  integer, no subclass: their text form is what Postgres checks on the text path);
- every integer is within the column's range, and every ``datetime`` is aware.

Otherwise the whole batch goes as text, as it always did. What Postgres itself checks on receipt
is checked on both paths alike: a ``varchar(n)`` value too long fails either way (PostgreSQL's
``varchar.c``: ``varchar_input`` is the "common guts of varcharin and varcharrecv", applying the
column's length), as do NOT NULL and the key's uniqueness.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any

import psycopg
from psycopg.types.string import BytesBinaryDumper

#: Per Postgres type sent binary, the Python types a value may have (besides None).
BINARY: dict[str, frozenset[type]] = {
    "int2": frozenset({int}),
    "int4": frozenset({int}),
    "int8": frozenset({int}),
    "float8": frozenset({float, int}),
    "text": frozenset({str}),
    "varchar": frozenset({str}),
    "bool": frozenset({bool}),
    "bytea": frozenset({bytes}),
    "date": frozenset({date}),
    "timestamptz": frozenset({datetime}),
}
#: Integer types' ranges: -limit <= value < limit. A ``float8`` takes integers of ``int8``'s
#: range (exactly those Postgres parses from text without error, and psycopg converts to
#: double as Postgres does).
_LIMITS = {"int2": 2**15, "int4": 2**31, "int8": 2**63, "float8": 2**63}


def column_types(cur: psycopg.Cursor[Any], table: str) -> dict[str, str]:
    """``table``'s columns and their Postgres type names, as the catalog has them now."""
    found = cur.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (f'"{table}"',),
    ).fetchall()
    return {str(name): str(type_name) for name, type_name in found}


def binary_types(
    types: dict[str, str], columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> list[str] | None:
    """The type names to send ``values`` (one sequence per column) in binary, or None when some
    column's values must go as text."""
    chosen = []
    for name, column in zip(columns, values, strict=True):
        type_name = types.get(name)
        if type_name is None or not fits(type_name, column):
            return None
        chosen.append(type_name)
    return chosen


def fits(type_name: str, column: Sequence[Any]) -> bool:
    """Whether every value of ``column`` goes binary into a column of ``type_name`` unchanged.

    Each test is one pass in C (``set``, ``map``, ``min``, ``max``): no Python per value.
    """
    allowed = BINARY.get(type_name)
    if allowed is None:
        return False
    kinds = set(map(type, column))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    if not kinds <= allowed:
        return False
    limit = _LIMITS.get(type_name)
    if limit is not None and int in kinds:
        ints: Sequence[int] = column
        if float in kinds:
            ints = [v for v in column if type(v) is int]
        elif nulls:  # None does not compare; zeros, dropped too, are in range anyway
            ints = list(filter(None, column))
        if ints and not (-limit <= min(ints) and max(ints) < limit):
            return False
    if datetime in kinds:
        return None not in map(attrgetter("tzinfo"), filter(None, column))
    return True


def c_dumpers(cur: psycopg.Cursor[Any]) -> None:
    """Have ``cur`` send ``bytea`` values binary through psycopg's C dumper.

    Looked up by type (``set_types``), ``bytea`` finds the last dumper registered for it:
    ``psycopg.dbapi20``'s, which accepts its ``Binary`` wrapper too and runs Python for every
    value (0.5 us: a fifth of writing ``request_id_index``'s entries). Registering ``bytes``
    again, on this cursor only, puts the C one back for the type."""
    cur.adapters.register_dumper(bytes, BytesBinaryDumper)


def copy(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    types: Sequence[str] | None,
) -> None:
    """COPY the rows of ``values`` (one sequence per column) into ``table``: binary with
    ``types`` (from :func:`binary_types`), text when it is None."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    binary = " (FORMAT BINARY)" if types is not None else ""
    with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN{binary}') as copy:
        if types is not None:
            c_dumpers(cur)
            copy.set_types(list(types))
        write = copy.write_row
        for row in zip(*values, strict=True):
            write(row)
