"""What every page shares: the engine, the view (the sidebar's filters, kept in the URL), cached
reads of the query module, and formatting.

Pages never query the store themselves: they call the ``load_*`` functions below, each a thin
``st.cache_data`` wrapper around one function of :mod:`collector.store.queries`. Every wrapper
takes the database URL as its first argument, so that two stores never share a cache entry.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from collector.config import Settings, load_settings
from collector.errors import FoundryMonitorError
from collector.headroom import PoolHeadroom
from collector.spend import hourly
from collector.spend import month as months
from collector.spend.budgets import Budget
from collector.spend.prices import load_sheet
from collector.store import migrate, queries
from collector.store.alerts import Silence, StoredEpisode, StoredState
from collector.store.queries.headroom import pool_headroom, pool_utilization_series
from collector.text import csv_cell, visible

# The server's imports (Streamlit, pandas, SQLAlchemy: about 170,000 objects) never become
# garbage: moved out of the cyclic collector's reach once, so that the collections a week of
# hourly series triggers (tens of thousands of row tuples) stop walking them. Measured on the
# Latency page over 7 days: 0.19 s of collections per run without, 0.11 s with.
gc.freeze()

# The view -------------------------------------------------------------------------------------
RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RANGE_LABELS: dict[str, str] = {
    "1h": "Last hour",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "custom": "Custom",
}
DEFAULT_RANGE = "24h"
REFRESH_CHOICES: dict[str, int] = {"off": 0, "1m": 60, "5m": 300}

#: Query-parameter names of the view (the look-up page adds ``id``).
PARAM_RANGE, PARAM_FROM, PARAM_TO, PARAM_REFRESH = "range", "from", "to", "refresh"
PARAM_SUBSCRIPTION, PARAM_RESOURCE = "subscription", "resource"
PARAM_DEPLOYMENT, PARAM_MODEL, PARAM_ID = "deployment", "model", "id"

EMPTY_STORE = (
    "No data has been collected yet. Run `foundry-monitor collect --once` to collect from Azure, "
    "or `foundry-monitor demo` to fill the store with a simulated workload, then press Refresh."
)
NO_MATCH = "No deployment matches the sidebar's filters: clear some of them."
DASH = "—"
#: How a deployment of another publisher (e.g. an OpenAI model on the same Foundry resource) is
#: marked: its cost comes under Azure meters, kept apart per resource, never given Claude's bill.
CLAUDE, NOT_CLAUDE = "Claude", "not Claude"

_VIEW_KEY = "_view"


@dataclass(frozen=True)
class View:
    """What the sidebar selected: the window and the deployments, plus the store to read."""

    url: str
    now: datetime
    since: datetime
    until: datetime
    range_key: str
    retention_days: int
    subscriptions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    deployments: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    #: None: no filter (every deployment); else the inventory ids matching the filters.
    deployment_ids: tuple[int, ...] | None = None
    empty_store: bool = False

    @property
    def step(self) -> str:
        """Chart step for the window: about 60 to 300 points per line."""
        return step_for(self.until - self.since)

    @property
    def window_label(self) -> str:
        return f"{fmt_time(self.since)} → {fmt_time(self.until)} UTC"

    def keep(self, deployment_id: int) -> bool:
        return self.deployment_ids is None or deployment_id in self.deployment_ids


def step_for(span: timedelta) -> str:
    """Chart step for a window, each read from the rollup of its length (quarter hours for a
    day, hours for a week, days beyond), so a page stays under a second with a hundred
    deployments; minutes only for windows of a few hours."""
    if span <= timedelta(hours=3):
        return "1m"
    if span <= timedelta(hours=6):
        return "5m"
    if span <= timedelta(days=1):
        return "15m"
    return "1h" if span <= timedelta(days=7) else "1d"


def sparkline_step(span: timedelta) -> str:
    """A coarser step for the overview's sparklines (12 to 60 points)."""
    if span <= timedelta(hours=1):
        return "1m"
    if span <= timedelta(hours=6):
        return "5m"
    if span <= timedelta(days=3):
        return "1h"
    return "1d"


def floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def parse_when(text: str | None, *, end: bool = False) -> datetime | None:
    """An ISO date or datetime from the URL (UTC); a bare date as ``to`` means its whole day."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=UTC)
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # a crafted URL (9999-12-31, 0001-01-01+14:00): ignored
        return None


def resolve_window(
    range_key: str,
    now: datetime,
    retention_days: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[datetime, datetime]:
    """``[since, until)`` of a range; ``until`` is the end of the current minute, so the window
    (and therefore every cache key) stays the same for a minute. Custom windows are clamped to
    the retention window."""
    until = floor_minute(now) + timedelta(minutes=1)
    oldest = until - timedelta(days=retention_days)
    if range_key in RANGES:
        return max(until - RANGES[range_key], oldest), until
    since = max(start or until - RANGES[DEFAULT_RANGE], oldest)
    stop = min(end or until, until)
    if stop <= since:
        return max(until - RANGES[DEFAULT_RANGE], oldest), until
    return since, stop


def set_view(view: View) -> None:
    st.session_state[_VIEW_KEY] = view


def current_view() -> View:
    """The view built by ``app.py`` for this run."""
    view = st.session_state.get(_VIEW_KEY)
    if view is None:  # a page run on its own (e.g. `streamlit run dashboard/views/x.py`)
        st.error("Start the dashboard with `streamlit run dashboard/app.py`.")
        st.stop()
    return view


def page_view(title: str, caption: str | None = None) -> View:
    """Title, window caption and the empty-store guard every page starts with."""
    view = current_view()
    st.title(title)
    st.caption(caption or view.window_label)
    if view.empty_store:
        st.info(EMPTY_STORE)
        st.stop()
    if view.deployment_ids == ():
        st.info(NO_MATCH)
        st.stop()
    return view


# Engine and settings --------------------------------------------------------------------------
def settings() -> Settings:
    """Settings from the environment (FOUNDRY_MONITOR_*); a bad value stops the page with it."""
    try:
        return load_settings()
    except FoundryMonitorError as exc:
        st.error(escape_markdown(str(exc)))
        st.stop()
        raise  # unreachable: st.stop() raises


@st.cache_resource(show_spinner="Opening the store…")
def get_engine(url: str, retention_days: int = 30) -> Engine:
    """One engine per database URL for the server's lifetime; the schema is upgraded once."""
    return migrate.prepare(url, retention_days)


def engine(url: str) -> Engine:
    return get_engine(url)


def clear_caches() -> None:
    """Forget every cached query result (the Refresh button); the engine stays."""
    st.cache_data.clear()


# Cached reads (one per view; hashable arguments only) -----------------------------------------
_TTL = 60
Ids = tuple[int, ...] | None


def _ids(ids: Ids) -> list[int] | None:
    return None if ids is None else list(ids)


@st.cache_data(ttl=_TTL, show_spinner="Reading the inventory…")
def load_inventory(url: str) -> list[queries.DeploymentInfo]:
    return queries.deployments(engine(url), include_removed=True)


@st.cache_data(ttl=_TTL, show_spinner="Checking the collector…")
def load_health(url: str) -> list[queries.CollectorRun]:
    return queries.collector_health(engine(url))


@st.cache_data(ttl=_TTL, show_spinner="Checking freshness…")
def load_freshness(url: str, now: datetime) -> list[queries.SourceFreshness]:
    return queries.freshness(engine(url), now)


@st.cache_data(ttl=_TTL, show_spinner="Comparing request logs with metrics…")
def load_unlogged(
    url: str, since: datetime, until: datetime, ids: Ids
) -> list[queries.UnloggedDeployment]:
    return queries.deployments_without_logs(engine(url), since, until, deployment_ids=_ids(ids))


@st.cache_data(ttl=_TTL, show_spinner="Measuring the log lag…")
def load_log_lag(url: str, now: datetime) -> list[queries.LogLag]:
    return queries.log_lag(engine(url), now)


@st.cache_data(ttl=_TTL, show_spinner="Reading alert states…")
def load_alert_states(url: str) -> list[StoredState]:
    return queries.alert_states(engine(url))


@st.cache_data(ttl=_TTL, show_spinner="Reading alert episodes…")
def load_alert_episodes(url: str, since: datetime, until: datetime) -> list[StoredEpisode]:
    return queries.alert_episodes(engine(url), since, until)


@st.cache_data(ttl=_TTL, show_spinner="Reading silences…")
def load_alert_silences(url: str, now: datetime) -> list[Silence]:
    return queries.alert_silences(engine(url), active_at=now)


@st.cache_data(ttl=_TTL, show_spinner="Summarising deployments…")
def load_summary(url: str, since: datetime, until: datetime) -> list[queries.DeploymentSummary]:
    return queries.summary(engine(url), since, until)


@st.cache_data(ttl=_TTL, show_spinner="Reading metrics…")
def load_timeseries(
    url: str,
    since: datetime,
    until: datetime,
    step: str,
    ids: Ids,
    metrics: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Series read and cached as columns: thousands of points with no object per point.
    ``metrics``: only these Azure metrics' columns (None: all), the rows a page's charts need."""
    return columns_frame(
        queries.timeseries_columns(
            engine(url), since, until, step=step, metrics=metrics, deployment_ids=_ids(ids)
        )
    )


@st.cache_data(ttl=_TTL, show_spinner="Merging latency histograms…")
def load_latency(url: str, since: datetime, until: datetime, step: str, ids: Ids) -> pd.DataFrame:
    return columns_frame(
        queries.latency_columns(engine(url), since, until, step=step, deployment_ids=_ids(ids))
    )


@st.cache_data(ttl=_TTL, show_spinner="Looking the request up…")
def load_lookup(url: str, raw_id: str) -> queries.LookupResult:
    """Raises InvalidRequestId / RequestNotFound (exceptions are not cached)."""
    return queries.lookup(engine(url), raw_id)


@st.cache_data(ttl=_TTL, show_spinner="Reading deployment changes…")
def load_changes(
    url: str, since: datetime, until: datetime, ids: Ids
) -> list[queries.DeploymentChangeEvent]:
    return queries.deployment_changes(engine(url), since, until, deployment_ids=_ids(ids))


@st.cache_data(ttl=_TTL, show_spinner="Reading status codes…")
def load_status_codes(
    url: str, since: datetime, until: datetime, step: str, ids: Ids
) -> pd.DataFrame:
    return frame(
        queries.status_codes_over_time(
            engine(url), since, until, step=step, deployment_ids=_ids(ids)
        )
    )


@st.cache_data(ttl=_TTL, show_spinner="Reading status codes…")
def load_status_totals(
    url: str, since: datetime, until: datetime, ids: Ids
) -> list[queries.StatusCodeTotal]:
    return queries.status_code_totals(engine(url), since, until, deployment_ids=_ids(ids))


@st.cache_data(ttl=_TTL, show_spinner="Reading quota pools…")
def load_pools(url: str, since: datetime, until: datetime, step: str, ids: Ids) -> pd.DataFrame:
    return frame(
        queries.pool_throttling(engine(url), since, until, step=step, deployment_ids=_ids(ids))
    )


@st.cache_data(ttl=_TTL, show_spinner="Reading the quota pools' headroom…")
def load_headroom(
    url: str, since: datetime, until: datetime, deployments: bool = False
) -> list[PoolHeadroom]:
    """Headroom per quota pool, with the limits of the settings (else the shipped defaults);
    ``deployments`` adds each deployment's peaks and the level of each 429 minute (from the
    ``deployment_hour`` and ``deployment_throttle`` rollups; a busy month of 429s still costs
    seconds, so the Capacity page asks for it up to a week)."""
    return pool_headroom(engine(url), since, until, settings().quota, deployments=deployments)


@st.cache_data(ttl=_TTL, show_spinner="Reading the quota pools' utilization…")
def load_utilization(url: str, since: datetime, until: datetime, step: str) -> pd.DataFrame:
    return frame(pool_utilization_series(engine(url), since, until, step, settings().quota))


@st.cache_data(ttl=_TTL, show_spinner="Comparing throttled minutes…")
def load_throttle_causes(
    url: str, since: datetime, until: datetime, ids: Ids
) -> list[queries.ThrottleCause]:
    return queries.throttle_causes(engine(url), since, until, deployment_ids=_ids(ids))


@st.cache_data(ttl=_TTL, show_spinner="Reading spend…")
def load_spend(url: str, since: datetime, until: datetime, ids: Ids) -> list[queries.SpendDay]:
    return queries.spend_days(engine(url), since, until, deployment_ids=_ids(ids))


@st.cache_data(ttl=_TTL, show_spinner="Pricing the hours…")
def load_spend_hours(
    url: str, since: datetime, until: datetime, ids: Ids, price_file: str | None
) -> pd.DataFrame:
    """Estimated spend, cache tokens and cache savings per hour and deployment, priced with the
    same sheet (discounts and ``ContextLength`` tiers) as the daily figures."""
    return frame(
        hourly.spend_by_hour(
            engine(url), since, until, deployment_ids=_ids(ids), sheet=load_sheet(price_file)
        )
    )


@st.cache_data(ttl=_TTL, show_spinner="Checking the price tiers…")
def load_unmapped_labels(url: str, price_file: str | None) -> list[str]:
    """The ``ContextLength`` labels in the store that the price sheet does not map to a tier
    (their cache tokens are priced at the base tier)."""
    return load_sheet(price_file).unmapped(queries.context_label_values(engine(url)))


def price_file() -> str | None:
    """The price file of the settings (None: the shipped sheet), as a cache key."""
    path = settings().price_file
    return str(path) if path else None


@st.cache_data(ttl=_TTL, show_spinner="Reading the reconciliation…")
def load_spend_resources(
    url: str, since: datetime, until: datetime
) -> list[queries.ResourceSpendDay]:
    return queries.spend_resource_days(engine(url), since, until)


@dataclass(frozen=True)
class SpendOptions:
    """The spend settings the month's figures depend on (hashable: part of the cache keys)."""

    forecast_days: int
    forecast_trend: bool
    credits_warning: bool
    budgets: tuple[Budget, ...]


def spend_options() -> SpendOptions:
    spend = settings().spend
    return SpendOptions(
        forecast_days=spend.forecast_days,
        forecast_trend=spend.forecast_trend,
        credits_warning=spend.credits_warning,
        budgets=spend.budgets,
    )


@st.cache_data(ttl=_TTL, show_spinner="Forecasting the month…")
def load_spend_month(url: str, now: datetime, options: SpendOptions) -> months.MonthSpend:
    return months.spend_month(
        engine(url),
        now,
        window_days=options.forecast_days,
        trend=options.forecast_trend,
        credits_warning=options.credits_warning,
    )


@st.cache_data(ttl=_TTL, show_spinner="Checking budgets…")
def load_budgets(url: str, now: datetime, options: SpendOptions) -> list[months.BudgetStatus]:
    if not options.budgets:
        return []
    return months.budgets(
        engine(url),
        now,
        list(options.budgets),
        window_days=options.forecast_days,
        trend=options.forecast_trend,
    )


# Frames and formatting ------------------------------------------------------------------------
def frame(items: Sequence[Any], columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A DataFrame of frozen dataclasses (Decimals become floats, for charts and tables).

    Built column by column with a shallow read of the fields: ``dataclasses.asdict`` deep-copies
    every value, which costs more than the query for a few thousand points.
    """
    if not items:
        return pd.DataFrame(columns=list(columns) if columns is not None else None)
    data: dict[str, list[Any]] = {}
    kind: type = type(items[0])
    for name in _field_names(kind):
        values = [getattr(x, name) for x in items]
        sample = next((v for v in values if v is not None), None)  # one type per field
        if isinstance(sample, Decimal):
            values = [float(v) if isinstance(v, Decimal) else v for v in values]
        data[name] = values
    return pd.DataFrame(data)


def columns_frame(columns: queries.Columns) -> pd.DataFrame:
    """A DataFrame of a columnar read (None in a figure's column becomes NaN, as in
    :func:`frame`)."""
    return pd.DataFrame(columns.as_dict(), columns=list(columns.names))


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def publisher(claude: bool) -> str:
    return CLAUDE if claude else NOT_CLAUDE


_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:&")


def escape_markdown(text: str) -> str:
    """``text`` shown as itself in ``st.markdown``, captions, alerts and subheaders: every
    character Markdown (or Streamlit's ``:color[...]``, emoji and ``$`` math extensions) would
    interpret is backslash-escaped, and line breaks become spaces. For user-controlled names
    (deployments, resources, labels). Control characters and bidi overrides (which would reorder
    the line a name is shown in) are shown as escapes (:func:`collector.text.visible`)."""
    flat = visible(" ".join(text.splitlines()))
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in flat)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A frame as CSV for a download button, every text cell made inert for spreadsheets
    (:func:`collector.text.csv_cell`: names starting with = + - @ are not formulas)."""
    return df.map(csv_cell).to_csv(index=False).encode()


def fmt_usd(value: Decimal | float | None) -> str:
    """``$1,234.56``; ``—`` when unknown (never $0 for unknown)."""
    return DASH if value is None else f"${value:,.2f}"


def fmt_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def fmt_age(age: timedelta | None) -> str:
    """``2 min``, ``19 h``, ``3 d``; ``—`` when unknown."""
    if age is None:
        return DASH
    seconds = max(0, int(age.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


_SOURCE_LABELS = {"costs": "cost", "metrics": "metrics", "logs": "logs", "inventory": "inventory"}


def freshness_line(items: Sequence[queries.SourceFreshness]) -> str:
    """``metrics 2 min old, logs 6 min, cost 19 h`` (age of each source's stalest watermark,
    or of its last successful run when it keeps no watermark)."""
    if not items:
        return "Freshness: no collection has run yet."
    parts = []
    for i, item in enumerate(items):
        age = item.data_age if item.data_age is not None else item.last_success_age
        label = _SOURCE_LABELS.get(item.source, item.source)
        text = f"{label} {fmt_age(age)}" + (" old" if i == 0 else "")
        if item.last_run_status and item.last_run_status != queries.RUN_SUCCEEDED:
            text += f" (last run {item.last_run_status})"
        parts.append(text)
    return "Freshness: " + ", ".join(parts)


def show_freshness(view: View) -> None:
    st.caption(freshness_line(load_freshness(view.url, view.now)))


def show_unlogged(view: View, *, as_info: bool = False) -> list[queries.UnloggedDeployment]:
    """A notice per deployment of the view with requests in Azure Monitor but no request-log
    rows over the window: its latency and failed requests cannot be shown, and that is not
    "nothing failed"."""
    items = load_unlogged(view.url, view.since, view.until, view.deployment_ids)
    for item in items:
        (st.info if as_info else st.warning)(escape_markdown(item.notice), icon="⚠️")
    return items


def live_lookup_command(apim_request_id: str) -> str:
    """The CLI's live look-up of a request the store lacks: the dashboard only reads the store,
    it never calls Azure."""
    return f"foundry-monitor lookup {apim_request_id} --live"


def subscription_of(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""
