"""Spend reads (issue #5): per deployment-day and resource-day, the daily series, tokens per hour.

Figures come from ``spend_daily`` and ``spend_resource_daily`` (written by
:func:`collector.spend.refresh_spend`); :func:`token_hours` reads ``metric_minute`` for
:func:`collector.spend.hourly.spend_by_hour`, which prices it on the fly. Month to date, forecast
and budgets are computed above the store, in :mod:`collector.spend.month`: the store imports
nothing of ``collector.spend``. A deployment-day's *spent* figure is its allocated bill when the
bill is in, else its estimate (0 when unpriced and unbilled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Unpack

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    _SPEND,
    TOKEN_METRICS,
    Filter,
    Filters,
    _check_window,
    _deployment_filters,
    _deployment_shown,
    _ids_in,
    _int,
    _label,
    _metric_rows,
    _money,
    _multi_version,
    _reading,
    _resource_name,
    _with_deployment,
    context_labels,
    time_bucket,
    window_days,
)
from collector.store.schema import TABLES

_SPEND_RES = TABLES["spend_resource_daily"]
_PRICE = TABLES["price"]


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
    resource_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_savings: Decimal | None = None
    claude: bool = True
    model_version: str | None = None
    #: the model as shown (with its version when the inventory holds it in several versions)
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceSpendDay:
    """Reconciliation of one resource on one UTC day: estimate vs bill, unallocated, drift."""

    day: date
    resource: str
    resource_id: str
    estimated: Decimal | None
    billed: Decimal | None
    unallocated: Decimal | None
    variance: Decimal | None
    variance_ratio: float | None
    drift_flagged: bool
    status: str
    #: cost under other meters or publishers (e.g. Azure OpenAI): never allocated to Claude
    other_billed: Decimal | None = None


def spend_days(
    engine: Engine,
    since: datetime,
    until: datetime,
    **filters: Unpack[Filters],
) -> list[SpendDay]:
    """``spend_daily`` rows of the UTC days that ``[since, until)`` touches, by day then name."""
    first, last = window_days(since, until)
    chosen = Filter(**filters)
    s, d = _SPEND, _DEPLOYMENT
    stmt = (
        select(
            s,
            d.c.name,
            *_deployment_shown(),
        )
        .select_from(_with_deployment(s))
        .where(
            s.c.day >= first,
            s.c.day <= last,
            *_ids_in(s.c.deployment_id, chosen.deployment_ids),
            *_deployment_filters(chosen.resource, chosen.deployment, chosen.model),
        )
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        multi = _multi_version(conn)
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
                variance=_difference(billed, estimated),
                unpriced=bool(r["unpriced"]),
                status=r["status"],
                resource_id=r["resource_id"],
                input_tokens=int(r["input_tokens"] or 0),
                output_tokens=int(r["output_tokens"] or 0),
                cache_read_tokens=int(r["cache_read_tokens"] or 0),
                cache_write_5m_tokens=int(r["cache_write_5m_tokens"] or 0),
                cache_write_1h_tokens=int(r["cache_write_1h_tokens"] or 0),
                cache_savings=_money(r["cache_savings"]),
                claude=bool(r["claude"]),
                model_version=r["model_version"],
                model_label=_label(multi, r["model"], r["model_version"], r["model_format"]),
            )
        )
    return sorted(result, key=lambda x: (x.day, x.resource, x.deployment, x.deployment_id))


def _difference(billed: Decimal | None, estimated: Decimal | None) -> Decimal | None:
    return billed - estimated if billed is not None and estimated is not None else None


def spend_resource_days(
    engine: Engine, since: datetime, until: datetime, *, resource: str | None = None
) -> list[ResourceSpendDay]:
    """``spend_resource_daily`` (the reconciliation) of the UTC days ``[since, until)`` touches."""
    first, last = window_days(since, until)
    s = _SPEND_RES
    where: list[ColumnElement[bool]] = [s.c.day >= first, s.c.day <= last]
    if resource:
        wanted = resource.strip().lower()
        where.append(or_(s.c.resource_id == wanted, func.lower(_RESOURCE.c.name) == wanted))
    stmt = (
        select(s, _RESOURCE.c.name.label("resource_name"))
        .select_from(s.outerjoin(_RESOURCE, _RESOURCE.c.id == s.c.resource_id))
        .where(*where)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    result = []
    for r in rows:
        estimated, variance = _money(r["estimated"]), _money(r["variance"])
        result.append(
            ResourceSpendDay(
                day=r["day"],
                resource=_resource_name(r["resource_name"], r["resource_id"]),
                resource_id=r["resource_id"],
                estimated=estimated,
                billed=_money(r["billed"]),
                unallocated=_money(r["unallocated"]),
                variance=variance,
                variance_ratio=float(variance / estimated)
                if variance is not None and estimated
                else None,
                drift_flagged=bool(r["drift_flagged"]),
                status=r["status"],
                other_billed=_money(r["other_billed"]),
            )
        )
    return sorted(result, key=lambda x: (x.day, x.resource, x.resource_id))


@dataclass
class _Series:
    """Per-day figures of one deployment (or of the unallocated remainder) over a span."""

    estimated: dict[date, Decimal]
    billed: dict[date, Decimal]
    spent: dict[date, Decimal]
    unpriced: bool = False
    provisional: bool = False


def _spend_series(
    conn: Connection, first: date, last: date
) -> tuple[dict[int, _Series], dict[str, dict[date, Decimal]], dict[str, dict[date, Decimal]]]:
    """Per deployment its daily series; per resource its daily unallocated and billed amounts."""
    s = _SPEND
    deps: dict[int, _Series] = {}
    for r in conn.execute(select(s).where(s.c.day >= first, s.c.day <= last)).mappings():
        series = deps.setdefault(r["deployment_id"], _Series({}, {}, {}))
        estimated, billed = _money(r["estimated"]), _money(r["billed_allocated"])
        if estimated is not None:
            series.estimated[r["day"]] = estimated
        if billed is not None:
            series.billed[r["day"]] = billed
        best = billed if billed is not None else estimated
        series.spent[r["day"]] = best if best is not None else Decimal(0)
        series.unpriced |= bool(r["unpriced"])
        series.provisional |= r["status"] != "final"
    unallocated: dict[str, dict[date, Decimal]] = {}
    billed_res: dict[str, dict[date, Decimal]] = {}
    res = _SPEND_RES
    for r in conn.execute(select(res).where(res.c.day >= first, res.c.day <= last)).mappings():
        if r["unallocated"] is not None:
            unallocated.setdefault(r["resource_id"], {})[r["day"]] = Decimal(str(r["unallocated"]))
        if r["billed"] is not None:
            billed_res.setdefault(r["resource_id"], {})[r["day"]] = Decimal(str(r["billed"]))
    return deps, unallocated, billed_res


@dataclass(frozen=True, slots=True)
class TokenHours:
    """Token sums per hour (``ts``), deployment, metric and status code (``n``), read in one go
    with what pricing them needs: the ``ContextLength`` labels by id (the cache metrics' split
    code) and the ``price`` rows (None when not asked for). Each row also holds its deployment's
    ``resource`` as shown and its ``model_label`` (for :mod:`collector.spend.hourly`)."""

    rows: list[dict[str, Any]]
    labels: dict[int, str]
    price_rows: list[dict[str, Any]] | None


def token_hours(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    with_prices: bool = True,
    **filters: Unpack[Filters],
) -> TokenHours:
    """``metric_minute`` token metrics per hour and deployment over ``[since, until)`` (whole
    hours and days read from the rollups), with the deployment's model, format, version and
    resource: what :func:`collector.spend.hourly.spend_by_hour` prices."""
    since, until = _check_window(since, until)
    m = _metric_rows(since, until, TOKEN_METRICS, step_s=3600)
    bucket = time_bucket(m.c.ts, 3600, engine.dialect.name)
    agg = (
        select(
            bucket.label("ts"),
            m.c.deployment_id,
            m.c.metric,
            m.c.status_code,
            func.sum(m.c.total).label("n"),
        )
        .where(*Filter(**filters).on(m.c.deployment_id))
        .group_by(bucket, m.c.deployment_id, m.c.metric, m.c.status_code)
        .subquery("agg")
    )
    stmt = (
        select(agg, _DEPLOYMENT.c.name, *_deployment_shown("rn"))
        .select_from(_with_deployment(agg))
        .order_by(agg.c.ts, agg.c.deployment_id, agg.c.metric, agg.c.status_code)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        labels = context_labels(conn)
        multi = _multi_version(conn)
        prices = [dict(r) for r in conn.execute(select(_PRICE)).mappings()] if with_prices else None
    shown = [
        {
            **r,
            "n": _int(r["n"]),
            "resource": _resource_name(r["rn"], r["resource_id"]),
            "model_label": _label(multi, r["model"], r["model_version"], r["model_format"]),
        }
        for r in rows
    ]
    return TokenHours(shown, labels, prices)


def spend_series(
    engine: Engine, first: date, last: date
) -> tuple[dict[int, _Series], dict[str, dict[date, Decimal]], dict[str, dict[date, Decimal]]]:
    """:func:`_spend_series` over its own connection (for :mod:`collector.spend.month`)."""
    with _reading(engine) as conn:
        return _spend_series(conn, first, last)
