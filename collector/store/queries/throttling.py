"""Rate limits (issue #6): quota pools and throttle causes.

A quota pool is (subscription, model, version, kind Global / DataZone / other SKU, zone)
(:mod:`collector.pools`, :mod:`collector.store.pool_sql`): its deployments share the Claude
quota, so a deployment can be throttled by traffic on another one, in another region too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, literal_column, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from collector.store.pool_sql import POOL_COLUMNS, pool_columns
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    REQUESTS,
    _check_window,
    _ids_in,
    _int,
    _metric_rows,
    _ratio,
    _reading,
    _resource_name,
    _segments,
    _sum_if,
    parse_step,
    time_bucket,
)
from collector.store.rollup import throttled_minutes
from collector.store.schema import TABLES
from collector.store.types import to_utc

_THROTTLE_HOUR = TABLES["throttle_hour"]

#: Causes reported by :func:`throttle_causes`.
CAUSE_POOL = "pool"  # other deployments of the pool were throttled in the same minutes
CAUSE_OWN = "own"  # only this deployment was throttled


@dataclass(frozen=True, slots=True)
class PoolPoint:
    """One quota pool (subscription, model, version, kind, zone) over one step."""

    ts: datetime
    subscription_id: str
    model: str
    requests: int
    status_429: int
    rate_429: float | None
    deployments_throttled: int
    model_version: str = ""
    kind: str = ""
    zone: str = ""


@dataclass(frozen=True, slots=True)
class ThrottleCause:
    """A throttled deployment: in how many of its throttled minutes its pool was throttled too.

    ``cause`` is :data:`CAUSE_POOL` when at least half of its throttled minutes saw 429s on
    another deployment of the same pool, else :data:`CAUSE_OWN`.
    """

    deployment_id: int
    resource: str
    deployment: str
    subscription_id: str
    model: str | None
    pool_deployments: int
    status_429: int
    throttled_minutes: int
    shared_minutes: int
    cause: str
    model_version: str = ""
    kind: str = ""
    zone: str = ""


def _pool_members() -> Any:
    """Deployment id with its pool key (:data:`POOL_COLUMNS`), raw model and resource name."""
    d, r = _DEPLOYMENT, _RESOURCE
    return (
        select(
            d.c.id.label("deployment_id"),
            d.c.name,
            d.c.model.label("raw_model"),
            d.c.resource_id,
            r.c.name.label("resource_name"),
            *pool_columns(r.c.subscription_id, d.c.model, d.c.model_version, d.c.sku, r.c.location),
        )
        .select_from(d.outerjoin(r, r.c.id == d.c.resource_id))
        .subquery("members")
    )


def pool_throttling(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    deployment_ids: Sequence[int] | None = None,
) -> list[PoolPoint]:
    """Per step and quota pool (subscription x model): requests, 429s, throttled deployments.

    ``deployment_ids`` selects the pools (those of the given deployments); the figures always
    cover every deployment of a selected pool, since they share the quota.
    """
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    m = _metric_rows(since, until, [REQUESTS], step_s=seconds)
    members = _pool_members()
    bucket = time_bucket(m.c.ts, seconds, engine.dialect.name)
    key = [members.c[c] for c in POOL_COLUMNS]
    where: list[ColumnElement[bool]] = [members.c.raw_model.is_not(None)]
    if deployment_ids is not None:
        chosen = (
            select(*key).where(members.c.deployment_id.in_(list(deployment_ids))).subquery("chosen")
        )
        where.append(and_(*(members.c[c].in_(select(chosen.c[c])) for c in POOL_COLUMNS)))
    # sums per step and deployment first (in the rollups' key order), then each deployment's
    # pool: the pool key's expressions run once per deployment-step, not once per stored row
    sums = (
        select(
            bucket.label("ts"),
            m.c.deployment_id,
            func.sum(m.c.total).label("requests"),
            _sum_if(m.c.status_code == 429, m.c.total).label("s429"),
        )
        .group_by(bucket, m.c.deployment_id)
        .subquery("sums")
    )
    per_dep = (
        select(sums.c.ts, *key, sums.c.requests, sums.c.s429)
        .select_from(sums.join(members, members.c.deployment_id == sums.c.deployment_id))
        .where(*where)
        .subquery("per_dep")
    )
    pkey = [per_dep.c[c] for c in POOL_COLUMNS]
    stmt = (
        select(
            per_dep.c.ts,
            *pkey,
            func.sum(per_dep.c.requests).label("requests"),
            func.sum(per_dep.c.s429).label("s429"),
            func.sum(case((per_dep.c.s429 > 0, 1), else_=0)).label("throttled"),
        )
        .group_by(per_dep.c.ts, *pkey)
        .order_by(per_dep.c.ts, *pkey)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    result = []
    for r in rows:
        requests, s429 = _int(r.requests), _int(r.s429)
        result.append(
            PoolPoint(
                ts=to_utc(r.ts),
                subscription_id=r.subscription_id,
                model=r.model,
                requests=requests,
                status_429=s429,
                rate_429=_ratio(s429, requests),
                deployments_throttled=int(r.throttled or 0),
                model_version=r.model_version,
                kind=r.kind,
                zone=r.zone,
            )
        )
    return result


def throttle_causes(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[ThrottleCause]:
    """For each selected deployment with 429s: its throttled minutes and how many of them saw
    429s on another deployment of its pool (same subscription and model), most 429s first."""
    since, until = _check_window(since, until)
    members = _pool_members()
    parts: list[Select[Any]] = []
    for level, lo, hi in _segments(since, until, 3600):
        if level == "hour":
            th = _THROTTLE_HOUR
            parts.append(
                select(
                    th.c.deployment_id,
                    th.c.status_429,
                    th.c.minutes,
                    th.c.shared_minutes.label("shared"),
                ).where(th.c.ts >= lo, th.c.ts < hi)
            )
        else:
            t = throttled_minutes(lo, hi)
            parts.append(
                select(
                    t.c.deployment_id,
                    t.c.status_429,
                    literal_column("1").label("minutes"),
                    t.c.shared,
                )
            )
    throttled = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("throttled")
    per_dep = (
        select(
            throttled.c.deployment_id,
            func.sum(throttled.c.status_429).label("s429"),
            func.sum(throttled.c.minutes).label("minutes"),
            func.sum(throttled.c.shared).label("shared"),
        )
        .where(*_ids_in(throttled.c.deployment_id, deployment_ids))
        .group_by(throttled.c.deployment_id)
        .subquery("per_dep")
    )
    key = [members.c[c] for c in POOL_COLUMNS]
    pool_size = (
        select(*key, func.count().label("size"))
        .where(_DEPLOYMENT.c.id == members.c.deployment_id, _DEPLOYMENT.c.removed_at.is_(None))
        .group_by(*key)
        .subquery("pool_size")
    )
    stmt = (
        select(per_dep, members, pool_size.c.size)
        .select_from(
            per_dep.join(members, members.c.deployment_id == per_dep.c.deployment_id).outerjoin(
                pool_size,
                and_(*(pool_size.c[c] == members.c[c] for c in POOL_COLUMNS)),
            )
        )
        .order_by(per_dep.c.s429.desc(), per_dep.c.deployment_id)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    result = []
    for r in rows:
        minutes, shared_n = int(r["minutes"]), int(r["shared"] or 0)
        result.append(
            ThrottleCause(
                deployment_id=r["deployment_id"],
                resource=_resource_name(r["resource_name"], r["resource_id"]),
                deployment=r["name"],
                subscription_id=r["subscription_id"],
                model=r["raw_model"],
                model_version=r["model_version"],
                kind=r["kind"],
                zone=r["zone"],
                pool_deployments=int(r["size"] or 1),
                status_429=_int(r["s429"]),
                throttled_minutes=minutes,
                shared_minutes=shared_n,
                cause=CAUSE_POOL if shared_n and shared_n * 2 >= minutes else CAUSE_OWN,
            )
        )
    return result
