"""Traffic reads: the per-deployment summary over a window, the time series per step and the
exact status codes (:func:`timeseries` only gives classes; codes come from ``metric_minute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Unpack

from sqlalchemy import Engine, Select, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collector import metric_names as names
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _RESOURCE,
    _SPEND,
    AVAILABILITY,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    REQUESTS,
    TTFT,
    TTLB,
    Filter,
    Filters,
    NameFilters,
    _cache_sums,
    _check_window,
    _hist_rows,
    _ids_in,
    _int,
    _inventory_join,
    _label,
    _mean,
    _metric_rows,
    _money,
    _multi_version,
    _ratio,
    _reading,
    _resource_name,
    _status_sums,
    _upper_ms,
    _with_deployment,
    cache_hit_rate,
    parse_step,
    time_bucket,
    window_days,
)
from collector.store.queries.columns import Column, Columns, floats, ints, ratios, transpose
from collector.store.rollup import DEFAULT_QUANTILES, percentile_buckets
from collector.store.types import to_utc
from collector.versions import hosting_of, is_claude_deployment


@dataclass(frozen=True, slots=True)
class DeploymentSummary:
    """One deployment over a window. Rates are None without requests, percentiles without 2xx,
    spend without ``spend_daily`` rows (never 0 for "unknown")."""

    resource: str
    deployment: str
    model: str | None
    requests: int
    status_2xx: int
    status_429: int
    status_4xx_other: int
    status_5xx: int
    rate_429: float | None
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    input_tokens: int
    output_tokens: int
    spend_estimated: Decimal | None
    spend_billed: Decimal | None
    resource_id: str
    deployment_id: int
    #: billed (allocated) - estimated, over the days that have both (not the days still unbilled)
    spend_variance: Decimal | None = None
    #: prompt-cache tokens (Azure's cacheReadInputTokens, ephemeral5m/1hInputTokens)
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    #: cache reads / (uncached input + cache writes + cache reads); None without input, and for
    #: other publishers (Azure reports the prompt-cache metrics for Anthropic deployments only)
    cache_hit_rate: float | None = None
    #: what the reads saved over plain input, less the write premiums (estimated, USD, days)
    cache_savings: Decimal | None = None
    #: mean of Azure's NormalizedTimeToFirstToken (ms) over the window; Azure gives no TTFT
    #: percentiles
    ttft_avg_ms: float | None = None
    #: False for deployments of other publishers (e.g. an OpenAI model on the same resource)
    claude: bool = True
    #: ARM's properties.model.version, the hosting it implies (None: not known) and the model
    #: as shown (with the version when the inventory holds the model in several versions)
    model_version: str | None = None
    hosting: str | None = None
    model_label: str | None = None


@dataclass(frozen=True, slots=True)
class TimeseriesPoint:
    """One deployment over one step starting at ``ts``. TTLB figures are for successful requests."""

    ts: datetime
    deployment_id: int
    resource: str
    deployment: str
    requests: int
    status_2xx: int
    status_4xx: int
    status_429: int
    status_5xx: int
    rate_429: float | None
    input_tokens: int
    output_tokens: int
    ttlb_avg_ms: float | None
    ttlb_max_ms: float | None
    availability_pct: float | None
    #: Azure's NormalizedTimeToFirstToken over the step: mean of the minutes' averages (weighted
    #: by their counts where given) and the largest maximum; Azure gives no TTFT percentiles
    ttft_avg_ms: float | None = None
    ttft_max_ms: float | None = None


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


def _variance(estimated: Decimal | None, billed: Decimal | None) -> Decimal | None:
    return None if estimated is None or billed is None else billed - estimated


def summary(
    engine: Engine,
    since: datetime,
    until: datetime,
    **filters: Unpack[NameFilters],
) -> list[DeploymentSummary]:
    """Per deployment over ``[since, until)``: requests by status, 429 and error rates, latency
    percentiles of successful requests, tokens and spend.

    Deployments of the inventory without traffic in the window are included with zeros (unless
    they were removed before it or created after it). ``error_rate`` counts every 4xx (429
    included) and 5xx. Spend sums ``spend_daily`` over the UTC days the window touches.
    """
    since, until = _check_window(since, until)
    chosen = Filter(**filters)
    stmt = _summary_statement(since, until, chosen)
    latency_stmt = _summary_latency(since, until, chosen)
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        latency = {r.deployment_id: r for r in conn.execute(latency_stmt)}
        multi = _multi_version(conn)
    result = [_summary_row(r, latency.get(r["id"]), multi) for r in rows]
    return sorted(result, key=lambda x: (x.resource, x.deployment, x.deployment_id))


def _summary_statement(since: datetime, until: datetime, chosen: Filter) -> Select[Any]:
    """:func:`summary`'s rows: per deployment of the inventory (in the window, or with traffic or
    spend in it) its traffic sums over ``[since, until)`` and its spend over the days touched."""
    m = _metric_rows(
        since, until, [REQUESTS, INPUT_TOKENS, OUTPUT_TOKENS, TTFT, *names.CACHE_METRICS]
    )
    traffic = (
        select(m.c.deployment_id, *_status_sums(m), *_cache_sums(m))
        .group_by(m.c.deployment_id)
        .subquery("traffic")
    )
    first_day, last_day = window_days(since, until)
    s = _SPEND
    both = and_(s.c.estimated.is_not(None), s.c.billed_allocated.is_not(None))
    spend = (
        select(
            s.c.deployment_id,
            func.sum(s.c.estimated).label("estimated"),
            func.sum(s.c.billed_allocated).label("billed"),
            # the variance compares the days that have both figures: the bill is a day or two
            # late, and a day not billed yet is not a difference
            func.sum(case((both, s.c.billed_allocated))).label("billed_compared"),
            func.sum(case((both, s.c.estimated))).label("estimated_compared"),
            func.sum(s.c.cache_savings).label("cache_savings"),
        )
        .where(s.c.day >= first_day, s.c.day <= last_day)
        .group_by(s.c.deployment_id)
        .subquery("spend")
    )
    d = _DEPLOYMENT
    in_window = and_(
        or_(d.c.removed_at.is_(None), d.c.removed_at >= since),
        or_(d.c.first_seen.is_(None), d.c.first_seen < until),
    )
    stmt = (
        select(
            d.c.id,
            d.c.name,
            d.c.model,
            d.c.model_format,
            d.c.model_version,
            d.c.resource_id,
            _RESOURCE.c.name.label("resource_name"),
            *(col for col in traffic.c if col.key != "deployment_id"),
            spend.c.estimated,
            spend.c.billed,
            spend.c.estimated_compared,
            spend.c.billed_compared,
            spend.c.cache_savings,
        )
        .select_from(
            _inventory_join()
            .outerjoin(traffic, traffic.c.deployment_id == d.c.id)
            .outerjoin(spend, spend.c.deployment_id == d.c.id)
        )
        .where(
            or_(
                traffic.c.deployment_id.is_not(None), spend.c.deployment_id.is_not(None), in_window
            ),
            *chosen.conditions(),
        )
    )
    return stmt


def _summary_latency(since: datetime, until: datetime, chosen: Filter) -> Select[Any]:
    """:func:`summary`'s percentiles: buckets of the 2xx histogram per deployment."""
    h = _hist_rows(since, until, "2xx")
    hist_filter = chosen.on(h.c.deployment_id)
    hist = (
        select(h.c.deployment_id, h.c.bucket, func.sum(h.c["count"]).label("n"))
        .where(*hist_filter)
        .group_by(h.c.deployment_id, h.c.bucket)
        .subquery("hist")
    )
    return percentile_buckets(hist, ["deployment_id"], DEFAULT_QUANTILES)


def _summary_row(r: Any, lat: Any, multi: set[str]) -> DeploymentSummary:
    """One row of :func:`_summary_statement` (``lat``: its percentile buckets, None without)."""
    requests = _int(r["requests"])
    s2, s429, s4, s5 = (
        _int(r[k]) for k in ("status_2xx", "status_429", "status_4xx", "status_5xx")
    )
    inp = _int(r["input_tokens"])
    read, w5, w1 = (_int(r[k]) for k in ("cache_read_tokens", "cache_write_5m", "cache_write_1h"))
    claude = is_claude_deployment(r["model_format"], r["model"])
    return DeploymentSummary(
        resource=_resource_name(r["resource_name"], r["resource_id"]),
        deployment=r["name"],
        model=r["model"],
        requests=requests,
        status_2xx=s2,
        status_429=s429,
        status_4xx_other=s4 - s429,
        status_5xx=s5,
        rate_429=_ratio(s429, requests),
        error_rate=_ratio(s4 + s5, requests),
        p50_ms=_upper_ms(lat.b0) if lat else None,
        p95_ms=_upper_ms(lat.b1) if lat else None,
        p99_ms=_upper_ms(lat.b2) if lat else None,
        input_tokens=inp,
        output_tokens=_int(r["output_tokens"]),
        spend_estimated=_money(r["estimated"]),
        spend_billed=_money(r["billed"]),
        resource_id=r["resource_id"],
        deployment_id=r["id"],
        spend_variance=_variance(_money(r["estimated_compared"]), _money(r["billed_compared"])),
        cache_read_tokens=read,
        cache_write_5m_tokens=w5,
        cache_write_1h_tokens=w1,
        cache_hit_rate=cache_hit_rate(inp, read, w5, w1) if claude else None,
        cache_savings=_money(r["cache_savings"]),
        ttft_avg_ms=_mean(
            r["ttft_weighted"], r["ttft_count"], r["ttft_average_sum"], r["ttft_average_n"]
        ),
        claude=claude,
        model_version=r["model_version"],
        hosting=hosting_of(r["model_format"], r["model_version"]),
        model_label=_label(multi, r["model"], r["model_version"], r["model_format"]),
    )


def timeseries(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    **filters: Unpack[Filters],
) -> list[TimeseriesPoint]:
    """Per step and deployment: requests by status class, 429s, tokens, TTLB, TTFT,
    availability.

    Only steps with data are returned (the dashboard fills gaps); ``ts`` is the step's start,
    steps aligned on the UTC epoch (days start at midnight UTC). ``ttlb_avg_ms`` and
    ``ttft_avg_ms`` are weighted by the number of requests measured each minute (the plain mean
    of the minutes' averages where Azure gave no count); ``ttft_max_ms`` is the step's largest
    per-minute maximum.
    """
    return timeseries_columns(engine, since, until, step=step, **filters).records(TimeseriesPoint)


#: The Azure metrics :func:`timeseries` reads, and the columns each one gives.
SERIES_METRICS: dict[str, tuple[str, ...]] = {
    REQUESTS: ("requests", "status_2xx", "status_4xx", "status_429", "status_5xx", "rate_429"),
    INPUT_TOKENS: ("input_tokens",),
    OUTPUT_TOKENS: ("output_tokens",),
    TTLB: ("ttlb_avg_ms", "ttlb_max_ms"),
    AVAILABILITY: ("availability_pct",),
    TTFT: ("ttft_avg_ms", "ttft_max_ms"),
}


def timeseries_columns(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    metrics: Sequence[str] | None = None,
    **filters: Unpack[Filters],
) -> Columns:
    """:func:`timeseries` as columns named after :class:`TimeseriesPoint`'s fields, in its
    order: the dashboard's charts read a week of hourly points per deployment this way.

    ``metrics`` (None: all of :data:`SERIES_METRICS`) reads only those Azure metrics: the columns
    of the others are left out, and a step is returned when it has rows of one of them. A chart
    of one page's figures then reads a third of the rows; every figure it gives equals
    :func:`timeseries`'s (the same sums over the same rows).
    """
    since, until = _check_window(since, until)
    chosen = list(SERIES_METRICS) if metrics is None else list(dict.fromkeys(metrics))
    unknown = [x for x in chosen if x not in SERIES_METRICS]
    if unknown or not chosen:
        raise ValueError(f"metrics must be some of {', '.join(SERIES_METRICS)}, got {unknown}")
    stmt = _timeseries_statement(
        since, until, parse_step(step), engine.dialect.name, chosen, filters
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    got = dict(
        zip(
            [c.key for c in stmt.selected_columns],
            transpose(rows, len(stmt.selected_columns)),
            strict=True,
        )
    )
    keys = list(zip(got["rn"], got["resource_id"], strict=True))
    labels = {k: _resource_name(*k) for k in set(keys)}
    values: dict[str, Column] = {
        "ts": got["ts"],
        "deployment_id": got["deployment_id"],
        "resource": [labels[k] for k in keys],
        "deployment": got["name"],
    }
    if REQUESTS in chosen:
        n_requests, n_429 = ints(got["requests"]), ints(got["status_429"])
        values["requests"] = n_requests
        values["status_2xx"] = ints(got["status_2xx"])
        values["status_4xx"] = ints(got["status_4xx"])
        values["status_429"] = n_429
        values["status_5xx"] = ints(got["status_5xx"])
        values["rate_429"] = ratios(n_429, n_requests)
    for name in ("input_tokens", "output_tokens"):
        if name in got:
            values[name] = ints(got[name])
    for name in ("ttlb_avg", "ttlb_max", "availability", "ttft_avg", "ttft_max"):
        if name in got:
            values[_FIGURES.get(name, f"{name}_ms")] = floats(got[name])
    return Columns(tuple(values), tuple(values.values()))


_FIGURES = {"availability": "availability_pct"}


def _timeseries_statement(
    since: datetime,
    until: datetime,
    seconds: int,
    dialect: str,
    metrics: Sequence[str],
    filters: Filters,
) -> Select[Any]:
    """:func:`timeseries`'s rows over ``metrics``: the sums per step and deployment, then the
    deployment's name, resource id and resource name."""
    m = _metric_rows(since, until, metrics, step_s=seconds)
    bucket = time_bucket(m.c.ts, seconds, dialect)
    sums = {c.key: c for c in _status_sums(m)}
    figures: dict[str, list[ColumnElement[Any]]] = {
        REQUESTS: [
            sums[k] for k in ("requests", "status_2xx", "status_4xx", "status_429", "status_5xx")
        ],
        INPUT_TOKENS: [sums["input_tokens"]],
        OUTPUT_TOKENS: [sums["output_tokens"]],
        TTLB: _timing(m, TTLB, "ttlb"),
        AVAILABILITY: [
            (
                func.sum(case((m.c.metric == AVAILABILITY, m.c.average_sum)))
                / func.nullif(func.sum(case((m.c.metric == AVAILABILITY, m.c.average_n))), 0)
            ).label("availability")
        ],
        TTFT: _timing(m, TTFT, "ttft"),
    }
    agg = (
        select(
            bucket.label("ts"),
            m.c.deployment_id,
            *(col for metric in SERIES_METRICS if metric in metrics for col in figures[metric]),
        )
        .where(*Filter(**filters).on(m.c.deployment_id))
        .group_by(bucket, m.c.deployment_id)
        .subquery("agg")
    )
    return (
        select(agg, _DEPLOYMENT.c.name, _DEPLOYMENT.c.resource_id, _RESOURCE.c.name.label("rn"))
        .select_from(_with_deployment(agg))
        .order_by(agg.c.ts, agg.c.deployment_id)
    )


def _timing(m: Any, metric: str, prefix: str) -> list[ColumnElement[Any]]:
    """A latency metric's mean over the step (weighted by the minutes' counts, else the plain
    mean of the minutes' averages) and its largest per-minute maximum."""
    mine = m.c.metric == metric
    return [
        func.coalesce(
            func.sum(case((mine, m.c.avg_x_count)))
            / func.nullif(func.sum(case((mine, m.c["count"]))), 0),
            func.sum(case((mine, m.c.average_sum)))
            / func.nullif(func.sum(case((mine, m.c.average_n))), 0),
        ).label(f"{prefix}_avg"),
        func.max(case((mine, m.c.maximum))).label(f"{prefix}_max"),
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
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    m = _metric_rows(since, until, [REQUESTS], step_s=seconds)
    bucket = time_bucket(m.c.ts, seconds, engine.dialect.name)
    stmt = (
        select(bucket.label("ts"), m.c.status_code, func.sum(m.c.total).label("n"))
        .where(*_ids_in(m.c.deployment_id, deployment_ids))
        .group_by(bucket, m.c.status_code)
        .order_by(bucket, m.c.status_code)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    return [
        StatusCodePoint(ts=to_utc(r.ts), status_code=int(r.status_code), requests=_int(r.n))
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
    since, until = _check_window(since, until)
    m, d = _metric_rows(since, until, [REQUESTS]), _DEPLOYMENT
    agg = (
        select(m.c.deployment_id, m.c.status_code, func.sum(m.c.total).label("n"))
        .where(*_ids_in(m.c.deployment_id, deployment_ids))
        .group_by(m.c.deployment_id, m.c.status_code)
        .subquery("agg")
    )
    stmt = select(
        agg, d.c.name, d.c.resource_id, _RESOURCE.c.name.label("resource_name")
    ).select_from(_with_deployment(agg))
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    result = [
        StatusCodeTotal(
            deployment_id=r["deployment_id"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            deployment=r["name"],
            status_code=int(r["status_code"]),
            requests=_int(r["n"]),
        )
        for r in rows
    ]
    return sorted(result, key=lambda x: (x.resource, x.deployment, x.deployment_id, x.status_code))
