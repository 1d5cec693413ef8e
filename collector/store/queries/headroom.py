"""Headroom per quota pool (issue 17): the reads behind ``foundry-monitor headroom``, the
Capacity page, reports and alerts.

Public API (two functions; the arithmetic is :mod:`collector.headroom`):

- :func:`pool_headroom` ``(engine, since, until, limits) -> list[PoolHeadroom]``: per pool
  (:mod:`collector.pools`) and limit (RPM, ITPM, OTPM): peak minute, p99 minute, minutes at or
  above 80 % and 100 %, binding limit, what is left in the last complete minute, forecast, the
  pool's 429 minutes and the level they point at; per deployment its capacity limits and peaks.
- :func:`pool_utilization_series` ``(engine, since, until, step, limits)``
  ``-> list[UtilizationPoint]``: per pool, limit and step, the peak minute's usage and its
  share of the limit, with the 429s.

Usage per pool and minute is summed over the pool's deployments, in every region, from
``metric_minute``: accepted requests (``ModelRequests`` of every status but 429), ITPM =
``InputTokens`` (uncached input) + ``ephemeral5mInputTokens`` + ``ephemeral1hInputTokens`` (cache
writes; cache reads do not count), OTPM = ``OutputTokens``. Only Claude deployments
(:func:`collector.versions.is_claude_deployment`) are pooled. The "last complete minute" is the
newest minute of the window the store has ``ModelRequests`` for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from collector import headroom as hr
from collector import metric_names as names
from collector.pools import DATA_ZONE, GLOBAL, PoolKey, data_zones, pool_key, usage_name
from collector.quota_limits import LIMITS, QuotaSettings, deployment_limits, pool_limits
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _METRIC,
    _RESOURCE,
    _check_window,
    _reading,
    _resource_name,
    _sum_if,
    parse_step,
)
from collector.store.schema import TABLES
from collector.store.types import to_utc
from collector.versions import is_claude_deployment

_ITPM_METRICS = (names.INPUT_TOKENS, names.CACHE_WRITE_5M, names.CACHE_WRITE_1H)
_METRICS = (names.REQUESTS, names.OUTPUT_TOKENS, *_ITPM_METRICS)


@dataclass(frozen=True)
class UtilizationPoint:
    """One pool's one limit over one step: the peak minute's usage and its share of the limit."""

    ts: datetime
    key: PoolKey
    pool: str  # the pool's label
    limit: str  # rpm, itpm, otpm
    peak: int
    limit_value: int | None
    utilization: float | None  # None when the limit is unknown
    status_429: int


@dataclass(frozen=True)
class _Member:
    deployment_id: int
    resource: str
    deployment: str
    region: str
    sku: str | None
    capacity: int | None
    model: str | None
    key: PoolKey


@dataclass
class _Minutes:
    """Per deployment-minute usage, as arrays."""

    minute: np.ndarray  # epoch minutes
    dep: np.ndarray
    requests: np.ndarray
    s429: np.ndarray
    itpm: np.ndarray
    otpm: np.ndarray


def _members(conn: Any) -> list[_Member]:
    d, r = _DEPLOYMENT, _RESOURCE
    rows = conn.execute(
        select(
            d.c.id, d.c.name, d.c.model, d.c.model_version, d.c.model_format, d.c.sku,
            d.c.capacity, d.c.resource_id, r.c.name.label("resource_name"), r.c.location,
            r.c.subscription_id,
        ).select_from(d.outerjoin(r, r.c.id == d.c.resource_id))
    ).all()  # fmt: skip
    out = []
    for row in rows:
        if not row.model or not is_claude_deployment(row.model_format, row.model):
            continue
        out.append(
            _Member(
                deployment_id=row.id,
                resource=_resource_name(row.resource_name, row.resource_id),
                deployment=row.name,
                region=row.location or "",
                sku=row.sku,
                capacity=row.capacity,
                model=row.model,
                key=pool_key(
                    row.subscription_id, row.model, row.model_version, row.sku, row.location
                ),
            )
        )
    return out


def _minutes(conn: Any, since: datetime, until: datetime, ids: list[int]) -> _Minutes:
    m = _METRIC
    requests = m.c.metric == names.REQUESTS
    stmt = (
        select(
            m.c.ts,
            m.c.deployment_id,
            _sum_if(requests & (m.c.status_code != 429), m.c.total).label("requests"),
            _sum_if(requests & (m.c.status_code == 429), m.c.total).label("s429"),
            _sum_if(m.c.metric.in_(_ITPM_METRICS), m.c.total).label("itpm"),
            _sum_if(m.c.metric == names.OUTPUT_TOKENS, m.c.total).label("otpm"),
        )
        .where(
            m.c.ts >= since,
            m.c.ts < until,
            m.c.metric.in_(_METRICS),
            m.c.deployment_id.in_(ids),
        )
        .group_by(m.c.ts, m.c.deployment_id)
    )
    rows = conn.execute(stmt).all()
    epoch = np.array([int(to_utc(r.ts).timestamp()) // 60 for r in rows], np.int64)

    def col(name: str) -> np.ndarray:
        return np.array([float(getattr(r, name) or 0) for r in rows], float)

    return _Minutes(
        minute=epoch,
        dep=np.array([r.deployment_id for r in rows], np.int64),
        requests=col("requests"),
        s429=col("s429"),
        itpm=col("itpm"),
        otpm=col("otpm"),
    )


def _by_minute(minute: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values summed per minute (sorted minutes)."""
    if minute.size == 0:
        return minute, values
    keys, inverse = np.unique(minute, return_inverse=True)
    return keys, np.bincount(inverse, weights=values, minlength=keys.size)


def _usages(conn: Any) -> list[Any]:
    q = TABLES["quota_usage"]
    return list(conn.execute(select(q)).all())


def _usage_for(key: PoolKey, usages: list[Any]) -> Any | None:
    """The usages-list entry of a pool: its name, in a location of its zone."""
    name = usage_name(key.kind, key.model, key.model_version)
    for row in usages:
        if row.subscription_id != key.subscription_id or row.name != name:
            continue
        if key.kind == GLOBAL:
            return row
        if key.kind == DATA_ZONE and data_zones().get(row.location, row.location) == key.zone:
            return row
        if row.location == key.zone:
            return row
    return None


def _read(
    engine: Engine, since: datetime, until: datetime
) -> tuple[list[_Member], _Minutes, list[Any], int | None]:
    with _reading(engine) as conn:
        members = _members(conn)
        data = _minutes(conn, since, until, [m.deployment_id for m in members])
        usages = _usages(conn)
        m = _METRIC
        newest = conn.execute(
            select(func.max(m.c.ts)).where(
                m.c.ts >= since, m.c.ts < until, m.c.metric == names.REQUESTS
            )
        ).scalar()
    last = int(to_utc(newest).timestamp()) // 60 if newest is not None else None
    return members, data, usages, last


def stored_pools(engine: Engine) -> list[PoolKey]:
    """The quota pools of the stored Claude deployments (``doctor`` names their limits)."""
    with _reading(engine) as conn:
        return sorted({m.key for m in _members(conn)})


def _pools(members: list[_Member]) -> dict[PoolKey, list[_Member]]:
    pools: dict[PoolKey, list[_Member]] = {}
    for member in members:
        pools.setdefault(member.key, []).append(member)
    return dict(sorted(pools.items()))


def pool_headroom(
    engine: Engine,
    since: datetime,
    until: datetime,
    limits: QuotaSettings | None = None,
) -> list[PoolHeadroom]:
    """Headroom of every Claude quota pool over ``[since, until)`` (see the module)."""
    since, until = _check_window(since, until)
    members, data, usages, last = _read(engine, since, until)
    window = max(1, int((until - since).total_seconds()) // 60)
    today = until.date()
    out = []
    for key, group in _pools(members).items():
        ids = np.array([m.deployment_id for m in group], np.int64)
        mine = np.isin(data.dep, ids)
        minute = data.minute[mine]
        series: dict[str, np.ndarray] = {}
        keys = np.zeros(0, np.int64)
        for name, values in (
            ("rpm", data.requests[mine]),
            ("itpm", data.itpm[mine]),
            ("otpm", data.otpm[mine]),
        ):
            keys, series[name] = _by_minute(minute, values)
        keys429, s429 = _by_minute(minute, data.s429[mine])
        quota = pool_limits(key, limits)
        by_limit = {
            name: hr.limit_headroom(name, quota.get(name), keys, series[name], window, last, today)
            for name in LIMITS
        }
        deployments, levels = _deployments(group, data, keys, series, quota, keys429[s429 > 0])
        usage = _usage_for(key, usages)
        out.append(
            hr.PoolHeadroom(
                key=key,
                limits=quota,
                by_limit=by_limit,
                binding_limit=hr.binding_limit(by_limit),
                minutes_over_80=hr.minutes_over(keys, series, quota) if keys.size else 0,
                status_429=round(float(s429.sum())),
                throttled_minutes=int((s429 > 0).sum()),
                throttle_levels=levels,
                last_complete_minute=hr.minute_dt(last) if last is not None else None,
                deployments=deployments,
                quota_allocated=None if usage is None else usage.current_value,
                quota_limit=None if usage is None else usage.limit,
                usage_name=None if usage is None else usage.name,
            )
        )
    return out


def _deployments(
    group: list[_Member],
    data: _Minutes,
    pool_minutes: np.ndarray,
    pool_series: dict[str, np.ndarray],
    quota: Any,
    throttled: np.ndarray,
) -> tuple[list[hr.DeploymentHeadroom], dict[str, int]]:
    """Each deployment's own figures, and the level each of the pool's 429 minutes points at."""
    pool_near = np.zeros(pool_minutes.shape, bool)
    for limit in LIMITS:
        value = quota.get(limit)
        if value:
            pool_near |= pool_series[limit] >= hr.LEVEL_SHARE * value
    pool_near_minutes = set(pool_minutes[pool_near].tolist())
    dep_near_minutes: set[int] = set()
    out = []
    for member in group:
        mine = data.dep == member.deployment_id
        minute = data.minute[mine]
        tokens = data.itpm[mine] + data.otpm[mine]
        limit_rpm, limit_tpm = deployment_limits(member.model, member.capacity)
        near = np.zeros(minute.shape, bool)
        if limit_rpm:
            near |= data.requests[mine] >= hr.LEVEL_SHARE * limit_rpm
        if limit_tpm:
            near |= tokens >= hr.LEVEL_SHARE * limit_tpm
        s429 = data.s429[mine]
        dep_near_minutes |= set(minute[near & (s429 > 0)].tolist())
        peak_rpm, peak_rpm_at = hr.peak(minute, data.requests[mine])
        peak_tpm, peak_tpm_at = hr.peak(minute, tokens)
        out.append(
            hr.DeploymentHeadroom(
                deployment_id=member.deployment_id,
                resource=member.resource,
                deployment=member.deployment,
                region=member.region,
                sku=member.sku,
                capacity=member.capacity,
                limit_rpm=limit_rpm,
                limit_tpm=limit_tpm,
                peak_rpm=peak_rpm,
                peak_rpm_at=peak_rpm_at,
                peak_tpm=peak_tpm,
                peak_tpm_at=peak_tpm_at,
                status_429=round(float(s429.sum())),
                throttled_minutes=int((s429 > 0).sum()),
            )
        )
    levels = dict.fromkeys(
        (hr.LEVEL_POOL, hr.LEVEL_DEPLOYMENT, hr.LEVEL_BOTH, hr.LEVEL_UNEXPLAINED), 0
    )
    for minute in throttled.tolist():
        level = hr.throttle_level(minute in pool_near_minutes, minute in dep_near_minutes)
        levels[level] += 1
    return out, levels


def pool_utilization_series(
    engine: Engine,
    since: datetime,
    until: datetime,
    step: str | timedelta,
    limits: QuotaSettings | None = None,
) -> list[UtilizationPoint]:
    """Per pool, limit and step: the peak minute's usage, its share of the limit, the 429s."""
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    members, data, _usages_rows, _last = _read(engine, since, until)
    step_min = max(1, seconds // 60)
    out = []
    for key, group in _pools(members).items():
        ids = np.array([m.deployment_id for m in group], np.int64)
        mine = np.isin(data.dep, ids)
        quota = pool_limits(key, limits)
        minute = data.minute[mine]
        keys429, s429 = _by_minute(minute, data.s429[mine])
        buckets429 = keys429 // step_min
        for limit, values in (
            ("rpm", data.requests[mine]),
            ("itpm", data.itpm[mine]),
            ("otpm", data.otpm[mine]),
        ):
            keys, sums = _by_minute(minute, values)
            buckets = keys // step_min
            value = quota.get(limit)
            for b in np.unique(np.concatenate([buckets, buckets429])):
                top = float(sums[buckets == b].max()) if (buckets == b).any() else 0.0
                out.append(
                    UtilizationPoint(
                        ts=hr.minute_dt(int(b) * step_min),
                        key=key,
                        pool=key.label,
                        limit=limit,
                        peak=round(top),
                        limit_value=value,
                        utilization=top / value if value else None,
                        status_429=round(float(s429[buckets429 == b].sum())),
                    )
                )
    return sorted(out, key=lambda p: (p.ts, p.key, LIMITS.index(p.limit)))


PoolHeadroom = hr.PoolHeadroom
__all__ = [
    "PoolHeadroom",
    "UtilizationPoint",
    "pool_headroom",
    "pool_utilization_series",
    "stored_pools",
]
