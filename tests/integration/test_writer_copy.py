"""The bulk path (``COPY_THRESHOLD`` rows or more): binary COPY on Postgres where every value
fits, text otherwise. Whichever way a batch goes, it stores exactly what the row-by-row
statement would, and refuses what it would refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.errors import StoreError
from collector.store.schema import TABLES
from collector.store.writer import COPY_THRESHOLD, upsert

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SIZE = COPY_THRESHOLD + 5


def _requests(n: int = SIZE, **values: Any) -> list[dict[str, Any]]:
    return [
        {
            "ts": T0 + i * timedelta(seconds=7),
            "correlation_id": f"{i:08x}-0000-4000-8000-{i:012x}",
            "deployment_id": 1 + i % 3,
            "status_code": 200,
            "duration_ms": 100 + i,
            "request_bytes": 1000 + i,
            "caller_ip": "10.0.0.1",
            **values,
        }
        for i in range(n)
    ]


def _stored(engine: Engine, table: str) -> list[dict[str, Any]]:
    t = TABLES[table]
    with engine.connect() as conn:
        found = conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()
        return [dict(row) for row in found]


#: column, a value just inside its range, one just outside (smallint, integer, bigint)
EDGES = [
    ("status_code", -(2**15), 2**15),
    ("status_code", 2**15 - 1, -(2**15) - 1),
    ("duration_ms", 2**31 - 1, 2**31),
    ("request_bytes", -(2**63), 2**63),
]


@pytest.mark.parametrize(("column", "inside", "outside"), EDGES)
@pytest.mark.parametrize("stored_before", [False, True], ids=["new rows", "stored rows"])
def test_an_integer_out_of_its_column_range_is_refused_not_wrapped(
    pg_store: Engine, column: str, inside: int, outside: int, stored_before: bool
) -> None:
    """binary COPY would store 2**15 in a smallint as -32768: the batch must fail instead,
    whether it is COPY-ed straight in (new rows) or staged and merged (stored rows)."""
    rows = _requests()
    if stored_before:
        with pg_store.begin() as conn:
            upsert(conn, "request_log", rows)
    before = _stored(pg_store, "request_log")
    bad = [{**row, column: inside} for row in rows]
    bad[SIZE // 2] = {**bad[SIZE // 2], column: outside}
    with pytest.raises(StoreError, match="out of range"), pg_store.begin() as conn:
        upsert(conn, "request_log", bad)
    assert _stored(pg_store, "request_log") == before
    with pg_store.begin() as conn:  # the edge itself is stored as it is
        upsert(conn, "request_log", [{**row, column: inside} for row in rows])
    assert {row[column] for row in _stored(pg_store, "request_log")} == {inside}


def test_a_string_too_long_for_its_column_is_refused(pg_store: Engine) -> None:
    rows = _requests()
    rows[7] = {**rows[7], "caller_ip": "x" * 65}  # varchar(64)
    with pytest.raises(StoreError, match="too long"), pg_store.begin() as conn:
        upsert(conn, "request_log", rows)
    assert _stored(pg_store, "request_log") == []


def _metric(i: int, **values: Any) -> dict[str, Any]:
    return {
        "ts": T0 + timedelta(minutes=i),
        "deployment_id": 1,
        "metric": "OutputTokens",
        "status_code": 0,
        **values,
    }


@pytest.mark.parametrize("rewrite", [False, True], ids=["new rows", "stored rows"])
def test_values_come_back_exactly_as_written(store: Engine, rewrite: bool) -> None:
    """Edge values through the bulk path (straight COPY, or staged when rewritten): floats
    at their limits, integers given for floats, text that text COPY must escape."""
    floats = [1e308, -5e-324, 0.1, -0.0, float("inf"), 2.0**62, None]
    texts = ["tab\there", "new\nline", "back\\slash", "\\N", "é€😀", "", None]
    rows = [_metric(i, total=floats[i % len(floats)], count=i, average=None) for i in range(SIZE)]
    requests = _requests(caller_ip=None)
    requests = [{**r, "properties": texts[i % len(texts)]} for i, r in enumerate(requests)]
    if rewrite:
        with store.begin() as conn:
            upsert(conn, "metric_minute", [{**r, "total": 1.0} for r in rows])
            upsert(conn, "request_log", [{**r, "properties": "x"} for r in requests])
    with store.begin() as conn:
        upsert(conn, "metric_minute", rows)
        upsert(conn, "request_log", requests)
    metrics = _stored(store, "metric_minute")
    assert [(m["total"], m["count"], m["average"]) for m in metrics] == [
        (r["total"], float(r["count"]), None) for r in rows
    ]
    assert all(type(m["count"]) is float for m in metrics)
    assert [r["properties"] for r in _stored(store, "request_log")] == [
        r["properties"] for r in requests
    ]


def test_numbers_given_as_text_are_stored_as_numbers(store: Engine) -> None:
    """A value of another type goes the way it always went (text, parsed by the database)."""
    rows = _requests()
    rows[3] = {**rows[3], "status_code": "429"}
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    codes = [row["status_code"] for row in _stored(store, "request_log")]
    assert codes[3] == 429 and set(codes) == {200, 429}
