"""The report model: every figure of a cost report for one period, read through the query module.

:func:`build_report` makes the reads (``summary``, ``spend_days``, ``spend_resource_days``,
from :mod:`collector.store.queries`; ``spend_month``, ``budgets`` from :mod:`collector.spend.month`:
the same functions as ``foundry-monitor summary`` and the dashboard, so a report cannot disagree
with them); :func:`assemble` turns their results into a
:class:`Report` without touching the database.

Reproducibility: a report reads only the period's days (and the previous period's, for the
movers), and its month outlook is taken *as of the period's last day*, never as of the wall
clock. Re-running a past period on an unchanged store gives the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import Engine

from collector.records import project
from collector.reports.config import ReportConfig
from collector.reports.period import Period
from collector.spend import month as months
from collector.spend.budgets import budget_state
from collector.spend.estimate import sum_known
from collector.spend.forecast import month_end
from collector.store import queries
from collector.store.queries.headroom import pool_headroom

TOP_MOVERS = 5
FINAL = "final"
PROVISIONAL = "provisional"


@dataclass(frozen=True, slots=True)
class DeploymentLine(queries.DeploymentSummary):
    """One deployment over the period: ``summary``'s figures plus spend status, forecast, budget.

    ``spend_status`` is ``final`` when every spend day is final, ``provisional`` when any is not,
    None without spend rows. ``forecast_month_end`` is the month (of the period's last day) to
    its end; ``budget_state`` is the state of the deployment's own budget, if it has one. Every
    other figure is the :class:`~collector.store.queries.DeploymentSummary` it extends.
    """

    spend_status: str | None = None
    forecast_month_end: Decimal | None = None
    budget_state: str | None = None

    @classmethod
    def of(
        cls,
        summary: queries.DeploymentSummary,
        *,
        spend_status: str | None,
        forecast_month_end: Decimal | None,
        budget_state: str | None,
    ) -> DeploymentLine:
        """``summary`` with the report's own figures added."""
        return project(
            cls,
            summary,
            spend_status=spend_status,
            forecast_month_end=forecast_month_end,
            budget_state=budget_state,
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the deployment lines (money None when no line has the figure)."""

    requests: int
    status_2xx: int
    status_429: int
    status_4xx_other: int
    status_5xx: int
    rate_429: float | None
    error_rate: float | None
    input_tokens: int
    output_tokens: int
    spend_estimated: Decimal | None
    spend_billed: Decimal | None
    spend_variance: Decimal | None
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    #: over the Claude deployments (other publishers report no prompt-cache metrics)
    cache_hit_rate: float | None = None
    cache_savings: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DaySpend:
    """One day of one deployment (both None: no spend row that day)."""

    day: date
    estimated: Decimal | None
    billed: Decimal | None
    status: str | None


@dataclass(frozen=True, slots=True)
class DailySeries:
    """A deployment's spend on every day of the period, for its chart."""

    deployment_id: int
    resource: str
    deployment: str
    days: tuple[DaySpend, ...]


@dataclass(frozen=True, slots=True)
class Mover:
    """A deployment's spend (billed where billed, else estimated) against the previous period."""

    resource: str
    deployment: str
    previous: Decimal
    current: Decimal
    change: Decimal
    change_ratio: float | None  # None when the previous period had no spend
    requests_previous: int
    requests_current: int


@dataclass(frozen=True, slots=True)
class DriftDay:
    """A resource-day whose bill and estimate differ by more than the drift threshold."""

    day: date
    resource: str
    estimated: Decimal | None
    billed: Decimal | None
    variance: Decimal | None
    variance_ratio: float | None
    status: str


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """A budget's month (of the period's last day): spent, forecast total, state."""

    label: str
    scope: str
    monthly_usd: Decimal
    spent: Decimal
    forecast_total: Decimal
    state: str


@dataclass(frozen=True, slots=True)
class MonthOutlook:
    """The month of the period's last day, as of that day: spent so far and forecast total.

    ``complete`` when that day is the month's last: the forecast is then the month's spend.
    """

    month_start: date
    as_of: date
    spent: Decimal
    estimated: Decimal
    billed: Decimal
    unallocated: Decimal
    forecast_total: Decimal
    forecast_method: str
    complete: bool
    unpriced: bool


@dataclass(frozen=True, slots=True)
class PoolLine:
    """A quota pool's peak utilization over the period (issue 17): each limit's peak minute
    against the limit (None: limit unknown), the binding limit, its 429 minutes."""

    pool: str
    peak_rpm: float | None
    peak_itpm: float | None
    peak_otpm: float | None
    binding_limit: str | None
    throttled_minutes: int
    limit_source: str


@dataclass(frozen=True, slots=True)
class Report:
    """A cost report for ``period`` (every figure from :mod:`collector.store.queries`)."""

    period: Period
    previous: Period
    lines: tuple[DeploymentLine, ...]
    totals: Totals
    daily: tuple[DailySeries, ...]
    movers: tuple[Mover, ...]
    drift_days: tuple[DriftDay, ...]
    budgets: tuple[BudgetLine, ...]
    month: MonthOutlook
    credits_warning: str | None
    pools: tuple[PoolLine, ...] = ()


def as_of(period: Period) -> datetime:
    """The instant the month outlook and budgets are computed at: noon of the period's last day
    (``spend_month`` and ``budgets`` use only its date)."""
    return datetime.combine(period.last_day, time(12), UTC)


def build_report(engine: Engine, period: Period, config: ReportConfig) -> Report:
    """Read the period (and the previous one) through the query module and assemble the report."""
    previous = period.previous()
    now = as_of(period)
    report = assemble(
        period,
        summary=queries.summary(engine, period.since, period.until),
        previous_summary=queries.summary(engine, previous.since, previous.until),
        spend=queries.spend_days(engine, period.since, period.until),
        previous_spend=queries.spend_days(engine, previous.since, previous.until),
        reconciliation=queries.spend_resource_days(engine, period.since, period.until),
        month=months.spend_month(
            engine,
            now,
            window_days=config.forecast_days,
            trend=config.forecast_trend,
            credits_warning=config.credits_warning,
        ),
        budgets=months.budgets(
            engine,
            now,
            list(config.budgets),
            window_days=config.forecast_days,
            trend=config.forecast_trend,
        ),
    )
    return replace(report, pools=pool_lines(engine, period, config))


def pool_lines(engine: Engine, period: Period, config: ReportConfig) -> tuple[PoolLine, ...]:
    """Each quota pool's peak utilization over the period (the headroom read of the store)."""
    return tuple(
        PoolLine(
            pool=p.key.label,
            peak_rpm=p.by_limit["rpm"].utilization,
            peak_itpm=p.by_limit["itpm"].utilization,
            peak_otpm=p.by_limit["otpm"].utilization,
            binding_limit=p.binding_limit,
            throttled_minutes=p.throttled_minutes,
            limit_source=p.limits.source,
        )
        for p in pool_headroom(engine, period.since, period.until, config.quota, deployments=False)
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _spent(day: queries.SpendDay) -> Decimal:
    best = day.billed_allocated if day.billed_allocated is not None else day.estimated
    return best if best is not None else Decimal(0)


def assemble(
    period: Period,
    *,
    summary: Sequence[queries.DeploymentSummary],
    previous_summary: Sequence[queries.DeploymentSummary],
    spend: Sequence[queries.SpendDay],
    previous_spend: Sequence[queries.SpendDay],
    reconciliation: Sequence[queries.ResourceSpendDay],
    month: months.MonthSpend,
    budgets: Sequence[months.BudgetStatus],
    top_movers: int = TOP_MOVERS,
) -> Report:
    """The report from the query results (pure: no database, no clock)."""
    complete = month.today == month_end(month.today)
    month_rows = {m.deployment_id: m for m in month.deployments}
    budget_lines = tuple(
        project(
            BudgetLine,
            b,
            forecast_total=b.spent if complete else b.forecast_total,
            state=budget_state(b.spent, None, b.monthly_usd, b.warning_fraction)
            if complete
            else b.state,
        )
        for b in budgets
    )
    own_budget: dict[int, str] = {}
    for b, line in zip(budgets, budget_lines, strict=True):
        if b.scope == "deployment":
            for dep_id in b.deployment_ids:
                own_budget[dep_id] = line.state
    statuses: dict[int, set[str]] = {}
    for day in spend:
        statuses.setdefault(day.deployment_id, set()).add(day.status)

    lines = []
    for s in summary:
        m = month_rows.get(s.deployment_id)
        found = statuses.get(s.deployment_id)
        lines.append(
            DeploymentLine.of(
                s,
                spend_status=None if not found else FINAL if found == {FINAL} else PROVISIONAL,
                forecast_month_end=None
                if m is None
                else (m.spent if complete else m.forecast_total),
                budget_state=own_budget.get(s.deployment_id),
            )
        )
    requests = sum(x.requests for x in lines)
    s429 = sum(x.status_429 for x in lines)
    errors = sum(x.status_429 + x.status_4xx_other + x.status_5xx for x in lines)
    claude = [x for x in lines if x.claude]
    reads = sum(x.cache_read_tokens for x in lines)
    writes_5m = sum(x.cache_write_5m_tokens for x in lines)
    writes_1h = sum(x.cache_write_1h_tokens for x in lines)
    totals = Totals(
        requests=requests,
        status_2xx=sum(x.status_2xx for x in lines),
        status_429=s429,
        status_4xx_other=sum(x.status_4xx_other for x in lines),
        status_5xx=sum(x.status_5xx for x in lines),
        rate_429=_ratio(s429, requests),
        error_rate=_ratio(errors, requests),
        input_tokens=sum(x.input_tokens for x in lines),
        output_tokens=sum(x.output_tokens for x in lines),
        spend_estimated=sum_known([x.spend_estimated for x in lines]),
        spend_billed=sum_known([x.spend_billed for x in lines]),
        spend_variance=sum_known([x.spend_variance for x in lines]),
        cache_read_tokens=reads,
        cache_write_5m_tokens=writes_5m,
        cache_write_1h_tokens=writes_1h,
        cache_hit_rate=queries.cache_hit_rate(
            sum(x.input_tokens for x in claude), reads, writes_5m, writes_1h
        ),
        cache_savings=sum_known([x.cache_savings for x in lines]),
    )
    return Report(
        period=period,
        previous=period.previous(),
        lines=tuple(lines),
        totals=totals,
        daily=_daily(period, lines, spend),
        movers=_movers(summary, previous_summary, spend, previous_spend, top_movers),
        drift_days=tuple(project(DriftDay, r) for r in reconciliation if r.drift_flagged),
        budgets=budget_lines,
        month=MonthOutlook(
            month_start=month.month_start,
            as_of=month.today,
            spent=month.spent,
            estimated=month.estimated,
            billed=month.billed,
            unallocated=month.unallocated,
            forecast_total=month.spent if complete else month.forecast_total,
            forecast_method="month complete" if complete else month.forecast_method,
            complete=complete,
            unpriced=month.unpriced,
        ),
        credits_warning=month.credits_warning,
    )


def _daily(
    period: Period, lines: Sequence[DeploymentLine], spend: Sequence[queries.SpendDay]
) -> tuple[DailySeries, ...]:
    """A series per Claude deployment that has spend rows in the period, in the table's order
    (other publishers' deployments have neither an estimate nor a share of the bill)."""
    by_key = {(d.deployment_id, d.day): d for d in spend}
    with_spend = {d.deployment_id for d in spend if d.claude}
    series = []
    for line in lines:
        if line.deployment_id not in with_spend:
            continue
        days = []
        for day in period.days:
            row = by_key.get((line.deployment_id, day))
            days.append(
                DaySpend(day, None, None, None)
                if row is None
                else DaySpend(day, row.estimated, row.billed_allocated, row.status)
            )
        series.append(DailySeries(line.deployment_id, line.resource, line.deployment, tuple(days)))
    return tuple(series)


def _movers(
    summary: Sequence[queries.DeploymentSummary],
    previous_summary: Sequence[queries.DeploymentSummary],
    spend: Sequence[queries.SpendDay],
    previous_spend: Sequence[queries.SpendDay],
    top: int,
) -> tuple[Mover, ...]:
    """The ``top`` largest spend changes (absolute), ties by name; unchanged ones left out."""
    names: dict[int, tuple[str, str]] = {}
    current: dict[int, Decimal] = {}
    before: dict[int, Decimal] = {}
    for days, target in ((spend, current), (previous_spend, before)):
        for d in days:
            names[d.deployment_id] = (d.resource, d.deployment)
            target[d.deployment_id] = target.get(d.deployment_id, Decimal(0)) + _spent(d)
    requests_now = {s.deployment_id: s.requests for s in summary}
    requests_before = {s.deployment_id: s.requests for s in previous_summary}
    movers = []
    for dep_id, (resource, deployment) in names.items():
        now, then = current.get(dep_id, Decimal(0)), before.get(dep_id, Decimal(0))
        if now == then:
            continue
        movers.append(
            Mover(
                resource=resource,
                deployment=deployment,
                previous=then,
                current=now,
                change=now - then,
                change_ratio=float((now - then) / then) if then else None,
                requests_previous=requests_before.get(dep_id, 0),
                requests_current=requests_now.get(dep_id, 0),
            )
        )
    movers.sort(key=lambda m: (-abs(m.change), m.resource, m.deployment))
    return tuple(movers[:top])
