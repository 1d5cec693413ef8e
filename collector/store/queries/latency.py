"""Latency percentiles over time: whole steps per deployment read from the ``latency_pct_*``
rollups, partial steps (and merged deployments) ranked from the histograms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from sqlalchemy import Engine, func, null, select
from sqlalchemy.sql.elements import ColumnElement

from collector.store.queries._sql import (
    _DEPLOYMENT,
    Filter,
    Filters,
    _check_window,
    _hist_rows,
    _reading,
    parse_step,
    time_bucket,
)
from collector.store.queries.columns import Column, Columns, ints, transpose, upper_ms
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


#: A point's row: ts, deployment id, deployment name, requests and the p50/p95/p99 buckets.
Row = tuple[Any, ...]


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
    return latency_columns(
        engine,
        since,
        until,
        step=step,
        status_class=status_class,
        per_deployment=per_deployment,
        **filters,
    ).records(LatencyPoint)


def latency_columns(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    status_class: str = "2xx",
    per_deployment: bool = True,
    **filters: Unpack[Filters],
) -> Columns:
    """:func:`latency_percentiles_over_time` as columns named after :class:`LatencyPoint`'s
    fields, in its order (the dashboard's charts)."""
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    chosen = Filter(**filters)
    stored = PERCENTILE_TABLES.get(seconds) if per_deployment else None
    length = timedelta(seconds=seconds)
    whole_lo, whole_hi = ceil_time(since, length), floor_time(until, length)
    if stored is None or whole_lo >= whole_hi:
        return _columns(
            _percentiles_from_hist(
                engine, since, until, seconds, chosen, status_class, per_deployment
            )
        )
    # whole steps per deployment: their percentiles are stored with the histogram rollup;
    # the partial steps at both ends are ranked from the histograms
    p = TABLES[stored[1]]
    where = [p.c.ts >= whole_lo, p.c.ts < whole_hi, p.c.status_class == status_class]
    where += chosen.on(p.c.deployment_id)
    stmt = (
        select(
            p.c.ts, p.c.deployment_id, _DEPLOYMENT.c.name, p.c.requests, p.c.b50, p.c.b95, p.c.b99
        )
        .select_from(p.outerjoin(_DEPLOYMENT, _DEPLOYMENT.c.id == p.c.deployment_id))
        .where(*where)
    )  # fmt: skip
    with _reading(engine) as conn:
        rows: list[Row] = list(conn.execute(stmt).all())
    for lo, hi in ((since, whole_lo), (whole_hi, until)):
        if lo < hi:
            rows += _percentiles_from_hist(
                engine, lo, hi, seconds, chosen, status_class, per_deployment
            )
    rows.sort(key=lambda r: (to_utc(r[0]), r[1] or 0))
    return _columns(rows)


def _columns(rows: Sequence[Row]) -> Columns:
    ts, deployment_id, name, total, b50, b95, b99 = transpose(rows, 7)
    values: dict[str, Column] = {
        "ts": [to_utc(t) for t in ts],
        "deployment_id": deployment_id,
        "deployment": name,
        "requests": ints(total),
        "p50_ms": upper_ms(b50),
        "p95_ms": upper_ms(b95),
        "p99_ms": upper_ms(b99),
    }
    return Columns(tuple(values), tuple(values.values()))


def _percentiles_from_hist(
    engine: Engine,
    since: datetime,
    until: datetime,
    seconds: int,
    chosen: Filter,
    status_class: str,
    per_deployment: bool,
) -> list[Row]:
    """Rows of percentiles per step over ``[since, until)`` ranked from the merged histograms
    (:data:`Row`; deployment id and name None when merged)."""
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
    shown = (pct.c.total, pct.c.b0, pct.c.b1, pct.c.b2)
    if per_deployment:
        stmt = (
            select(pct.c.ts, pct.c.deployment_id, _DEPLOYMENT.c.name, *shown)
            .select_from(pct.outerjoin(_DEPLOYMENT, _DEPLOYMENT.c.id == pct.c.deployment_id))
            .order_by(pct.c.ts, pct.c.deployment_id)
        )
    else:
        nothing = null()
        stmt = select(pct.c.ts, nothing, nothing, *shown).order_by(pct.c.ts)
    with _reading(engine) as conn:
        return [tuple(r) for r in conn.execute(stmt).all()]
