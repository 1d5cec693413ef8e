"""Spend reads (issue #5): per deployment and resource, month to date, forecast, budgets.

Figures come from ``spend_daily`` and ``spend_resource_daily`` (written by
:func:`collector.spend.refresh_spend`), except :func:`spend_by_hour`, which prices
``metric_minute`` on the fly. The pure parts (price look-up, forecast, budget state, the
credits warning) are in ``collector.spend``. A deployment-day's *spent* figure is its allocated
bill when the bill is in, else its estimate (0 when unpriced and unbilled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collector import metric_names as names
from collector.spend.budgets import Budget, budget_state  # spend reads (issue #5), at the end
from collector.spend.credits import credits_warning as marketplace_credits_warning
from collector.spend.daily import is_claude_deployment
from collector.spend.estimate import Tokens, cache_part, cache_savings, estimate_tokens, merge_cache
from collector.spend.forecast import DEFAULT_WINDOW_DAYS, forecast_month_end
from collector.spend.prices import PriceSheet, default_sheet, sheet_from_rows
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    _SPEND,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    TOKEN_METRICS,
    _check_window,
    _deployment_filters,
    _ids_in,
    _ids_matching,
    _int,
    _label,
    _metric_rows,
    _money,
    _multi_version,
    _reading,
    _resource_name,
    context_labels,
    time_bucket,
    window_days,
)
from collector.store.queries.inventory import DeploymentInfo, deployments
from collector.store.schema import TABLES
from collector.store.types import to_utc

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


@dataclass(frozen=True, slots=True)
class SpendHour:
    """Estimated spend of one deployment over one hour (None when its model is unpriced)."""

    ts: datetime
    deployment_id: int
    resource: str
    deployment: str
    model: str | None
    input_tokens: int
    output_tokens: int
    estimated: Decimal | None
    unpriced: bool
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_savings: Decimal | None = None
    model_version: str | None = None
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentMonthSpend:
    """One deployment's month so far (today included) and its forecast to month end."""

    deployment_id: int
    resource: str
    resource_id: str
    deployment: str
    model: str | None
    estimated: Decimal | None
    billed_allocated: Decimal | None
    variance: Decimal | None
    spent: Decimal
    forecast_total: Decimal
    unpriced: bool
    provisional: bool
    model_version: str | None = None
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class MonthSpend:
    """The month so far per deployment and in total, with the forecast to month end.

    ``billed`` is the resources' whole Claude bill (allocated plus ``unallocated``); ``spent``
    the deployments' spent figures plus ``unallocated``. ``credits_warning`` is the text to show
    when Marketplace charges accrued (None when none did or the warning is turned off).
    """

    month_start: date
    today: date
    deployments: tuple[DeploymentMonthSpend, ...]
    estimated: Decimal
    billed: Decimal
    unallocated: Decimal
    spent: Decimal
    forecast_total: Decimal
    forecast_method: str
    unpriced: bool
    credits_warning: str | None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's month so far; ``state`` is ok, warning or over (``collector.spend.budgets``)."""

    label: str
    scope: str
    monthly_usd: Decimal
    warning_fraction: Decimal
    spent: Decimal
    forecast_total: Decimal
    state: str
    forecast_over: bool
    deployment_ids: tuple[int, ...]


def spend_days(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
) -> list[SpendDay]:
    """``spend_daily`` rows of the UTC days that ``[since, until)`` touches, by day then name."""
    first, last = window_days(since, until)
    s, d = _SPEND, _DEPLOYMENT
    stmt = (
        select(
            s,
            d.c.name,
            d.c.model,
            d.c.model_version,
            d.c.model_format,
            d.c.resource_id,
            _RESOURCE.c.name.label("resource_name"),
        )
        .select_from(
            s.join(d, d.c.id == s.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == d.c.resource_id
            )
        )
        .where(
            s.c.day >= first,
            s.c.day <= last,
            *_ids_in(s.c.deployment_id, deployment_ids),
            *_deployment_filters(resource, deployment, model),
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


def spend_by_hour(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
    sheet: PriceSheet | None = None,
) -> list[SpendHour]:
    """Estimated spend per hour and deployment: uncached input, cache writes (5 min, 1 h),
    cache reads and output tokens x the prices in effect that day, by the deployment's model,
    with the cache savings. Prices come from the ``price`` table (and the shipped
    ``ContextLength`` tiers) unless a ``sheet`` is given (pass
    ``collector.spend.prices.load_sheet(...)`` to apply its discounts and tiers, as the daily
    figures do). Deployments of other publishers get no estimate."""
    since, until = _check_window(since, until)
    m = _metric_rows(since, until, TOKEN_METRICS, step_s=3600)
    bucket = time_bucket(m.c.ts, 3600, engine.dialect.name)
    filters = _deployment_filters(resource, deployment, model, deployment_ids)
    agg = (
        select(
            bucket.label("ts"),
            m.c.deployment_id,
            m.c.metric,
            m.c.status_code,
            func.sum(m.c.total).label("n"),
        )
        .where(*([m.c.deployment_id.in_(_ids_matching(filters))] if filters else []))
        .group_by(bucket, m.c.deployment_id, m.c.metric, m.c.status_code)
        .subquery("agg")
    )
    stmt = select(
        agg,
        _DEPLOYMENT.c.name,
        _DEPLOYMENT.c.model,
        _DEPLOYMENT.c.model_format,
        _DEPLOYMENT.c.model_version,
        _DEPLOYMENT.c.resource_id,
        _RESOURCE.c.name.label("rn"),
    ).select_from(
        agg.join(_DEPLOYMENT, _DEPLOYMENT.c.id == agg.c.deployment_id).outerjoin(
            _RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id
        )
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        labels = context_labels(conn)
        multi = _multi_version(conn)
        if sheet is None:
            sheet = sheet_from_rows(
                (dict(r) for r in conn.execute(select(_PRICE)).mappings()),
                default_sheet().context_tiers,
            )
    hours: dict[tuple[datetime, int], dict[str, Any]] = {}
    for r in rows:
        ts = to_utc(r["ts"])
        entry = hours.setdefault((ts, r["deployment_id"]), {"row": r, "plain": {}, "cache": []})
        n = _int(r["n"])
        if r["metric"] in names.CACHE_METRICS:
            entry["cache"].append(cache_part(r["metric"], labels.get(r["status_code"], ""), n))
        else:
            entry["plain"][r["metric"]] = entry["plain"].get(r["metric"], 0) + n
    result = []
    for (ts, dep_id), entry in hours.items():
        r = entry["row"]
        tokens = Tokens(
            entry["plain"].get(INPUT_TOKENS, 0),
            entry["plain"].get(OUTPUT_TOKENS, 0),
            merge_cache(entry["cache"]),
        )
        claude = is_claude_deployment(r["model_format"], r["model"])
        discount = sheet.discount(r["resource_id"], r["rn"])
        version = r["model_version"]
        cost = (
            estimate_tokens(sheet, r["model"], ts.date(), tokens, discount, version=version)
            if claude
            else None
        )
        result.append(
            SpendHour(
                ts=ts,
                deployment_id=dep_id,
                resource=_resource_name(r["rn"], r["resource_id"]),
                deployment=r["name"],
                model=r["model"],
                input_tokens=tokens.input,
                output_tokens=tokens.output,
                estimated=cost,
                unpriced=claude and cost is None,
                cache_read_tokens=tokens.cache_read,
                cache_write_5m_tokens=tokens.cache_write_5m,
                cache_write_1h_tokens=tokens.cache_write_1h,
                cache_savings=cache_savings(
                    sheet, r["model"], ts.date(), tokens.cache, discount, version=version
                )
                if claude
                else None,
                model_version=version,
                model_label=_label(multi, r["model"], version, r["model_format"]),
            )
        )
    return sorted(result, key=lambda x: (x.ts, x.resource, x.deployment, x.deployment_id))


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


def _add(*series: Mapping[date, Decimal]) -> dict[date, Decimal]:
    total: dict[date, Decimal] = {}
    for one in series:
        for day, value in one.items():
            total[day] = total.get(day, Decimal(0)) + value
    return total


def _month_sum(series: Mapping[date, Decimal], start: date, today: date) -> Decimal:
    return sum((v for d, v in series.items() if start <= d <= today), Decimal(0))


def spend_month(
    engine: Engine,
    now: datetime,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    trend: bool = True,
    credits_warning: bool = True,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
) -> MonthSpend:
    """The month of ``now`` so far per deployment and in total, and the forecast to month end
    (method: :mod:`collector.spend.forecast`; ``window_days`` and ``trend`` are its options)."""
    today = to_utc(now).date()
    month_start = today.replace(day=1)
    first = min(month_start, today - timedelta(days=window_days))
    infos = {d.deployment_id: d for d in deployments(engine, include_removed=True)}
    wanted = {
        d.deployment_id
        for d in deployments(
            engine, resource=resource, deployment=deployment, model=model, include_removed=True
        )
    }
    with _reading(engine) as conn:
        series, unallocated, billed_res = _spend_series(conn, first, today)
    rows = []
    for dep_id, one in series.items():
        info = infos.get(dep_id)
        if info is None or dep_id not in wanted:
            continue
        month = {d for d in one.spent if month_start <= d <= today}
        if not month:
            continue
        estimated = _month_sum(one.estimated, month_start, today)
        billed = _month_sum(one.billed, month_start, today)
        known = {d for d in month if d in one.estimated and d in one.billed}
        rows.append(
            DeploymentMonthSpend(
                deployment_id=dep_id,
                resource=info.resource,
                resource_id=info.resource_id,
                deployment=info.deployment,
                model=info.model,
                estimated=estimated if one.estimated else None,
                billed_allocated=billed if one.billed else None,
                variance=sum((one.billed[d] - one.estimated[d] for d in known), Decimal(0))
                if known
                else None,
                spent=_month_sum(one.spent, month_start, today),
                forecast_total=forecast_month_end(
                    one.spent, today, window_days=window_days, trend=trend
                ).month_total,
                unpriced=one.unpriced,
                provisional=one.provisional,
                model_version=info.model_version,
                model_label=info.model_label,
            )
        )
    resources = {r.resource_id for r in rows} if (resource or deployment or model) else None
    unalloc = _add(*(v for k, v in unallocated.items() if resources is None or k in resources))
    billed_total = _add(*(v for k, v in billed_res.items() if resources is None or k in resources))
    total_series = _add(*(series[r.deployment_id].spent for r in rows), unalloc)
    total_forecast = forecast_month_end(total_series, today, window_days=window_days, trend=trend)
    billed_month = _month_sum(billed_total, month_start, today)
    return MonthSpend(
        month_start=month_start,
        today=today,
        deployments=tuple(sorted(rows, key=lambda x: (x.resource, x.deployment, x.deployment_id))),
        estimated=sum((r.estimated or Decimal(0) for r in rows), Decimal(0)),
        billed=billed_month,
        unallocated=_month_sum(unalloc, month_start, today),
        spent=_month_sum(total_series, month_start, today),
        forecast_total=total_forecast.month_total,
        forecast_method=total_forecast.method,
        unpriced=any(r.unpriced for r in rows),
        credits_warning=marketplace_credits_warning(billed_month, credits_warning),
    )


def budgets(
    engine: Engine,
    now: datetime,
    budget_list: Sequence[Budget],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    trend: bool = True,
) -> list[BudgetStatus]:
    """Each budget's month so far, forecast and state. A deployment budget covers the matching
    deployments (by name, and resource when given); a resource budget covers the resource's
    deployments and its unallocated bill."""
    today = to_utc(now).date()
    month_start = today.replace(day=1)
    first = min(month_start, today - timedelta(days=window_days))
    infos = deployments(engine, include_removed=True)
    with _reading(engine) as conn:
        series, unallocated, _ = _spend_series(conn, first, today)
    result = []
    for budget in budget_list:
        res_key = (budget.resource or "").strip().lower()
        dep_key = (budget.deployment or "").strip().lower()

        def matches(info: DeploymentInfo, res_key: str = res_key, dep_key: str = dep_key) -> bool:
            on_resource = not res_key or res_key in (info.resource.lower(), info.resource_id)
            return on_resource and (not dep_key or info.deployment.lower() == dep_key)

        chosen = [i for i in infos if matches(i)]
        parts = [series[i.deployment_id].spent for i in chosen if i.deployment_id in series]
        if not dep_key:
            parts += [
                v
                for rid, v in unallocated.items()
                if rid in {i.resource_id for i in chosen} or rid == res_key
            ]
        daily = _add(*parts)
        spent = _month_sum(daily, month_start, today)
        projected = forecast_month_end(daily, today, window_days=window_days, trend=trend)
        result.append(
            BudgetStatus(
                label=budget.label,
                scope=budget.scope,
                monthly_usd=budget.monthly_usd,
                warning_fraction=budget.warning_fraction,
                spent=spent,
                forecast_total=projected.month_total,
                state=budget_state(
                    spent, projected.month_total, budget.monthly_usd, budget.warning_fraction
                ),
                forecast_over=projected.month_total > budget.monthly_usd,
                deployment_ids=tuple(sorted(i.deployment_id for i in chosen)),
            )
        )
    return result
