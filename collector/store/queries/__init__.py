"""The one read API of the store: the dashboard, ``summary``, ``lookup`` and reports all use it.

Every function takes an engine and returns frozen dataclasses (never cursors or dicts). Windows are
half-open ``[since, until)`` in UTC (naive datetimes are taken as UTC). Aggregation happens in SQL;
Python only turns a few grouped rows into objects.

SQLite and Postgres run the same SQLAlchemy Core statements. Their differences live in two tiny
helpers, each tested on both databases:

- :func:`time_bucket`: the start of the step a timestamp falls in (epoch arithmetic, so that
  5-minute steps work too and the session time zone of Postgres never matters);
- :func:`_reading`: a time limit on every read (``statement_timeout`` on Postgres, a progress
  handler on SQLite) that turns a runaway query into a :class:`StoreError` instead of a hang.

Latency percentiles are nearest-rank over the merged log-spaced histogram (see
:mod:`collector.histogram`), computed in SQL by ``rollup.percentile_buckets`` with window
functions and exact integer arithmetic, and reported as the upper bound of the bucket holding the
rank; per deployment and whole chart step they are read precomputed from the ``latency_pct_*``
rollups.

Modules by job (this package re-exports all of them, so callers import from
``collector.store.queries``): :mod:`._sql` (shared SQL helpers: time buckets, rollup segments, the
read time limit, filters, money), :mod:`.inventory` (deployments and their changes), :mod:`.traffic`
(summary, time series, status codes), :mod:`.latency` (percentiles over time), :mod:`.columns`
(series as columns, for charts), :mod:`.lookup` (one request and its minute), :mod:`.billing`
(accounts and cost rows for the exports), :mod:`.runs` (last successes, for /metrics),
:mod:`.health` (freshness, collector runs, request logs vs metrics), :mod:`.throttling` (quota
pools, throttle causes), :mod:`.spend` (spend reads) and :mod:`.alerts` (per-minute reads of the
alert signals). Domain text (status fixes, request ids) is in :mod:`collector.domain`.

The month so far, its forecast and the budgets (``spend_month``, ``budgets``) and the hourly
estimate (``spend_by_hour``) are computed above the store, in :mod:`collector.spend.month` and
:mod:`collector.spend.hourly`, from the reads here: the store never imports ``collector.spend``
(an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from collector.domain import (
    MAX_ID_LENGTH as MAX_ID_LENGTH,
)
from collector.domain import (
    RequestId,
    not_found_message,
    parse_request_id,
    status_fix,
)
from collector.store.queries._sql import (
    _DEPLOYMENT as _DEPLOYMENT,
)
from collector.store.queries._sql import (
    AVAILABILITY as AVAILABILITY,
)
from collector.store.queries._sql import (
    INPUT_TOKENS as INPUT_TOKENS,
)
from collector.store.queries._sql import (
    OUTPUT_TOKENS as OUTPUT_TOKENS,
)
from collector.store.queries._sql import (
    REQUESTS as REQUESTS,
)
from collector.store.queries._sql import (
    RUN_SUCCEEDED,
    STEPS,
    Filters,
    NameFilters,
    cache_hit_rate,
    context_label_values,
    context_labels,
    parse_step,
    time_bucket,
    window_days,
)
from collector.store.queries._sql import (
    TIME_LIMIT_S as TIME_LIMIT_S,
)
from collector.store.queries._sql import (
    TOKEN_METRICS as TOKEN_METRICS,
)
from collector.store.queries._sql import (
    TTFT as TTFT,
)
from collector.store.queries._sql import (
    TTLB as TTLB,
)
from collector.store.queries._sql import (
    _reading as _reading,
)
from collector.store.queries._sql import (
    _segments as _segments,
)
from collector.store.queries.alerts import (
    HistMinute,
    RunEvent,
    alert_episodes,
    alert_silences,
    alert_states,
    latency_minutes,
    newest_minutes,
    run_events,
)
from collector.store.queries.billing import (
    Account,
    CostRow,
    accounts,
    cost_rows,
)
from collector.store.queries.columns import Columns
from collector.store.queries.health import (
    CollectorRun,
    LogLag,
    SourceFreshness,
    UnloggedDeployment,
    collector_health,
    deployments_without_logs,
    freshness,
    log_lag,
)
from collector.store.queries.inventory import (
    DeploymentChangeEvent,
    DeploymentInfo,
    deployment_changes,
    deployments,
)
from collector.store.queries.latency import (
    LatencyPoint,
    latency_columns,
    latency_percentiles_over_time,
)
from collector.store.queries.lookup import (
    LookupResult,
    MinuteContext,
    RequestRecord,
    lookup,
)
from collector.store.queries.runs import last_successes
from collector.store.queries.spend import (
    ResourceSpendDay,
    SpendDay,
    TokenHours,
    spend_days,
    spend_resource_days,
    spend_series,
    token_hours,
)
from collector.store.queries.throttling import (
    CAUSE_OWN,
    CAUSE_POOL,
    PoolPoint,
    ThrottleCause,
    pool_throttling,
    throttle_causes,
)
from collector.store.queries.traffic import (
    SERIES_METRICS,
    DeploymentSummary,
    StatusCodePoint,
    StatusCodeTotal,
    TimeseriesPoint,
    status_code_totals,
    status_codes_over_time,
    summary,
    timeseries,
    timeseries_columns,
)
from collector.store.rollup import (
    DEFAULT_QUANTILES,
)

__all__ = [
    "CAUSE_OWN",
    "CAUSE_POOL",
    "DEFAULT_QUANTILES",
    "RUN_SUCCEEDED",
    "SERIES_METRICS",
    "STEPS",
    "Account",
    "CollectorRun",
    "Columns",
    "CostRow",
    "DeploymentChangeEvent",
    "DeploymentInfo",
    "DeploymentSummary",
    "Filters",
    "HistMinute",
    "LatencyPoint",
    "LogLag",
    "LookupResult",
    "MinuteContext",
    "NameFilters",
    "PoolPoint",
    "RequestId",
    "RequestRecord",
    "ResourceSpendDay",
    "RunEvent",
    "SourceFreshness",
    "SpendDay",
    "StatusCodePoint",
    "StatusCodeTotal",
    "ThrottleCause",
    "TimeseriesPoint",
    "TokenHours",
    "UnloggedDeployment",
    "accounts",
    "alert_episodes",
    "alert_silences",
    "alert_states",
    "cache_hit_rate",
    "collector_health",
    "context_label_values",
    "context_labels",
    "cost_rows",
    "deployment_changes",
    "deployments",
    "deployments_without_logs",
    "freshness",
    "last_successes",
    "latency_columns",
    "latency_minutes",
    "latency_percentiles_over_time",
    "log_lag",
    "lookup",
    "newest_minutes",
    "not_found_message",
    "parse_request_id",
    "parse_step",
    "pool_throttling",
    "run_events",
    "spend_days",
    "spend_resource_days",
    "spend_series",
    "status_code_totals",
    "status_codes_over_time",
    "status_fix",
    "summary",
    "throttle_causes",
    "time_bucket",
    "timeseries",
    "timeseries_columns",
    "token_hours",
    "window_days",
]
