"""Inventory reads: the deployments (for filters and pickers) and their recorded changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from sqlalchemy import Engine, select

from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    Filter,
    NameFilters,
    _check_window,
    _ids_in,
    _inventory_join,
    _label,
    _multi_version,
    _reading,
    _resource_name,
    _with_deployment,
)
from collector.store.schema import TABLES
from collector.store.types import to_utc
from collector.versions import hosting_of

_CHANGE = TABLES["deployment_change"]


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """A deployment of the inventory with its resource."""

    deployment_id: int
    resource: str
    resource_id: str
    deployment: str
    model: str | None
    model_version: str | None
    sku: str | None
    capacity: int | None
    removed_at: datetime | None
    #: ARM's properties.model.format (``Anthropic`` for Claude)
    model_format: str | None = None
    #: "Anthropic-hosted" (Claude version 1), "Azure-hosted" (version 2), None when not known
    hosting: str | None = None
    #: the model as shown: with its version (and hosting) when the inventory holds the model in
    #: more than one version (:func:`collector.versions.model_label`)
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentChangeEvent:
    """One inventory change of a deployment (created, removed, version, SKU, capacity)."""

    changed_at: datetime
    deployment_id: int
    deployment: str
    resource: str
    field: str
    old_value: str | None
    new_value: str | None


def deployments(
    engine: Engine,
    *,
    include_removed: bool = False,
    **filters: Unpack[NameFilters],
) -> list[DeploymentInfo]:
    """Deployments of the inventory, by resource then name (for filters and pickers)."""
    where = Filter(**filters).conditions()
    if not include_removed:
        where.append(_DEPLOYMENT.c.removed_at.is_(None))
    stmt = (
        select(_DEPLOYMENT, _RESOURCE.c.name.label("resource_name"))
        .select_from(_inventory_join())
        .where(*where)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        multi = _multi_version(conn)
    found = [
        DeploymentInfo(
            deployment_id=r["id"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            resource_id=r["resource_id"],
            deployment=r["name"],
            model=r["model"],
            model_version=r["model_version"],
            sku=r["sku"],
            capacity=r["capacity"],
            removed_at=r["removed_at"],
            model_format=r["model_format"],
            hosting=hosting_of(r["model_format"], r["model_version"]),
            model_label=_label(multi, r["model"], r["model_version"], r["model_format"]),
        )
        for r in rows
    ]
    return sorted(found, key=lambda d: (d.resource, d.deployment, d.deployment_id))


def deployment_changes(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[DeploymentChangeEvent]:
    """Inventory changes in ``[since, until)``, oldest first (chart annotations)."""
    since, until = _check_window(since, until)
    c, d = _CHANGE, _DEPLOYMENT
    stmt = (
        select(c, d.c.name, d.c.resource_id, _RESOURCE.c.name.label("resource_name"))
        .select_from(_with_deployment(c))
        .where(
            c.c.changed_at >= since,
            c.c.changed_at < until,
            *_ids_in(c.c.deployment_id, deployment_ids),
        )
        .order_by(c.c.changed_at, c.c.deployment_id, c.c.field)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        DeploymentChangeEvent(
            changed_at=to_utc(r["changed_at"]),
            deployment_id=r["deployment_id"],
            deployment=r["name"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
        )
        for r in rows
    ]
