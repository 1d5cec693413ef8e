"""Reads the dashboard needs that ``collector.store.queries`` does not offer yet.

PENDING: every function here belongs in ``collector/store/queries.py`` (the one read API). They
follow its conventions (engine in, frozen dataclasses out, windows half-open ``[since, until)`` in
UTC, aggregation in SQL, ``time_bucket`` for steps) so they can be moved as they are; once moved,
the pages import them from there and this file is deleted. Inside queries.py they should also use
its ``_reading`` time limit instead of a plain ``engine.connect()``.

- :func:`deployment_changes`: ``deployment_change`` rows, for chart annotations.
- :func:`status_codes_over_time` / :func:`status_code_totals`: ModelRequests by exact status code
  (``timeseries`` only gives classes).
- :func:`pool_throttling` / :func:`throttle_causes`: 429s per quota pool (deployments of one model
  in one subscription share a pool) and whether a deployment's throttled minutes coincide with
  throttling elsewhere in its pool.
- :func:`spend_days`: ``spend_daily`` per day and deployment with its variance and status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, case, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from collector.store.queries import REQUESTS, parse_step, time_bucket, window_days
from collector.store.schema import TABLES
from collector.store.types import to_utc

_RESOURCE = TABLES["resource"]
_DEPLOYMENT = TABLES["deployment"]
_CHANGE = TABLES["deployment_change"]
_METRIC = TABLES["metric_minute"]
_SPEND = TABLES["spend_daily"]

#: Causes reported by :func:`throttle_causes`.
CAUSE_POOL = "pool"  # other deployments of the pool were throttled in the same minutes
CAUSE_OWN = "own"  # only this deployment was throttled


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


@dataclass(frozen=True, slots=True)
class StatusCodePoint:
    """Requests with one status code over one step, summed over the selected deployments."""

    ts: datetime
    status_code: int
    requests: int


@dataclass(frozen=True, slots=True)
class StatusCodeTotal:
    """Requests with one status code of one deployment over the window."""

    deployment_id: int
    resource: str
    deployment: str
    status_code: int
    requests: int


@dataclass(frozen=True, slots=True)
class PoolPoint:
    """One quota pool (subscription x model) over one step."""

    ts: datetime
    subscription_id: str
    model: str
    requests: int
    status_429: int
    rate_429: float | None
    deployments_throttled: int


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


@dataclass(frozen=True, slots=True)
class SpendDay:
    """Spend of one deployment on one UTC day (``variance`` = billed - estimated, both known)."""

    day: date
    deployment_id: int
    resource: str
    deployment: str
    model: str | None
    estimated: Decimal | None
    billed_allocated: Decimal | None
    variance: Decimal | None
    unpriced: bool
    status: str


def _resource_name(name: str | None, resource_id: str) -> str:
    return name or resource_id.rstrip("/").rsplit("/", 1)[-1]


def _ids_where(column: Any, deployment_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    return [] if deployment_ids is None else [column.in_(list(deployment_ids))]


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def deployment_changes(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[DeploymentChangeEvent]:
    """Inventory changes in ``[since, until)``, oldest first."""
    since, until = to_utc(since), to_utc(until)
    c, d = _CHANGE, _DEPLOYMENT
    stmt = (
        select(c, d.c.name, d.c.resource_id, _RESOURCE.c.name.label("resource_name"))
        .select_from(
            c.join(d, d.c.id == c.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == d.c.resource_id
            )
        )
        .where(
            c.c.changed_at >= since,
            c.c.changed_at < until,
            *_ids_where(c.c.deployment_id, deployment_ids),
        )
        .order_by(c.c.changed_at, c.c.deployment_id, c.c.field)
    )
    with engine.connect() as conn:
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


def status_codes_over_time(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    deployment_ids: Sequence[int] | None = None,
) -> list[StatusCodePoint]:
    """ModelRequests per step and status code over the selected deployments (steps with data)."""
    since, until = to_utc(since), to_utc(until)
    m = _METRIC
    bucket = time_bucket(m.c.ts, parse_step(step), engine.dialect.name)
    stmt = (
        select(bucket.label("ts"), m.c.status_code, func.sum(m.c.total).label("n"))
        .where(
            m.c.ts >= since,
            m.c.ts < until,
            m.c.metric == REQUESTS,
            *_ids_where(m.c.deployment_id, deployment_ids),
        )
        .group_by(bucket, m.c.status_code)
        .order_by(bucket, m.c.status_code)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        StatusCodePoint(ts=to_utc(r.ts), status_code=int(r.status_code), requests=round(r.n or 0))
        for r in rows
    ]


def status_code_totals(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[StatusCodeTotal]:
    """ModelRequests per deployment and status code over ``[since, until)``."""
    since, until = to_utc(since), to_utc(until)
    m, d = _METRIC, _DEPLOYMENT
    agg = (
        select(m.c.deployment_id, m.c.status_code, func.sum(m.c.total).label("n"))
        .where(
            m.c.ts >= since,
            m.c.ts < until,
            m.c.metric == REQUESTS,
            *_ids_where(m.c.deployment_id, deployment_ids),
        )
        .group_by(m.c.deployment_id, m.c.status_code)
        .subquery()
    )
    stmt = select(
        agg, d.c.name, d.c.resource_id, _RESOURCE.c.name.label("resource_name")
    ).select_from(
        agg.join(d, d.c.id == agg.c.deployment_id).outerjoin(
            _RESOURCE, _RESOURCE.c.id == d.c.resource_id
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    result = [
        StatusCodeTotal(
            deployment_id=r["deployment_id"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            deployment=r["name"],
            status_code=int(r["status_code"]),
            requests=round(r["n"] or 0),
        )
        for r in rows
    ]
    return sorted(result, key=lambda x: (x.resource, x.deployment, x.status_code))


def _pool_members() -> Any:
    """Deployment id with its pool key (subscription, model) and resource name."""
    d, r = _DEPLOYMENT, _RESOURCE
    return (
        select(
            d.c.id.label("deployment_id"),
            d.c.name,
            d.c.model,
            d.c.resource_id,
            r.c.name.label("resource_name"),
            func.coalesce(r.c.subscription_id, literal_column("''")).label("subscription_id"),
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
    since, until = to_utc(since), to_utc(until)
    m = _METRIC
    members = _pool_members()
    bucket = time_bucket(m.c.ts, parse_step(step), engine.dialect.name)
    where: list[ColumnElement[bool]] = [
        m.c.ts >= since,
        m.c.ts < until,
        m.c.metric == REQUESTS,
        members.c.model.is_not(None),
    ]
    if deployment_ids is not None:
        chosen = (
            select(members.c.subscription_id, members.c.model)
            .where(members.c.deployment_id.in_(list(deployment_ids)))
            .subquery("chosen")
        )
        where.append(
            and_(
                members.c.subscription_id.in_(select(chosen.c.subscription_id)),
                members.c.model.in_(select(chosen.c.model)),
            )
        )
    per_dep = (
        select(
            bucket.label("ts"),
            members.c.subscription_id,
            members.c.model,
            m.c.deployment_id,
            func.sum(m.c.total).label("requests"),
            func.sum(case((m.c.status_code == 429, m.c.total), else_=0)).label("s429"),
        )
        .select_from(m.join(members, members.c.deployment_id == m.c.deployment_id))
        .where(*where)
        .group_by(bucket, members.c.subscription_id, members.c.model, m.c.deployment_id)
        .subquery("per_dep")
    )
    stmt = (
        select(
            per_dep.c.ts,
            per_dep.c.subscription_id,
            per_dep.c.model,
            func.sum(per_dep.c.requests).label("requests"),
            func.sum(per_dep.c.s429).label("s429"),
            func.sum(case((per_dep.c.s429 > 0, 1), else_=0)).label("throttled"),
        )
        .group_by(per_dep.c.ts, per_dep.c.subscription_id, per_dep.c.model)
        .order_by(per_dep.c.ts, per_dep.c.subscription_id, per_dep.c.model)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    result = []
    for r in rows:
        requests, s429 = round(r.requests or 0), round(r.s429 or 0)
        result.append(
            PoolPoint(
                ts=to_utc(r.ts),
                subscription_id=r.subscription_id,
                model=r.model,
                requests=requests,
                status_429=s429,
                rate_429=s429 / requests if requests else None,
                deployments_throttled=int(r.throttled or 0),
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
    429s on another deployment of its pool (same subscription and model)."""
    since, until = to_utc(since), to_utc(until)
    m = _METRIC
    members = _pool_members()
    throttled = (
        select(
            m.c.ts,
            m.c.deployment_id,
            members.c.subscription_id,
            members.c.model,
            func.sum(m.c.total).label("s429"),
        )
        .select_from(m.join(members, members.c.deployment_id == m.c.deployment_id))
        .where(
            m.c.ts >= since,
            m.c.ts < until,
            m.c.metric == REQUESTS,
            m.c.status_code == 429,
            m.c.total > 0,
        )
        .group_by(m.c.ts, m.c.deployment_id, members.c.subscription_id, members.c.model)
        .subquery("throttled")
    )
    other = throttled.alias("other")
    shared = (
        select(literal_column("1"))
        .where(
            other.c.ts == throttled.c.ts,
            other.c.subscription_id == throttled.c.subscription_id,
            other.c.model == throttled.c.model,
            other.c.deployment_id != throttled.c.deployment_id,
        )
        .exists()
    )
    per_dep = (
        select(
            throttled.c.deployment_id,
            func.sum(throttled.c.s429).label("s429"),
            func.count().label("minutes"),
            func.sum(case((shared, 1), else_=0)).label("shared"),
        )
        .where(*_ids_where(throttled.c.deployment_id, deployment_ids))
        .group_by(throttled.c.deployment_id)
        .subquery("per_dep")
    )
    pool_size = (
        select(
            members.c.subscription_id,
            members.c.model,
            func.count().label("size"),
        )
        .where(_DEPLOYMENT.c.id == members.c.deployment_id, _DEPLOYMENT.c.removed_at.is_(None))
        .group_by(members.c.subscription_id, members.c.model)
        .subquery("pool_size")
    )
    stmt = (
        select(per_dep, members, pool_size.c.size)
        .select_from(
            per_dep.join(members, members.c.deployment_id == per_dep.c.deployment_id).outerjoin(
                pool_size,
                and_(
                    pool_size.c.subscription_id == members.c.subscription_id,
                    pool_size.c.model == members.c.model,
                ),
            )
        )
        .order_by(per_dep.c.s429.desc())
    )
    with engine.connect() as conn:
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
                model=r["model"],
                pool_deployments=int(r["size"] or 1),
                status_429=round(r["s429"] or 0),
                throttled_minutes=minutes,
                shared_minutes=shared_n,
                cause=CAUSE_POOL if shared_n * 2 >= minutes and shared_n else CAUSE_OWN,
            )
        )
    return result


def spend_days(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[SpendDay]:
    """``spend_daily`` rows of the UTC days that ``[since, until)`` touches, by day then name."""
    first, last = window_days(since, until)
    s, d = _SPEND, _DEPLOYMENT
    stmt = (
        select(s, d.c.name, d.c.model, d.c.resource_id, _RESOURCE.c.name.label("resource_name"))
        .select_from(
            s.join(d, d.c.id == s.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == d.c.resource_id
            )
        )
        .where(s.c.day >= first, s.c.day <= last, *_ids_where(s.c.deployment_id, deployment_ids))
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    result = []
    for r in rows:
        estimated, billed = _money(r["estimated"]), _money(r["billed_allocated"])
        result.append(
            SpendDay(
                day=r["day"],
                deployment_id=r["deployment_id"],
                resource=_resource_name(r["resource_name"], r["resource_id"]),
                deployment=r["name"],
                model=r["model"],
                estimated=estimated,
                billed_allocated=billed,
                variance=billed - estimated
                if billed is not None and estimated is not None
                else None,
                unpriced=bool(r["unpriced"]),
                status=r["status"],
            )
        )
    return sorted(result, key=lambda x: (x.day, x.resource, x.deployment))
