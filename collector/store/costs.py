"""A cost scope's daily rows (``cost_daily``), replaced window by window.

Which rows to write and which to delete is worked out by the pure :func:`revise`: a row whose
amount changed gets ``revision + 1`` and keeps its ``first_cost``, unchanged rows keep their
``changed_at``, and rows the answer no longer has go. Rows come as plain mappings with the
fields of ``collector.rows.CostRow``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.store import writer
from collector.store.schema import TABLES

KEY_COLUMNS = ("day", "resource_id", "meter", "publisher_type", "charge_type", "currency")
Row = Mapping[str, Any]
Key = tuple[Any, ...]


def revise(
    existing: Mapping[Key, Mapping[Any, Any]], rows: Sequence[Row], scope: str, now: datetime
) -> tuple[list[dict[str, Any]], list[Key]]:
    """The rows to write for ``scope`` (the answer's, with revision, ``first_cost`` and times)
    and the keys of stored rows (``existing``, by :data:`KEY_COLUMNS`) the answer lacks."""
    merged: dict[Key, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[c] for c in KEY_COLUMNS)
        if key in merged:  # the same key twice in one answer: add them up
            merged[key]["cost"] += row["cost"]
            continue
        merged[key] = {
            "day": row["day"],
            "scope": scope,
            "resource_id": row["resource_id"],
            "meter": row["meter"],
            "publisher_type": row["publisher_type"],
            "charge_type": row["charge_type"],
            "currency": row["currency"],
            "cost": row["cost"],
            "quantity": row["quantity"],
        }
    out = []
    for key, row in merged.items():
        before = existing.get(key)
        if before is None:
            row.update(first_cost=row["cost"], revision=0, fetched_at=now, changed_at=now)
        elif before["cost"] != row["cost"]:
            row.update(
                first_cost=before["first_cost"],
                revision=before["revision"] + 1,
                fetched_at=now,
                changed_at=now,
            )
        else:
            row.update(
                first_cost=before["first_cost"],
                revision=before["revision"],
                fetched_at=now,
                changed_at=before["changed_at"],
            )
        out.append(row)
    return out, [k for k in existing if k not in merged]


def replace_costs(
    conn: Connection, scope: str, first: date, last: date, rows: Sequence[Row], now: datetime
) -> int:
    """Replace the stored cost rows of ``scope`` for ``[first, last]`` with ``rows``."""
    table = TABLES["cost_daily"]
    existing = {
        tuple(r[c] for c in KEY_COLUMNS): r
        for r in conn.execute(
            select(table).where(table.c.scope == scope, table.c.day >= first, table.c.day <= last)
        ).mappings()
    }
    out, stale = revise(existing, rows, scope, now)
    writer.delete(
        conn,
        table,
        [{"scope": scope, **dict(zip(KEY_COLUMNS, key, strict=True))} for key in stale],
    )
    writer.upsert(conn, table, out)
    return len(out)
