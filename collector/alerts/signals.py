"""The signal registry: one small function per signal, computing its values per scope and minute
from the store's readers (:mod:`collector.store.queries`). This module and :mod:`.run` are the
package's I/O edge; the rule logic (:mod:`.rules`, :mod:`.evaluate`, :mod:`.robust`,
:mod:`.message`) is pure.

A signal function takes a :class:`Context` (the engine, the inventory, the budgets), the rule
and a window ``[since, until)`` of whole minutes, and returns a :data:`Series`: per scope its
values at every minute of the window (the value at minute ``t`` covering ``(t - window, t]``;
None where it is unknown). Per-deployment traffic signals are computed from additive parts
(requests and 429s, a latency histogram, ...) summed over the rule's scope and window, so a
resource, a quota pool or ``all`` is exact, not an average of averages.

``pool_utilization`` is a quota pool's binding limit in % (the highest of its RPM, ITPM and
OTPM minutes over the window, each against the pool's limit): the headroom reads of
:mod:`collector.store.queries.headroom`, whose pools (:func:`collector.pools.pool_key`) every
``pool`` scope here uses too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import Engine

from collector.alerts.evaluate import MINUTE, PartRow, minutes, window_values
from collector.alerts.robust import WEEK, WEEKS, scores
from collector.alerts.rules import Rule
from collector.histogram import MAX_BUCKET, bucket_bounds
from collector.pools import PoolKey, pool_key
from collector.quota_limits import QuotaSettings
from collector.spend.budgets import Budget
from collector.store import queries
from collector.store.queries import DeploymentInfo
from collector.store.queries.headroom import pool_utilization_series

Values = list[tuple[datetime, float | None]]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a value is about: ``key`` names it in states, silences and messages; ``labels``
    (deployment, resource, model, subscription, source, budget) go into messages and links."""

    key: str
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


Series = dict[Scope, Values]


@dataclass(frozen=True)
class Context:
    """What signal functions read besides the store: the inventory (removed deployments
    included, so their traffic still has a name) and the spend options."""

    engine: Engine
    now: datetime
    inventory: tuple[DeploymentInfo, ...] = ()
    budgets: tuple[Budget, ...] = ()
    forecast_days: int = 14
    forecast_trend: bool = True
    by_id: dict[int, DeploymentInfo] = field(default_factory=dict)
    quota: QuotaSettings | None = None  # the granted limits (None: the shipped defaults)
    regions: dict[str, str] = field(default_factory=dict)  # account id -> its ARM location

    @classmethod
    def load(
        cls,
        engine: Engine,
        now: datetime,
        budgets: Sequence[Budget] = (),
        forecast_days: int = 14,
        forecast_trend: bool = True,
        quota: QuotaSettings | None = None,
    ) -> Context:
        inventory = tuple(queries.deployments(engine, include_removed=True))
        return cls(
            engine,
            now,
            inventory,
            tuple(budgets),
            forecast_days,
            forecast_trend,
            {d.deployment_id: d for d in inventory},
            quota,
            {a.resource_id: a.location for a in queries.accounts(engine)},
        )

    def pool_of(self, info: DeploymentInfo) -> PoolKey:
        """The quota pool ``info`` draws from (as the headroom reads key it)."""
        return pool_key(
            subscription_of(info.resource_id),
            info.model,
            info.model_version,
            info.sku,
            self.regions.get(info.resource_id.lower()),
        )


def subscription_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 else ""


def pool_scope(pool: PoolKey) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """A pool's scope key, the names a rule's ``match`` may give it, and its labels."""
    key = "/".join(pool)
    labels = {"model": pool.model, "subscription": pool.subscription_id, "pool": pool.label}
    return key, (pool.model, pool.label, key), labels


def deployment_scope(rule: Rule, info: DeploymentInfo, pool: PoolKey | None = None) -> Scope | None:
    """The scope a deployment's traffic counts in under ``rule`` (None: filtered out); ``pool``
    is the deployment's quota pool (:meth:`Context.pool_of`), needed for ``pool`` scopes."""
    sub = subscription_of(info.resource_id)
    model = info.model or "?"
    labels = {
        "deployment": info.deployment,
        "resource": info.resource,
        "model": model,
        "subscription": sub,
    }
    names: tuple[str, ...]
    if rule.scope == "deployment":
        key = f"{info.resource}/{info.deployment}"
        names = (info.deployment, key)
    elif rule.scope == "resource":
        key, names = info.resource, (info.resource,)
        labels = {"resource": info.resource, "subscription": sub}
    elif rule.scope == "pool":  # a quota pool (subscription, model, version, kind, zone)
        key, names, labels = pool_scope(pool or pool_key(sub, info.model, None, None, None))
    else:
        return Scope("all")
    if not any(rule.matches(n) for n in names):
        return None
    return Scope(key, tuple(sorted(labels.items())))


# Per-deployment traffic: parts per minute, summed over scope and window ---------------------
Parts = Mapping[int, Mapping[datetime, PartRow]]


def _traffic_parts(
    pick: Callable[[queries.TimeseriesPoint], tuple[float, ...]],
) -> Callable[[Context, datetime, datetime], Parts]:
    def read(ctx: Context, since: datetime, until: datetime) -> Parts:
        parts: dict[int, dict[datetime, PartRow]] = defaultdict(dict)
        for p in queries.timeseries(ctx.engine, since, until, step="1m"):
            parts[p.deployment_id][p.ts] = pick(p)
        return parts

    return read


def _latency_parts(ctx: Context, since: datetime, until: datetime) -> Parts:
    rows: dict[int, dict[datetime, np.ndarray]] = defaultdict(dict)
    for h in queries.latency_minutes(ctx.engine, since, until):
        hist = rows[h.deployment_id].get(h.ts)
        if hist is None:
            hist = rows[h.deployment_id][h.ts] = np.zeros(MAX_BUCKET + 1)
        hist[min(h.bucket, MAX_BUCKET)] += h.count
    return rows


def _ratio(sums: Sequence[float]) -> float | None:
    return float(sums[1] / sums[0]) if len(sums) and sums[0] > 0 else None


def _count(sums: Sequence[float]) -> float | None:
    return float(sums[0]) if len(sums) else 0.0


def p95_of(sums: Sequence[float]) -> float | None:
    """The nearest-rank p95 of a merged histogram, as its bucket's upper bound (ms)."""
    counts = np.asarray(sums)
    total = float(counts.sum()) if len(counts) else 0.0
    if total <= 0:
        return None
    rank = int(np.ceil(0.95 * total - 1e-9))
    bucket = int(np.searchsorted(np.cumsum(counts), rank - 0.5))
    return bucket_bounds(bucket)[1]


@dataclass(frozen=True)
class Windowed:
    """A traffic signal: additive parts per deployment and minute, and the value of their sums."""

    parts: Callable[[Context, datetime, datetime], Parts]
    value: Callable[[Sequence[float]], float | None]
    width: int
    missing_is_zero: bool = False  # ``requests``: a deployment with no point has 0 requests

    def __call__(self, ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
        window = rule.window_minutes
        parts = self.parts(ctx, since - (window - 1) * MINUTE, until)
        if not parts:  # nothing stored in the window (before collection began): no values,
            return {}  # not zeros (an anomaly baseline must not read them as a quiet week)
        scopes: dict[str, Scope] = {}  # by key: a scope's deployments share one
        grouped: dict[str, dict[datetime, np.ndarray]] = {}
        known = set(parts)
        if self.missing_is_zero:  # every deployment of the inventory counts, traffic or not
            known |= {d.deployment_id for d in ctx.inventory if d.removed_at is None}
        for dep_id in sorted(known):
            info = ctx.by_id.get(dep_id)
            if info is None:
                continue
            scope = deployment_scope(rule, info, ctx.pool_of(info))
            if scope is None:
                continue
            scopes.setdefault(scope.key, scope)
            into = grouped.setdefault(scope.key, {})
            for ts, row in parts.get(dep_id, {}).items():
                if ts in into:
                    into[ts] = into[ts] + np.asarray(row, dtype=float)
                else:
                    into[ts] = np.asarray(row, dtype=float)
        series: Series = {}
        for key, by_minute in grouped.items():
            rows: Mapping[datetime, PartRow] = by_minute
            if not rows and self.missing_is_zero:
                rows = {since: (0.0,) * self.width}
            series[scopes[key]] = window_values(rows, since, until, window, self.value)
        return series


# Point signals: one value per scope and minute ----------------------------------------------
def _day_start(ts: datetime) -> datetime:
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def spend_day(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """USD of the minute's UTC day per scope: the allocated bill where a day has one, else the
    estimate (a day's spend as the store knows it now; replay sees whole past days)."""
    scopes: dict[str, Scope] = {}
    per_day: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for s in queries.spend_days(ctx.engine, since, until):
        info = ctx.by_id.get(s.deployment_id)
        amount = s.billed_allocated if s.billed_allocated is not None else s.estimated
        if info is None or amount is None:
            continue
        scope = deployment_scope(rule, info, ctx.pool_of(info))
        if scope is not None:
            scopes.setdefault(scope.key, scope)
            day = datetime(s.day.year, s.day.month, s.day.day, tzinfo=UTC)
            per_day[scope.key][day] += float(amount)
    return {
        scopes[key]: [(m, days.get(_day_start(m), 0.0)) for m in minutes(since, until)]
        for key, days in per_day.items()
    }


def budget_forecast(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """Per budget: its month-end forecast / its amount, as of each day's end (or now)."""
    from collector.spend.month import budgets

    if not ctx.budgets:
        return {}
    series: Series = defaultdict(list)
    day = _day_start(since)
    while day < until:
        as_of = min(day + timedelta(days=1) - MINUTE, ctx.now)
        statuses = budgets(
            ctx.engine,
            as_of,
            ctx.budgets,
            window_days=ctx.forecast_days,
            trend=ctx.forecast_trend,
        )
        lo, hi = max(day, since), min(day + timedelta(days=1), until)
        for status in statuses:
            if not rule.matches(status.label):
                continue
            ratio = (
                float(status.forecast_total / status.monthly_usd) if status.monthly_usd else None
            )
            scope = Scope(status.label, (("budget", status.label),))
            series[scope].extend((m, ratio) for m in minutes(lo, hi))
        day += timedelta(days=1)
    return dict(series)


def stale_source(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """Per source and scope: minutes since its last successful run finished (since its first
    run, when none succeeded); None before its first run."""
    events = queries.run_events(ctx.engine, since - timedelta(days=7), until)
    by_scope: dict[tuple[str, str], list[queries.RunEvent]] = defaultdict(list)
    for e in events:
        by_scope[(e.source, e.scope)].append(e)
    series: Series = {}
    for (source, scope_name), runs in sorted(by_scope.items()):
        key = f"{source}:{scope_name}"
        if not (rule.matches(source) or rule.matches(key)):
            continue
        oks = sorted(e.finished_at for e in runs if e.ok and e.finished_at is not None)
        first = min(e.started_at for e in runs)
        values: Values = []
        i, last_ok = 0, None
        for m in minutes(since, until):
            end = m + MINUTE
            while i < len(oks) and oks[i] < end:
                last_ok, i = oks[i], i + 1
            ref = last_ok if last_ok is not None else (first if first < end else None)
            values.append((m, None if ref is None else (end - ref) / MINUTE))
        scope = Scope(key, (("source", source), ("collection_scope", scope_name)))
        series[scope] = values
    return series


def cost_without_traffic(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """Per resource: the Claude cost billed on its latest billed day (of the minute's day and
    the three before) when it had no requests that day (or no deployment at all); else 0."""
    lookback = timedelta(days=3)
    first = _day_start(since) - lookback
    requests: dict[tuple[str, datetime], int] = defaultdict(int)
    for p in queries.timeseries(ctx.engine, first, until, step="1d"):
        info = ctx.by_id.get(p.deployment_id)
        if info is not None:
            requests[(info.resource_id, _day_start(p.ts))] += p.requests
    billed: dict[tuple[str, str], dict[datetime, Decimal]] = defaultdict(dict)
    for r in queries.spend_resource_days(ctx.engine, first, until):
        if r.billed is not None and r.billed > 0:
            day = datetime(r.day.year, r.day.month, r.day.day, tzinfo=UTC)
            billed[(r.resource_id, r.resource)][day] = r.billed
    series: Series = {}
    for (resource_id, name), days in sorted(billed.items()):
        if not rule.matches(name):
            continue
        values: Values = []
        for m in minutes(since, until):
            today = _day_start(m)
            recent = [d for d in days if today - lookback <= d <= today]
            if not recent:
                values.append((m, 0.0))
                continue
            latest = max(recent)
            idle = requests.get((resource_id, latest), 0) == 0
            values.append((m, float(days[latest]) if idle else 0.0))
        series[Scope(name, (("resource", name), ("resource_id", resource_id)))] = values
    return series


def pool_utilization(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """Per quota pool: its binding limit in % over the window (per minute, the highest of its
    RPM, ITPM and OTPM minutes against the pool's limits); None while a pool's limits are
    unknown. The minutes come from ``pool_minute`` (:func:`pool_utilization_series`)."""
    window = rule.window_minutes
    start = since - (window - 1) * MINUTE
    points = pool_utilization_series(ctx.engine, start, until, "1m", ctx.quota)
    if not points:
        return {}
    per_pool: dict[PoolKey, dict[datetime, float | None]] = defaultdict(dict)
    for p in points:
        value = None if p.utilization is None else 100.0 * p.utilization
        minute = per_pool[p.key]
        if p.ts not in minute or (value is not None and value > (minute[p.ts] or 0.0)):
            minute[p.ts] = value
    series: Series = {}
    for pool, by_minute in sorted(per_pool.items()):
        key, names, labels = pool_scope(pool)
        if rule.scope == "pool" and not any(rule.matches(n) for n in names):
            continue
        known = any(v is not None for v in by_minute.values())
        values: Values = []
        for m in minutes(since, until):
            if not known:
                values.append((m, None))
                continue
            seen = [by_minute.get(m - i * MINUTE) for i in range(window)]
            values.append((m, max((v or 0.0) for v in seen)))  # a quiet minute used 0 %
        if rule.scope == "all":
            continue
        series[Scope(key, tuple(sorted(labels.items())))] = values
    if rule.scope == "all":  # the fullest pool of all
        merged: dict[datetime, float | None] = {}
        for by_minute in per_pool.values():
            for ts, v in by_minute.items():
                if v is not None and v > (merged.get(ts) or 0.0):
                    merged[ts] = v
        if merged:
            series[Scope("all")] = [
                (m, max((merged.get(m - i * MINUTE) or 0.0) for i in range(window)))
                for m in minutes(since, until)
            ]
    return series


Signal = Callable[[Context, Rule, datetime, datetime], Series]

#: The registry: signal name -> its function.
SIGNALS: dict[str, Signal] = {
    "rate_429": Windowed(_traffic_parts(lambda p: (p.requests, p.status_429)), _ratio, 2),
    "error_rate": Windowed(
        _traffic_parts(lambda p: (p.requests, p.status_4xx + p.status_5xx)), _ratio, 2
    ),
    "requests": Windowed(
        _traffic_parts(lambda p: (float(p.requests),)), _count, 1, missing_is_zero=True
    ),
    "ttft_avg_ms": Windowed(
        _traffic_parts(
            lambda p: (
                (p.status_2xx, (p.ttft_avg_ms or 0.0) * p.status_2xx)
                if p.ttft_avg_ms is not None
                else (0.0, 0.0)
            )
        ),
        lambda s: float(s[1] / s[0]) if len(s) and s[0] > 0 else None,
        2,
    ),
    "p95_ms": Windowed(_latency_parts, p95_of, MAX_BUCKET + 1),
    "pool_utilization": pool_utilization,
    "spend_day": spend_day,
    "budget_forecast": budget_forecast,
    "stale_source": stale_source,
    "cost_without_traffic": cost_without_traffic,
}


def _baseline_ranges(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The windows holding the baseline hours of every hour of ``[since, until)``."""
    first = since.replace(minute=0, second=0, microsecond=0)
    hours = max(1, int((until - first) / timedelta(hours=1)) + (1 if until.minute else 0))
    if hours > 24:  # a long replay: one window from four weeks before to a week before
        return [(first - WEEKS * WEEK, until - WEEK + timedelta(hours=1))]
    ranges = []
    for k in range(WEEKS, 0, -1):
        ranges.append((first - k * WEEK, first - k * WEEK + timedelta(hours=hours)))
    return ranges


def anomaly(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """``anomaly:<signal>``: each minute's robust z-score against the same hour of the week over
    the four weeks before (:mod:`collector.alerts.robust`)."""
    base = SIGNALS[rule.base_signal]
    current = base(ctx, rule, since, until)
    history: dict[Scope, dict[datetime, float | None]] = defaultdict(dict)
    for lo, hi in _baseline_ranges(since, until):
        for scope, values in base(ctx, rule, lo, hi).items():
            history[scope].update(values)
    return {scope: scores(values, history.get(scope, {})) for scope, values in current.items()}


def compute(ctx: Context, rule: Rule, since: datetime, until: datetime) -> Series:
    """The rule's signal per scope and minute over ``[since, until)``."""
    if rule.anomaly:
        return anomaly(ctx, rule, since, until)
    signal = SIGNALS.get(rule.signal)
    if signal is None:
        raise KeyError(rule.signal)
    return signal(ctx, rule, since, until)
