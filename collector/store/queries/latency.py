"""Latency percentiles over time: whole steps per deployment read from the ``latency_pct_*``
rollups, partial steps (and merged deployments) ranked from the histograms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from sqlalchemy import Engine, func, select
from sqlalchemy.sql.elements import ColumnElement

from collector.histogram import bucket_bounds
from collector.store.queries._sql import (
    _DEPLOYMENT,
    Filter,
    Filters,
    _check_window,
    _hist_rows,
    _int,
    _reading,
    parse_step,
    time_bucket,
)
from collector.store.rollup import (
    DEFAULT_QUANTILES,
    PERCENTILE_TABLES,
    ceil_time,
    floor_time,
    percentile_buckets,
)
from collector.store.schema import TABLES
from collector.store.types import to_utc


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    """Latency percentiles over one step (``deployment_id`` None: all deployments merged)."""

    ts: datetime
    deployment_id: int | None
    deployment: str | None
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def latency_percentiles_over_time(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    status_class: str = "2xx",
    per_deployment: bool = True,
    **filters: Unpack[Filters],
) -> list[LatencyPoint]:
    """p50/p95/p99 (ms, bucket upper bounds) per step from ``latency_hist``.

    With ``per_deployment=False`` the histograms of all selected deployments are merged per step
    (``deployment_id`` None). Steps without requests are left out.
    """
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    chosen = Filter(**filters)
    stored = PERCENTILE_TABLES.get(seconds) if per_deployment else None
    length = timedelta(seconds=seconds)
    whole_lo, whole_hi = ceil_time(since, length), floor_time(until, length)
    if stored is None or whole_lo >= whole_hi:
        return _percentiles_from_hist(
            engine, since, until, seconds, chosen, status_class, per_deployment
        )
    # whole steps per deployment: their percentiles are stored with the histogram rollup;
    # the partial steps at both ends are ranked from the histograms
    p = TABLES[stored[1]]
    where = [p.c.ts >= whole_lo, p.c.ts < whole_hi, p.c.status_class == status_class]
    where += chosen.on(p.c.deployment_id)
    stmt = (
        select(
            p.c.ts, p.c.deployment_id, _DEPLOYMENT.c.name, p.c.requests.label("total"),
            p.c.b50.label("b0"), p.c.b95.label("b1"), p.c.b99.label("b2"),
        )
        .select_from(p.outerjoin(_DEPLOYMENT, _DEPLOYMENT.c.id == p.c.deployment_id))
        .where(*where)
    )  # fmt: skip
    with _reading(engine) as conn:
        points = [_latency_point(r) for r in conn.execute(stmt).mappings()]
    for lo, hi in ((since, whole_lo), (whole_hi, until)):
        if lo < hi:
            points += _percentiles_from_hist(
                engine, lo, hi, seconds, chosen, status_class, per_deployment
            )
    return sorted(points, key=lambda x: (x.ts, x.deployment_id or 0))


def _latency_point(r: Any) -> LatencyPoint:
    return LatencyPoint(
        ts=to_utc(r["ts"]),
        deployment_id=r.get("deployment_id"),
        deployment=r.get("name"),
        requests=_int(r["total"]),
        p50_ms=bucket_bounds(int(r["b0"]))[1],
        p95_ms=bucket_bounds(int(r["b1"]))[1],
        p99_ms=bucket_bounds(int(r["b2"]))[1],
    )


def _percentiles_from_hist(
    engine: Engine,
    since: datetime,
    until: datetime,
    seconds: int,
    chosen: Filter,
    status_class: str,
    per_deployment: bool,
) -> list[LatencyPoint]:
    """Percentiles per step over ``[since, until)`` ranked from the merged histograms."""
    h = _hist_rows(since, until, status_class, step_s=seconds)
    bucket = time_bucket(h.c.ts, seconds, engine.dialect.name)
    where = chosen.on(h.c.deployment_id)
    if per_deployment:
        group: list[ColumnElement[Any]] = [bucket.label("ts"), h.c.deployment_id]
        keys = ["ts", "deployment_id"]
        grouping: list[ColumnElement[Any]] = [bucket, h.c.deployment_id]
    else:
        group, keys, grouping = [bucket.label("ts")], ["ts"], [bucket]
    hist = (
        select(*group, h.c.bucket, func.sum(h.c["count"]).label("n"))
        .where(*where)
        .group_by(*grouping, h.c.bucket)
        .subquery("hist")
    )
    pct = percentile_buckets(hist, keys, DEFAULT_QUANTILES).subquery("pct")
    if per_deployment:
        stmt = (
            select(pct, _DEPLOYMENT.c.name)
            .select_from(pct.outerjoin(_DEPLOYMENT, _DEPLOYMENT.c.id == pct.c.deployment_id))
            .order_by(pct.c.ts, pct.c.deployment_id)
        )
    else:
        stmt = select(pct).order_by(pct.c.ts)
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [_latency_point(r) for r in rows]
