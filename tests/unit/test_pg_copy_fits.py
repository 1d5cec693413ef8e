"""Which values the Postgres bulk path sends as binary COPY (:func:`collector.store.pg_copy.fits`):
only those psycopg would send unchanged; the rest go as text, which Postgres checks itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from collector.store.pg_copy import binary_types, fits

T = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("type_name", "column"),
    [
        ("int2", [-(2**15), 0, None, 2**15 - 1]),
        ("int4", [-(2**31), 2**31 - 1]),
        ("int8", [-(2**63), 2**63 - 1, None]),
        ("int4", [None, None]),
        ("int2", [0, 0]),
        ("float8", [1.5, None, -(2**63), 2**63 - 1, float("inf")]),
        ("text", ["a\tb\\c\n", None, ""]),
        ("varchar", ["é"]),
        ("bool", [True, False, None]),
        ("bytea", [b"\x00\xff"]),
        ("date", [date(2026, 11, 1), None]),
        ("timestamptz", [T, T.astimezone(timezone(timedelta(hours=5))), None]),
    ],
)
def test_values_that_fit_their_column_go_binary(type_name: str, column: list[Any]) -> None:
    assert fits(type_name, column)


@pytest.mark.parametrize(
    ("type_name", "column"),
    [
        ("int2", [1, 2**15]),  # psycopg would send it wrapped around
        ("int2", [-(2**15) - 1, 1]),
        ("int4", [0, 2**31]),
        ("int8", [2**63]),
        ("int8", [-(2**63) - 1]),
        ("float8", [1.5, 2**63]),
        ("int4", [1, True]),  # bool: text "t", which Postgres refuses for an integer
        ("int4", [1, 2.0]),
        ("int4", ["3"]),
        ("float8", [Decimal("1.5")]),
        ("text", [1]),
        ("bool", [1]),
        ("date", [T]),  # a datetime is a date, but not one Postgres's date takes as such
        ("timestamptz", [T, T.replace(tzinfo=None)]),  # naive: the writer makes it UTC first
        ("timestamptz", [date(2026, 11, 1)]),
        ("numeric", [Decimal("1.5")]),  # not sent binary at all
        ("jsonb", ["{}"]),
    ],
)
def test_values_that_might_not_fit_go_as_text(type_name: str, column: list[Any]) -> None:
    assert not fits(type_name, column)


def test_one_column_as_text_sends_the_whole_batch_as_text() -> None:
    types = {"a": "int4", "b": "int2", "c": "numeric"}
    assert binary_types(types, ["a", "b"], [[1, 2], [3, 4]]) == ["int4", "int2"]
    assert binary_types(types, ["a", "b"], [[1, 2], [3, 2**15]]) is None
    assert binary_types(types, ["a", "c"], [[1, 2], [None, None]]) is None
    assert binary_types(types, ["a", "x"], [[1], [1]]) is None  # a column the catalog lacks
