"""Resources and deployments as the inventory lists them, with their change log.

``write_inventory`` upserts what a subscription's listing has, marks what disappeared as removed
and records every change in ``deployment_change``; which changes those are is worked out by the
pure :func:`deployment_changes`. Rows come as plain mappings with the fields of the sources'
``ResourceRow`` and ``DeploymentRow`` (the store never imports the sources).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.store import writer
from collector.store.ids import deployment_ids
from collector.store.schema import TABLES

TRACKED_FIELDS = ("model", "model_version", "sku", "capacity")
RESOURCE_FIELDS = (
    "id",
    "subscription_id",
    "resource_group",
    "name",
    "kind",
    "location",
    "endpoint",
    "internal_id",
)
Row = Mapping[str, Any]
#: (deployment id, field, old value, new value)
Change = tuple[int, str, str | None, str | None]


def active_resources(conn: Connection) -> list[dict[str, Any]]:
    """The resources not marked removed, with the fields of a ``ResourceRow``."""
    table = TABLES["resource"]
    rows = conn.execute(select(table).where(table.c.removed_at.is_(None))).mappings().all()
    return [{name: r[name] for name in RESOURCE_FIELDS} for r in rows]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def deployment_changes(
    old: Mapping[tuple[str, str], Mapping[Any, Any]],
    deployments: Sequence[Row],
    ids: Mapping[tuple[str, str], int],
) -> tuple[list[Change], list[int]]:
    """What changed between the stored deployments (``old``, by (resource id, name)) and the
    listed ones: created ones, tracked fields that differ, and removed ones; with the ids of the
    deployments to mark removed (stored, not removed yet, no longer listed)."""
    changes: list[Change] = []
    for d in deployments:
        before = old.get((d["resource_id"], d["name"]))
        deployment_id = ids[(d["resource_id"], d["name"])]
        if before is None or before["model"] is None:
            changes.append(
                (deployment_id, "created", None, f"{d['model']} {d['model_version'] or ''}".strip())
            )
            continue
        for name in TRACKED_FIELDS:
            old_value, new_value = before[name], d[name]
            if old_value != new_value:
                changes.append((deployment_id, name, _text(old_value), _text(new_value)))
    seen = {(d["resource_id"], d["name"]) for d in deployments}
    removed = []
    for key, before in old.items():
        if key not in seen and before["removed_at"] is None and before["model"] is not None:
            removed.append(before["id"])
            changes.append((before["id"], "removed", before["model"], None))
    return changes, removed


def write_inventory(
    conn: Connection,
    subscription: str,
    resources: Sequence[Row],
    deployments: Sequence[Row],
    now: datetime,
) -> int:
    """Upsert resources and deployments, record changes, mark what disappeared as removed."""
    rtable, dtable = TABLES["resource"], TABLES["deployment"]
    old_resources = {
        r["id"]: r
        for r in conn.execute(
            select(rtable).where(rtable.c.subscription_id == subscription)
        ).mappings()
    }
    writer.upsert(
        conn,
        rtable,
        [
            {
                **{name: r[name] for name in RESOURCE_FIELDS},
                "first_seen": old_resources[r["id"]]["first_seen"]
                if r["id"] in old_resources
                else now,
                "last_seen": now,
                "removed_at": None,
            }
            for r in resources
        ],
    )
    seen_ids = {r["id"] for r in resources}
    gone = [
        rid
        for rid, row in old_resources.items()
        if rid not in seen_ids and row["removed_at"] is None
    ]
    if gone:
        conn.execute(rtable.update().where(rtable.c.id.in_(gone)).values(removed_at=now))

    resource_ids = set(old_resources) | seen_ids
    old = {
        (d["resource_id"], d["name"]): d
        for d in conn.execute(
            select(dtable).where(dtable.c.resource_id.in_(sorted(resource_ids)))
        ).mappings()
    }
    rows = []
    for d in deployments:
        before = old.get((d["resource_id"], d["name"]))
        rows.append(
            {
                "resource_id": d["resource_id"],
                "name": d["name"],
                "model": d["model"],
                "model_version": d["model_version"],
                "model_format": d["model_format"],
                "sku": d["sku"],
                "capacity": d["capacity"],
                "provisioning_state": d["provisioning_state"],
                "first_seen": before["first_seen"] if before and before["first_seen"] else now,
                "last_seen": now,
                "removed_at": None,
            }
        )
    writer.upsert(conn, dtable, rows)
    ids = deployment_ids(conn, {(d["resource_id"], d["name"]) for d in deployments})
    changes, removed = deployment_changes(old, deployments, ids)
    if removed:
        conn.execute(dtable.update().where(dtable.c.id.in_(removed)).values(removed_at=now))
    writer.upsert(
        conn,
        TABLES["deployment_change"],
        [
            {"deployment_id": i, "changed_at": now, "field": f, "old_value": o, "new_value": n}
            for i, f, o, n in changes
        ],
    )
    return len(resources) + len(deployments)


def write_usages(
    conn: Connection,
    subscription: str,
    locations: Sequence[str],
    rows: Sequence[Row],
    now: datetime,
) -> int:
    """Replace the subscription's usages in ``locations`` by ``rows`` (fields of the sources'
    ``QuotaUsageRow``): upsert what was listed, delete what these locations no longer list."""
    table = TABLES["quota_usage"]
    writer.upsert(conn, table, [{**dict(r), "fetched_at": now} for r in rows])
    listed = {(r["location"], r["name"]) for r in rows}
    stored = conn.execute(
        select(table.c.location, table.c.name).where(
            table.c.subscription_id == subscription, table.c.location.in_(list(locations))
        )
    ).all()
    gone = [{"subscription_id": subscription, "location": loc, "name": name}
            for loc, name in stored if (loc, name) not in listed]  # fmt: skip
    if gone:
        writer.delete(conn, table, gone)
    return len(rows)
