"""Small integer ids for the raw tables: (resource id, deployment name) -> ``deployment.id``,
(dimension, value) -> ``metric_label.id``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, select, tuple_

from collector.store.schema import TABLES
from collector.store.writer import upsert


def deployment_ids(
    conn: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Ids of the given (lower-case resource id, name) pairs, creating rows for unknown ones.

    A deployment seen in metrics or logs before the inventory knows it gets a row with no model;
    the next inventory run fills it in (the upsert key is the same pair).
    """
    wanted = {(r.lower(), n) for r, n in pairs}
    if not wanted:
        return {}
    found = _lookup(conn, wanted)
    missing = wanted - set(found)
    if missing:
        now = datetime.now(UTC)
        upsert(
            conn,
            TABLES["deployment"],
            [
                {"resource_id": r, "name": n, "first_seen": now, "last_seen": now}
                for r, n in sorted(missing)
            ],
        )
        found.update(_lookup(conn, missing))
    return found


def _lookup(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    table = TABLES["deployment"]
    found: dict[tuple[str, str], int] = {}
    items = sorted(pairs)
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        rows = conn.execute(
            select(table.c.resource_id, table.c.name, table.c.id).where(
                tuple_(table.c.resource_id, table.c.name).in_(chunk)
            )
        )
        found.update({(r, n): i for r, n, i in rows})
    return found


def label_ids(conn: Connection, dimension: str, values: Iterable[str]) -> dict[str, int]:
    """``metric_label`` ids of ``dimension``'s values, creating rows for new ones; the empty
    value (the dimension was absent) is 0 and has no row."""
    wanted = {v for v in values if v}
    found: dict[str, int] = {"": 0}
    if not wanted:
        return found
    table = TABLES["metric_label"]

    def lookup() -> dict[str, int]:
        rows = conn.execute(
            select(table.c.value, table.c.id).where(
                table.c.dimension == dimension, table.c.value.in_(sorted(wanted))
            )
        )
        return {value: ident for value, ident in rows}

    found.update(lookup())
    missing = wanted - set(found)
    if missing:
        upsert(conn, table, [{"dimension": dimension, "value": v} for v in sorted(missing)])
        found.update(lookup())
    return found
