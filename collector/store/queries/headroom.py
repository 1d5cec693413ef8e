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

Usage per pool and minute is summed over the pool's deployments, in every region (the
``pool_minute`` rollup of ``metric_minute``, written with the other rollups): accepted requests
(``ModelRequests`` of every status but 429), ITPM = ``InputTokens`` (uncached input) +
``ephemeral5mInputTokens`` + ``ephemeral1hInputTokens`` (cache writes; cache reads do not
count), OTPM = ``OutputTokens``. Only Claude deployments
(:func:`collector.versions.is_claude_deployment`) are pooled. The "last complete minute" is the
newest minute of the window with usage in ``pool_minute``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from collector import headroom as hr
from collector.pools import DATA_ZONE, GLOBAL, PoolKey, data_zones, pool_key, usage_name
from collector.quota_limits import (
    LIMITS,
    PoolLimits,
    QuotaSettings,
    deployment_limits,
    pool_limits,
)
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    _check_window,
    _reading,
    _resource_name,
    parse_step,
    time_bucket,
)
from collector.store.queries.deployment_stats import (
    DeploymentStats,
    deployment_stats,
    epoch_minute,
)
from collector.store.queries.pool_stats import (
    PoolStats,
    in_spans,
    is_hour_of,
    is_pool,
    pool_keys,
    pool_stats,
    split_window,
)
from collector.store.schema import TABLES
from collector.store.types import to_utc
from collector.versions import is_claude_deployment


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
class _Member(hr.PoolDeployment):
    model: str | None
    key: PoolKey


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


@dataclass
class _PoolRows:
    """``pool_minute`` rows of the window, as arrays; ``pool`` indexes ``keys``."""

    keys: list[PoolKey]
    pool: np.ndarray
    minute: np.ndarray
    requests: np.ndarray
    s429: np.ndarray
    itpm: np.ndarray
    otpm: np.ndarray

    def of(self, key: PoolKey) -> np.ndarray:
        """The rows of one pool (a boolean mask)."""
        if key not in self.keys:
            return np.zeros(self.pool.shape, bool)
        return self.pool == self.keys.index(key)


def _pool_rows(conn: Any, since: datetime, until: datetime) -> _PoolRows:
    """The pool minutes with 429s (the levels compare them with the deployments' minutes)."""
    pm = TABLES["pool_minute"]
    stmt = select(
        epoch_minute(pm.c.ts, conn.dialect.name).label("minute"),
        *(pm.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")),
        pm.c.requests, pm.c.status_429, pm.c.itpm, pm.c.otpm,
    ).where(pm.c.ts >= since, pm.c.ts < until, pm.c.status_429 > 0)  # fmt: skip
    rows = conn.execute(stmt).all()
    keys: dict[PoolKey, int] = {}
    pool = np.fromiter(
        (keys.setdefault(PoolKey(*r[1:6]), len(keys)) for r in rows), np.int64, len(rows)
    )

    def col(i: int) -> np.ndarray:
        return np.fromiter((r[i] or 0.0 for r in rows), float, len(rows))

    return _PoolRows(
        keys=list(keys),
        pool=pool,
        minute=np.fromiter((int(r[0]) for r in rows), np.int64, len(rows)),
        requests=col(6),
        s429=col(7),
        itpm=col(8),
        otpm=col(9),
    )


@dataclass
class _Read:
    members: list[_Member]
    limits: dict[PoolKey, PoolLimits]
    stats: dict[PoolKey, PoolStats]
    newest: datetime | None
    throttled: _PoolRows | None
    deployments: dict[int, DeploymentStats] | None
    usages: list[Any]


def _read(
    engine: Engine,
    since: datetime,
    until: datetime,
    deployments: bool,
    limits: QuotaSettings | None,
) -> _Read:
    window = max(1, int((until - since).total_seconds()) // 60)
    with _reading(engine) as conn:
        members = _members(conn)
        seen = pool_keys(conn, since, until)
        keys = {m.key for m in members} | set(seen)
        quotas = {key: pool_limits(key, limits) for key in keys}
        values = {key: {n: q.get(n) for n in LIMITS} for key, q in quotas.items()}
        stats, newest = pool_stats(conn, since, until, values, window, seen)
        throttled = data = None
        if deployments:
            throttled = _pool_rows(conn, since, until)
            own = {m.deployment_id: deployment_limits(m.model, m.capacity) for m in members}
            data = deployment_stats(conn, since, until, own)
        usages = _usages(conn)
    return _Read(members, quotas, stats, newest, throttled, data, usages)


def stored_pools(engine: Engine) -> list[PoolKey]:
    """The quota pools of the stored Claude deployments (``doctor`` names their limits)."""
    with _reading(engine) as conn:
        return sorted({m.key for m in _members(conn)})


def _pools(members: list[_Member], seen: Sequence[PoolKey] = ()) -> dict[PoolKey, list[_Member]]:
    """The pools of the inventory's Claude deployments and those with usage in the window (a
    deployment moved to another SKU or version leaves its old pool behind, with its minutes)."""
    pools: dict[PoolKey, list[_Member]] = {key: [] for key in seen}
    for member in members:
        pools.setdefault(member.key, []).append(member)
    return dict(sorted(pools.items()))


def pool_headroom(
    engine: Engine,
    since: datetime,
    until: datetime,
    limits: QuotaSettings | None = None,
    *,
    deployments: bool = True,
) -> list[PoolHeadroom]:
    """Headroom of every Claude quota pool over ``[since, until)`` (see the module).

    The pool figures come from ``pool_minute`` (one row per pool and minute). With
    ``deployments`` (the default) each deployment's own peaks and the level each 429 minute
    points at are read from ``metric_minute`` too; without, those stay empty (zero peaks, no
    levels): what a 30-day page needs to stay fast."""
    since, until = _check_window(since, until)
    read = _read(engine, since, until, deployments, limits)
    today = until.date()
    last = int(read.newest.timestamp()) // 60 if read.newest is not None else None
    out = []
    for key, group in _pools(read.members, list(read.stats)).items():
        quota = read.limits[key]
        stats = read.stats.get(key, PoolStats())
        by_limit = {
            name: hr.limit_figures(
                name, quota.get(name), stats.peak[name], stats.peak_at[name], stats.p99[name],
                stats.over_80[name], stats.at_100[name], stats.last[name], stats.daily[name],
                today,
            )
            for name in LIMITS
        }  # fmt: skip
        if read.deployments is not None and read.throttled is not None:
            mine = read.throttled.of(key)
            keys = read.throttled.minute[mine]
            series = {
                "rpm": read.throttled.requests[mine],
                "itpm": read.throttled.itpm[mine],
                "otpm": read.throttled.otpm[mine],
            }
            members, levels = _deployments(group, read.deployments, keys, series, quota, keys)
        else:
            members, levels = [_headroom(m) for m in group], {}
        usage = _usage_for(key, read.usages)
        out.append(
            hr.PoolHeadroom(
                key=key,
                limits=quota,
                by_limit=by_limit,
                binding_limit=hr.binding_limit(by_limit),
                minutes_over_80=stats.any_over_80,
                status_429=stats.status_429,
                throttled_minutes=stats.throttled_minutes,
                throttle_levels=levels,
                last_complete_minute=hr.minute_dt(last) if last is not None else None,
                deployments=members,
                quota_allocated=None if usage is None else usage.current_value,
                quota_limit=None if usage is None else usage.limit,
                usage_name=None if usage is None else usage.name,
            )
        )
    return out


def _headroom(member: _Member, mine: DeploymentStats | None = None) -> hr.DeploymentHeadroom:
    """A deployment of a pool: its capacity limits and its figures in ``mine`` (none read: no
    peaks, no 429s)."""
    mine = mine or DeploymentStats()
    limit_rpm, limit_tpm = deployment_limits(member.model, member.capacity)
    peak_rpm, peak_rpm_at = mine.peak_rpm()
    peak_tpm, peak_tpm_at = mine.peak_tpm()
    return hr.DeploymentHeadroom(
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
        status_429=round(mine.status_429),
        throttled_minutes=mine.throttled_minutes,
    )


def _deployments(
    group: list[_Member],
    data: dict[int, DeploymentStats],
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
        mine = data.get(member.deployment_id, DeploymentStats())
        dep_near_minutes |= mine.near_throttled
        out.append(_headroom(member, mine))
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
    """Per pool, limit and step (aligned on the epoch): the peak minute's usage, its share of
    the limit (None when unknown) and the pool's 429s, from ``pool_minute`` in SQL."""
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    pm, ph = TABLES["pool_minute"], TABLES["pool_hour"]
    # Steps of whole hours read the hours of pool_hour (aligned on the epoch, an hour lies in
    # one step) and the minutes of the ragged ends only; shorter steps read the minutes.
    hourly = seconds % 3600 == 0
    ragged, hours = split_window((since, until)) if hourly else ([(since, until)], (since, since))
    merged: dict[tuple[datetime, PoolKey], list[float]] = {}
    with _reading(engine) as conn:
        # SQLite: one read per ragged end (it seeks an OR of two time ranges on the pool alone
        # and reads every minute of the pool); Postgres scans each range of the OR
        ends = [[span] for span in ragged] if conn.dialect.name == "sqlite" else [ragged]
        reads = [(pm, is_pool, spans) for spans in ends if spans]
        if hours[0] < hours[1]:
            reads.append((ph, is_hour_of, [hours]))
        for pool in pool_keys(conn, since, until):  # a pool at a time: its covering index
            for table, of_pool, spans in reads:
                bucket = time_bucket(table.c.ts, seconds, conn.dialect.name)
                for row in conn.execute(
                    select(
                        bucket, func.max(table.c.requests), func.max(table.c.itpm),
                        func.max(table.c.otpm), func.sum(table.c.status_429),
                    )
                    .where(in_spans(table, spans), of_pool(pool))
                    .group_by(bucket)
                ):  # fmt: skip
                    seen = merged.setdefault((to_utc(row[0]), pool), [0.0, 0.0, 0.0, 0.0])
                    for i in range(3):
                        seen[i] = max(seen[i], float(row[1 + i] or 0.0))
                    seen[3] += float(row[4] or 0.0)
    rows: list[Any] = [(ts, *pool, *values) for (ts, pool), values in merged.items()]
    rows.sort(key=lambda r: (to_utc(r[0]), r[1:6]))
    out = []
    quotas: dict[PoolKey, Any] = {}
    for row in rows:
        pool = PoolKey(*row[1:6])
        quota = quotas.get(pool) or quotas.setdefault(pool, pool_limits(pool, limits))
        for i, limit in enumerate(LIMITS):
            top = float(row[6 + i] or 0.0)
            value = quota.get(limit)
            out.append(
                UtilizationPoint(
                    ts=to_utc(row[0]),
                    key=pool,
                    pool=pool.label,
                    limit=limit,
                    peak=round(top),
                    limit_value=value,
                    utilization=top / value if value else None,
                    status_429=round(float(row[9] or 0.0)),
                )
            )
    return out


PoolHeadroom = hr.PoolHeadroom
__all__ = [
    "PoolHeadroom",
    "UtilizationPoint",
    "pool_headroom",
    "pool_utilization_series",
    "stored_pools",
]
