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
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement

from collector import metric_names as names
from collector.errors import InvalidRequestId, RequestNotFound, StoreError
from collector.histogram import bucket_bounds
from collector.spend.budgets import Budget, budget_state  # spend reads (issue #5), at the end
from collector.spend.credits import credits_warning as marketplace_credits_warning
from collector.spend.daily import is_claude_deployment
from collector.spend.estimate import (
    Tokens,
    cache_part,
    cache_savings,
    estimate_tokens,
    merge_cache,
)
from collector.spend.forecast import DEFAULT_WINDOW_DAYS, forecast_month_end
from collector.spend.prices import PriceSheet, default_sheet, sheet_from_rows
from collector.store.rollup import (
    DEFAULT_QUANTILES,
    PERCENTILE_TABLES,
    PRUNED,
    ceil_time,
    floor_time,
    percentile_buckets,
    throttled_minutes,
)
from collector.store.schema import TABLES
from collector.store.types import UTCDateTime, to_utc
from collector.versions import hosting_of, model_label, multi_version_models

# Tables (Core) --------------------------------------------------------------------------------
_RESOURCE = TABLES["resource"]
_DEPLOYMENT = TABLES["deployment"]
_METRIC = TABLES["metric_minute"]
_HIST = TABLES["latency_hist"]
_METRIC_HOUR = TABLES["metric_hour"]
_HIST_HOUR = TABLES["latency_hist_hour"]
_METRIC_DAY = TABLES["metric_day"]
_METRIC_15M = TABLES["metric_15m"]
_HIST_15M = TABLES["latency_hist_15m"]
_HIST_DAY = TABLES["latency_hist_day"]
_LOG = TABLES["request_log"]
_SPEND = TABLES["spend_daily"]
_RUN = TABLES["collection_run"]
_WATERMARK = TABLES["watermark"]

# Metric names written by the collector.
REQUESTS = names.REQUESTS
INPUT_TOKENS = names.INPUT_TOKENS
OUTPUT_TOKENS = names.OUTPUT_TOKENS
TTLB = names.TTLB
TTFT = names.TTFT
AVAILABILITY = names.AVAILABILITY
TOKEN_METRICS: tuple[str, ...] = (INPUT_TOKENS, OUTPUT_TOKENS, *names.CACHE_METRICS)

#: ``collection_run.status`` of a run that committed its rows (the runner writes "ok" or "error").
RUN_SUCCEEDED = "ok"

#: Every read stops after this many seconds (override per call where offered).
TIME_LIMIT_S = 30.0

#: Steps of :func:`timeseries` and :func:`latency_percentiles_over_time`, in seconds.
STEPS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}


MAX_ID_LENGTH = 200
_GUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)
_REQ_RE = re.compile(r"req_[A-Za-z0-9]{1,120}", re.ASCII)
_ID_EXAMPLES = (
    "expected an apim-request-id (a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e) "
    "or an Anthropic request-id (req_ followed by letters and digits, "
    "such as req_011CSHoEeqs5C35K2UUqR7Fy)"
)


# Results --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """A deployment of the inventory with its resource."""

    deployment_id: int
    resource: str
    resource_id: str
    deployment: str
    model: str | None
    model_version: str | None
    sku: str | None
    capacity: int | None
    removed_at: datetime | None
    #: ARM's properties.model.format (``Anthropic`` for Claude)
    model_format: str | None = None
    #: "Anthropic-hosted" (Claude version 1), "Azure-hosted" (version 2), None when not known
    hosting: str | None = None
    #: the model as shown: with its version (and hosting) when the inventory holds the model in
    #: more than one version (:func:`collector.versions.model_label`)
    model_label: str | None = None


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
class LatencyPoint:
    """Latency percentiles over one step (``deployment_id`` None: all deployments merged)."""

    ts: datetime
    deployment_id: int | None
    deployment: str | None
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A stored request log row."""

    time: datetime
    apim_request_id: str
    request_id: str | None
    status: int
    duration_ms: int | None
    operation: str | None
    api_name: str | None
    stream_type: str | None
    request_bytes: int | None
    response_bytes: int | None
    caller_ip: str | None


@dataclass(frozen=True, slots=True)
class MinuteContext:
    """The deployment's state in the minute of a request (None: no metric for that minute)."""

    minute: datetime
    requests: int | None
    status_429: int | None
    ttlb_avg_ms: float | None
    other_failures: tuple[RequestRecord, ...]


@dataclass(frozen=True, slots=True)
class LookupResult:
    """A request found by :func:`lookup`, its deployment, that minute's context and the fix."""

    request: RequestRecord
    matched_by: str  # "apim-request-id" or "request-id"
    resource: str
    resource_id: str
    deployment_id: int
    deployment: str | None
    model: str | None
    model_version: str | None
    context: MinuteContext
    fix: str
    #: "Anthropic-hosted" (Claude version 1), "Azure-hosted" (version 2), None when not known
    hosting: str | None = None


@dataclass(frozen=True, slots=True)
class RequestId:
    """A validated look-up id: ``kind`` is "apim-request-id" (value lower-cased) or "request-id"."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """How current one source's data is: its last successful run and its watermarks.

    ``watermark_oldest`` is the stalest scope's watermark: the source's data is complete up to it.
    """

    source: str
    last_success_at: datetime | None
    last_success_age: timedelta | None
    last_run_at: datetime | None
    last_run_status: str | None
    watermark_oldest: datetime | None
    watermark_newest: datetime | None
    data_age: timedelta | None
    scopes: int


@dataclass(frozen=True, slots=True)
class CollectorRun:
    """The latest run of one source for one scope."""

    source: str
    scope: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    azure_calls: int
    throttled_calls: int
    duration_s: float | None
    error: str | None


# Pure helpers ---------------------------------------------------------------------------------
_FIXES: dict[int, str] = {
    400: "invalid request body: check the JSON against the Messages API (model, max_tokens, "
    "messages); the response body names the field",
    401: "authentication failed: wrong API key, or an expired Entra ID token (they last about an "
    "hour; fetch a new one)",
    403: "permission denied: the caller's identity lacks an RBAC role on the resource, e.g. "
    '"Cognitive Services User"',
    404: "not found: wrong deployment name (callers pass the deployment name as model) or wrong "
    "resource/region in the endpoint, or the model is not available there",
    408: "request timeout: retry the request; for long generations use streaming",
    413: "request too large: shorten the prompt or the attachments",
    429: "rate limited: back off exponentially and retry; quota is pooled per subscription and "
    "model (traffic elsewhere counts), so ask for more quota if 429s persist",
    500: "internal server error on the service side: retry with back-off",
    502: "bad gateway on the service side: retry with back-off",
    503: "service unavailable on the service side: retry with back-off",
    504: "gateway timeout on the service side: retry, and stream long generations",
    529: "the service is overloaded: retry with exponential back-off",
}


def status_fix(status: int) -> str:
    """What to do about a response status (one line)."""
    if status in _FIXES:
        return _FIXES[status]
    if 200 <= status < 300:
        return "succeeded: nothing to fix"
    if 400 <= status < 500:
        return "client error: check the request against the response body's message"
    if 500 <= status < 600:
        return "server error on the service side: retry with back-off"
    return "unexpected status: check the response body"


def parse_request_id(raw: str) -> RequestId:
    """Validate a look-up id; surrounding whitespace and quotes are trimmed, GUIDs lower-cased.

    Anything else (SQL, KQL, control characters, over-long input) raises
    :class:`InvalidRequestId`, whose message shows at most 40 characters of it, escaped.
    """
    shown = repr(raw[:40]) + ("..." if len(raw) > 40 else "")
    if len(raw) > MAX_ID_LENGTH:
        raise InvalidRequestId(f"{shown} is not a request id (too long): {_ID_EXAMPLES}")
    text_ = raw.strip().strip("'\"").strip()
    if _GUID_RE.fullmatch(text_):
        return RequestId("apim-request-id", text_.lower())
    if _REQ_RE.fullmatch(text_):
        return RequestId("request-id", text_)
    raise InvalidRequestId(f"{shown} is not a request id: {_ID_EXAMPLES}")


def parse_step(step: str | timedelta) -> int:
    """Seconds of a step: "1m", "5m", "15m", "1h", "1d" or the equal timedelta."""
    seconds = int(step.total_seconds()) if isinstance(step, timedelta) else STEPS.get(step, 0)
    if seconds not in STEPS.values():
        raise ValueError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    return seconds


def window_days(since: datetime, until: datetime) -> tuple[date, date]:
    """First and last UTC day that the window ``[since, until)`` touches."""
    since, until = to_utc(since), to_utc(until)
    return since.date(), (until - timedelta(microseconds=1)).date()


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _int(value: Any) -> int:
    return round(float(value)) if value is not None else 0


def _resource_name(name: str | None, resource_id: str) -> str:
    """The resource's name; a Claude charge matching no Foundry account (a SaaS resource the
    spend step could not attribute) is labelled so."""
    short = resource_id.rstrip("/").rsplit("/", 1)[-1]
    if not name and "/providers/microsoft.saas/resources/" in resource_id.lower():
        group = resource_id.lower().split("/resourcegroups/", 1)[-1].split("/", 1)[0]
        return f"unattributed: {short} ({group})"
    return name or short


def _check_window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    since, until = to_utc(since), to_utc(until)
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    return since, until


# Database helpers (the only places SQLite and Postgres differ) --------------------------------
_ONE: ColumnElement[Any] = literal_column("1")
#: SQLite steps whose start is a prefix of the stored text: seconds -> (prefix length, the rest).
_SQLITE_TRUNCATE = {
    60: (16, ":00.000000"),
    3600: (13, ":00:00.000000"),
    86400: (10, " 00:00:00.000000"),
}


def time_bucket(column: ColumnElement[Any], seconds: int, dialect: str) -> ColumnElement[datetime]:
    """Start (UTC) of the ``seconds``-long step holding ``column``, steps aligned on the epoch.

    No bound parameters inside, so the same expression can be selected and grouped by.
    """
    n: ColumnElement[Any] = literal_column(str(int(seconds)))
    if dialect == "sqlite" and seconds in _SQLITE_TRUNCATE:
        # A minute, hour or day: cut the stored text ('YYYY-MM-DD HH:MM:SS.ffffff'), several
        # times cheaper than converting every row to epoch seconds and back.
        length, rest = _SQLITE_TRUNCATE[seconds]
        return type_coerce(
            func.substr(column, _ONE, literal_column(str(length))).op("||")(
                literal_column(f"'{rest}'")
            ),
            UTCDateTime(),
        )
    if dialect == "sqlite" and seconds < 3600 and seconds % 60 == 0 and 3600 % seconds == 0:
        # 5, 10, 15, 30 minutes: the hour's text and the minute rounded down
        k: ColumnElement[Any] = literal_column(str(seconds // 60))
        minute = cast(func.substr(column, literal_column("15"), literal_column("2")), Integer)
        return type_coerce(
            func.substr(column, _ONE, literal_column("14"))
            .op("||")(func.printf(literal_column("'%02d'"), minute.op("/")(k).op("*")(k)))
            .op("||")(literal_column("':00.000000'")),
            UTCDateTime(),
        )
    if dialect == "postgresql":
        expr: ColumnElement[Any] = func.to_timestamp(
            func.floor(func.extract("epoch", column) / n) * n
        )
    else:
        epoch = cast(func.strftime(literal_column("'%s'"), column), Integer)
        expr = func.datetime(epoch - epoch % n, literal_column("'unixepoch'"))
    return type_coerce(expr, UTCDateTime())


@contextmanager
def _reading(engine: Engine, limit_s: float = TIME_LIMIT_S) -> Iterator[Connection]:
    """A connection whose statements stop after ``limit_s`` seconds with a :class:`StoreError`."""
    with engine.connect() as conn:
        sqlite_conn: sqlite3.Connection | None = None
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(max(1, int(limit_s * 1000)))},
            )
        elif conn.dialect.name == "sqlite":
            raw = conn.connection.driver_connection
            if isinstance(raw, sqlite3.Connection):
                sqlite_conn = raw
                deadline = time.monotonic() + limit_s
                sqlite_conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield conn
        except OperationalError as exc:
            message = str(exc.orig)
            if "interrupted" in message or "statement timeout" in message:
                raise StoreError(
                    f"the query took longer than {limit_s:g} s and was stopped: "
                    "narrow the time window or the filters"
                ) from None
            raise
        finally:
            if sqlite_conn is not None:
                sqlite_conn.set_progress_handler(None, 0)
            conn.rollback()


def _upper_ms(bucket: Any) -> float | None:
    return bucket_bounds(int(bucket))[1] if bucket is not None else None


def _deployment_filters(
    resource: str | None,
    deployment: str | None,
    model: str | None,
    deployment_ids: Sequence[int] | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions on deployment (and its outer-joined resource) for the common filters.

    ``resource`` matches a resource's name or its ARM id; names and models ignore letter case.
    """
    where: list[ColumnElement[bool]] = []
    if resource:
        where.append(
            or_(
                func.lower(_RESOURCE.c.name) == resource.strip().lower(),
                _DEPLOYMENT.c.resource_id == resource.strip().lower(),
            )
        )
    if deployment:
        where.append(func.lower(_DEPLOYMENT.c.name) == deployment.strip().lower())
    if model:
        where.append(func.lower(_DEPLOYMENT.c.model) == model.strip().lower())
    if deployment_ids is not None:
        where.append(_DEPLOYMENT.c.id.in_(list(deployment_ids)))
    return where


def _inventory_join() -> Any:
    return _DEPLOYMENT.outerjoin(_RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id)


def _multi_version(conn: Connection) -> set[str]:
    """Models (lower-cased) the inventory holds in more than one version, removed deployments
    included: their deployments are labelled with their version."""
    rows = conn.execute(select(_DEPLOYMENT.c.model, _DEPLOYMENT.c.model_version)).all()
    return multi_version_models((r.model, r.model_version) for r in rows)


def _label(
    multi: set[str], model: str | None, version: str | None, model_format: str | None
) -> str | None:
    """The model as shown: with version and hosting when the model has several versions."""
    shown = bool(model) and (model or "").strip().lower() in multi
    return model_label(model, version, model_format, show_version=shown)


def _ids_matching(where: list[ColumnElement[bool]]) -> Select[Any]:
    return select(_DEPLOYMENT.c.id).select_from(_inventory_join()).where(*where)


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(case((condition, value), else_=0))


#: The levels a window is read from, finest last: whole days, hours, quarter hours, minutes.
_LEVELS = ((86400, "day"), (3600, "hour"), (900, "quarter"), (60, "minute"))


def _segments(
    since: datetime, until: datetime, step_s: int | None
) -> list[tuple[str, datetime, datetime]]:
    """``[since, until)`` cut into the coarsest rollup each part can be read from: whole UTC days
    from the daily tables, whole hours left at the edges from the hourly ones, then quarter
    hours, and the ragged minutes at both ends from the minute tables. A level is used only when
    it cannot straddle a chart step (``step_s`` a multiple of its length; None: no steps, every
    level)."""
    out: list[tuple[str, datetime, datetime]] = []

    def cut(lo: datetime, hi: datetime, levels: Sequence[tuple[int, str]]) -> None:
        if lo >= hi:
            return
        seconds, name = levels[0]
        if seconds == 60:
            out.append((name, lo, hi))
            return
        if step_s is not None and step_s % seconds:
            cut(lo, hi, levels[1:])
            return
        length = timedelta(seconds=seconds)
        inner_lo, inner_hi = ceil_time(lo, length), floor_time(hi, length)
        if inner_lo >= inner_hi:
            cut(lo, hi, levels[1:])
            return
        cut(lo, inner_lo, levels[1:])
        out.append((name, inner_lo, inner_hi))
        cut(inner_hi, hi, levels[1:])

    cut(since, until, _LEVELS)
    return out


def _metric_rows(
    since: datetime, until: datetime, metrics: Sequence[str], *, step_s: int | None = None
) -> Any:
    """``metric_minute`` rows over ``[since, until)`` as a subquery, whole days and hours read
    from ``metric_day`` and ``metric_hour`` (see :func:`_segments`). Columns: ts, deployment_id,
    metric, status_code, total, count, maximum, avg_x_count, average_sum, average_n."""
    m = _METRIC
    parts: list[Select[Any]] = []
    for level, lo, hi in _segments(since, until, step_s):
        if level == "minute":
            parts.append(
                select(
                    m.c.ts, m.c.deployment_id, m.c.metric, m.c.status_code, m.c.total,
                    m.c["count"].label("count"), m.c.maximum,
                    (m.c.average * m.c["count"]).label("avg_x_count"),
                    m.c.average.label("average_sum"),
                    case((m.c.average.is_(None), 0), else_=1).label("average_n"),
                ).where(m.c.ts >= lo, m.c.ts < hi, m.c.metric.in_(list(metrics)))
            )  # fmt: skip
            continue
        t = {"day": _METRIC_DAY, "hour": _METRIC_HOUR, "quarter": _METRIC_15M}[level]
        parts.append(
            select(
                t.c.ts, t.c.deployment_id, t.c.metric, t.c.status_code, t.c.total,
                t.c["count"], t.c.maximum, t.c.avg_x_count, t.c.average_sum, t.c.average_n,
            ).where(t.c.ts >= lo, t.c.ts < hi, t.c.metric.in_(list(metrics)))
        )  # fmt: skip
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("src")


def _hist_rows(
    since: datetime, until: datetime, status_class: str, *, step_s: int | None = None
) -> Any:
    """``latency_hist`` rows of one status class over ``[since, until)``, whole days and hours
    from ``latency_hist_day`` and ``latency_hist_hour``. Columns: ts, deployment_id, bucket,
    count."""
    tables = {"day": _HIST_DAY, "hour": _HIST_HOUR, "quarter": _HIST_15M, "minute": _HIST}
    parts = [
        select(t.c.ts, t.c.deployment_id, t.c.bucket, t.c["count"].label("count")).where(
            t.c.ts >= lo, t.c.ts < hi, t.c.status_class == status_class
        )
        for level, lo, hi in _segments(since, until, step_s)
        for t in (tables[level],)
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("src")


def _status_sums(table: Any) -> list[ColumnElement[Any]]:
    """Sums of ModelRequests by status class over ``metric_minute`` (or a compatible table)."""
    is_req = table.c.metric == REQUESTS
    code = table.c.status_code
    total = table.c.total
    return [
        _sum_if(is_req, total).label("requests"),
        _sum_if(and_(is_req, code >= 200, code < 300), total).label("status_2xx"),
        _sum_if(and_(is_req, code == 429), total).label("status_429"),
        _sum_if(and_(is_req, code >= 400, code < 500), total).label("status_4xx"),
        _sum_if(and_(is_req, code >= 500, code < 600), total).label("status_5xx"),
        _sum_if(table.c.metric == INPUT_TOKENS, total).label("input_tokens"),
        _sum_if(table.c.metric == OUTPUT_TOKENS, total).label("output_tokens"),
    ]


def _cache_sums(table: Any) -> list[ColumnElement[Any]]:
    """Prompt-cache token sums (every ``ContextLength`` label) and the TTFT weights."""
    is_ttft = table.c.metric == TTFT
    return [
        _sum_if(table.c.metric == names.CACHE_READ, table.c.total).label("cache_read_tokens"),
        _sum_if(table.c.metric == names.CACHE_WRITE_5M, table.c.total).label("cache_write_5m"),
        _sum_if(table.c.metric == names.CACHE_WRITE_1H, table.c.total).label("cache_write_1h"),
        _sum_if(is_ttft, table.c.avg_x_count).label("ttft_weighted"),
        _sum_if(is_ttft, table.c["count"]).label("ttft_count"),
        _sum_if(is_ttft, table.c.average_sum).label("ttft_average_sum"),
        _sum_if(is_ttft, table.c.average_n).label("ttft_average_n"),
    ]


def _mean(weighted: Any, count: Any, average_sum: Any, average_n: Any) -> float | None:
    """A mean of per-minute averages: weighted by the minutes' sample counts where Azure gave
    them, else the plain mean of the minutes' averages."""
    if count and float(count) > 0 and weighted is not None:
        return float(weighted) / float(count)
    if average_n and int(average_n) > 0 and average_sum is not None:
        return float(average_sum) / int(average_n)
    return None


def context_labels(conn: Connection) -> dict[int, str]:
    """``ContextLength`` labels by their ``metric_label`` id (the cache metrics' split code)."""
    lab = TABLES["metric_label"]
    rows = conn.execute(
        select(lab.c.id, lab.c.value).where(lab.c.dimension == names.CONTEXT_LENGTH)
    )
    return {int(ident): value for ident, value in rows}


def context_label_values(engine: Engine) -> list[str]:
    """The ``ContextLength`` labels the store has seen (sorted), to check against the price
    sheet's tiers (``PriceSheet.unmapped``)."""
    with _reading(engine) as conn:
        return sorted(set(context_labels(conn).values()))


def cache_hit_rate(inp: int, read: int, write_5m: int, write_1h: int) -> float | None:
    """Cache reads / (uncached input + cache writes + cache reads): the share of prompt tokens
    served from the cache. None when no prompt tokens were counted."""
    return _ratio(read, inp + write_5m + write_1h + read)


# Inventory ------------------------------------------------------------------------------------
def deployments(
    engine: Engine,
    *,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
    include_removed: bool = False,
) -> list[DeploymentInfo]:
    """Deployments of the inventory, by resource then name (for filters and pickers)."""
    where = _deployment_filters(resource, deployment, model)
    if not include_removed:
        where.append(_DEPLOYMENT.c.removed_at.is_(None))
    stmt = (
        select(_DEPLOYMENT, _RESOURCE.c.name.label("resource_name"))
        .select_from(_inventory_join())
        .where(*where)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        multi = _multi_version(conn)
    found = [
        DeploymentInfo(
            deployment_id=r["id"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            resource_id=r["resource_id"],
            deployment=r["name"],
            model=r["model"],
            model_version=r["model_version"],
            sku=r["sku"],
            capacity=r["capacity"],
            removed_at=r["removed_at"],
            model_format=r["model_format"],
            hosting=hosting_of(r["model_format"], r["model_version"]),
            model_label=_label(multi, r["model"], r["model_version"], r["model_format"]),
        )
        for r in rows
    ]
    return sorted(found, key=lambda d: (d.resource, d.deployment, d.deployment_id))


# Summary --------------------------------------------------------------------------------------
def _variance(estimated: Decimal | None, billed: Decimal | None) -> Decimal | None:
    return None if estimated is None or billed is None else billed - estimated


def summary(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
) -> list[DeploymentSummary]:
    """Per deployment over ``[since, until)``: requests by status, 429 and error rates, latency
    percentiles of successful requests, tokens and spend.

    Deployments of the inventory without traffic in the window are included with zeros (unless
    they were removed before it or created after it). ``error_rate`` counts every 4xx (429
    included) and 5xx. Spend sums ``spend_daily`` over the UTC days the window touches.
    """
    since, until = _check_window(since, until)
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
            *_deployment_filters(resource, deployment, model),
        )
    )
    h = _hist_rows(since, until, "2xx")
    filters = _deployment_filters(resource, deployment, model)
    hist_filter = [h.c.deployment_id.in_(_ids_matching(filters))] if filters else []
    hist = (
        select(h.c.deployment_id, h.c.bucket, func.sum(h.c["count"]).label("n"))
        .where(*hist_filter)
        .group_by(h.c.deployment_id, h.c.bucket)
        .subquery("hist")
    )
    latency_stmt = percentile_buckets(hist, ["deployment_id"], DEFAULT_QUANTILES)
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
        latency = {r.deployment_id: r for r in conn.execute(latency_stmt)}
        multi = _multi_version(conn)
    result = []
    for r in rows:
        requests = _int(r["requests"])
        s2, s429, s4, s5 = (
            _int(r[k]) for k in ("status_2xx", "status_429", "status_4xx", "status_5xx")
        )
        lat = latency.get(r["id"])
        inp = _int(r["input_tokens"])
        read, w5, w1 = (
            _int(r[k]) for k in ("cache_read_tokens", "cache_write_5m", "cache_write_1h")
        )
        claude = is_claude_deployment(r["model_format"], r["model"])
        result.append(
            DeploymentSummary(
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
                spend_variance=_variance(
                    _money(r["estimated_compared"]), _money(r["billed_compared"])
                ),
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
        )
    return sorted(result, key=lambda x: (x.resource, x.deployment, x.deployment_id))


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


# Time series ----------------------------------------------------------------------------------
def timeseries(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    deployment_ids: Sequence[int] | None = None,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
) -> list[TimeseriesPoint]:
    """Per step and deployment: requests by status class, 429s, tokens, TTLB, TTFT,
    availability.

    Only steps with data are returned (the dashboard fills gaps); ``ts`` is the step's start,
    steps aligned on the UTC epoch (days start at midnight UTC). ``ttlb_avg_ms`` and
    ``ttft_avg_ms`` are weighted by the number of requests measured each minute (the plain mean
    of the minutes' averages where Azure gave no count); ``ttft_max_ms`` is the step's largest
    per-minute maximum.
    """
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    m = _metric_rows(
        since,
        until,
        [REQUESTS, INPUT_TOKENS, OUTPUT_TOKENS, TTLB, TTFT, AVAILABILITY],
        step_s=seconds,
    )
    bucket = time_bucket(m.c.ts, seconds, engine.dialect.name)
    is_ttlb = m.c.metric == TTLB
    is_ttft = m.c.metric == TTFT
    where: list[ColumnElement[bool]] = []
    filters = _deployment_filters(resource, deployment, model, deployment_ids)
    if filters:
        where.append(m.c.deployment_id.in_(_ids_matching(filters)))
    agg = (
        select(
            bucket.label("ts"),
            m.c.deployment_id,
            *_status_sums(m),
            func.coalesce(
                func.sum(case((is_ttlb, m.c.avg_x_count)))
                / func.nullif(func.sum(case((is_ttlb, m.c["count"]))), 0),
                func.sum(case((is_ttlb, m.c.average_sum)))
                / func.nullif(func.sum(case((is_ttlb, m.c.average_n))), 0),
            ).label("ttlb_avg"),
            func.max(case((is_ttlb, m.c.maximum))).label("ttlb_max"),
            func.coalesce(
                func.sum(case((is_ttft, m.c.avg_x_count)))
                / func.nullif(func.sum(case((is_ttft, m.c["count"]))), 0),
                func.sum(case((is_ttft, m.c.average_sum)))
                / func.nullif(func.sum(case((is_ttft, m.c.average_n))), 0),
            ).label("ttft_avg"),
            func.max(case((is_ttft, m.c.maximum))).label("ttft_max"),
            (
                func.sum(case((m.c.metric == AVAILABILITY, m.c.average_sum)))
                / func.nullif(func.sum(case((m.c.metric == AVAILABILITY, m.c.average_n))), 0)
            ).label("availability"),
        )
        .where(*where)
        .group_by(bucket, m.c.deployment_id)
        .subquery("agg")
    )
    stmt = (
        select(agg, _DEPLOYMENT.c.name, _DEPLOYMENT.c.resource_id, _RESOURCE.c.name.label("rn"))
        .select_from(
            agg.join(_DEPLOYMENT, _DEPLOYMENT.c.id == agg.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id
            )
        )
        .order_by(agg.c.ts, agg.c.deployment_id)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    points = []
    for r in rows:
        requests = _int(r["requests"])
        s429 = _int(r["status_429"])
        points.append(
            TimeseriesPoint(
                ts=r["ts"],
                deployment_id=r["deployment_id"],
                resource=_resource_name(r["rn"], r["resource_id"]),
                deployment=r["name"],
                requests=requests,
                status_2xx=_int(r["status_2xx"]),
                status_4xx=_int(r["status_4xx"]),
                status_429=s429,
                status_5xx=_int(r["status_5xx"]),
                rate_429=_ratio(s429, requests),
                input_tokens=_int(r["input_tokens"]),
                output_tokens=_int(r["output_tokens"]),
                ttlb_avg_ms=_float(r["ttlb_avg"]),
                ttlb_max_ms=_float(r["ttlb_max"]),
                availability_pct=_float(r["availability"]),
                ttft_avg_ms=_float(r["ttft_avg"]),
                ttft_max_ms=_float(r["ttft_max"]),
            )
        )
    return points


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def latency_percentiles_over_time(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    deployment_ids: Sequence[int] | None = None,
    resource: str | None = None,
    deployment: str | None = None,
    model: str | None = None,
    status_class: str = "2xx",
    per_deployment: bool = True,
) -> list[LatencyPoint]:
    """p50/p95/p99 (ms, bucket upper bounds) per step from ``latency_hist``.

    With ``per_deployment=False`` the histograms of all selected deployments are merged per step
    (``deployment_id`` None). Steps without requests are left out.
    """
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    filters = _deployment_filters(resource, deployment, model, deployment_ids)
    stored = PERCENTILE_TABLES.get(seconds) if per_deployment else None
    length = timedelta(seconds=seconds)
    whole_lo, whole_hi = ceil_time(since, length), floor_time(until, length)
    if stored is None or whole_lo >= whole_hi:
        return _percentiles_from_hist(
            engine, since, until, seconds, filters, status_class, per_deployment
        )
    # whole steps per deployment: their percentiles are stored with the histogram rollup;
    # the partial steps at both ends are ranked from the histograms
    p = TABLES[stored[1]]
    where = [p.c.ts >= whole_lo, p.c.ts < whole_hi, p.c.status_class == status_class]
    if filters:
        where.append(p.c.deployment_id.in_(_ids_matching(filters)))
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
                engine, lo, hi, seconds, filters, status_class, per_deployment
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
    filters: list[ColumnElement[bool]],
    status_class: str,
    per_deployment: bool,
) -> list[LatencyPoint]:
    """Percentiles per step over ``[since, until)`` ranked from the merged histograms."""
    h = _hist_rows(since, until, status_class, step_s=seconds)
    bucket = time_bucket(h.c.ts, seconds, engine.dialect.name)
    where: list[ColumnElement[bool]] = []
    if filters:
        where.append(h.c.deployment_id.in_(_ids_matching(filters)))
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


# Look-up --------------------------------------------------------------------------------------
def _record(r: Any) -> RequestRecord:
    return RequestRecord(
        time=r["ts"],
        apim_request_id=r["correlation_id"],
        request_id=r["client_request_id"],
        status=int(r["status_code"]),
        duration_ms=r["duration_ms"],
        operation=r["operation"],
        api_name=r["api_name"],
        stream_type=r["stream_type"],
        request_bytes=r["request_bytes"],
        response_bytes=r["response_bytes"],
        caller_ip=r["caller_ip"],
    )


def not_found_message(request_id: RequestId) -> str:
    """Why a well-formed id is not in the store, and what to do (one line)."""
    if request_id.kind == "request-id":
        return (
            f"request-id {request_id.value} is not in the store: Azure's request logs index the "
            "apim-request-id (their CorrelationId), not Anthropic's request-id, so a request-id "
            "can only be found when it was recorded separately. Ask the caller for the "
            "apim-request-id response header of the same call and look that up; give the "
            "request-id to Anthropic support"
        )
    return (
        f"apim-request-id {request_id.value} is not in the store: it may be older than the "
        "retention window, the collector may not have ingested it yet (request logs usually "
        "arrive 2 to 5 minutes late, sometimes more than 10), its deployment's calls may not be "
        "logged at all, or it was a fast successful request (the store keeps full rows "
        f"only of failed and slow requests); query Log Analytics live with: "
        f"foundry-monitor lookup {request_id.value} --live"
    )


def lookup(engine: Engine, raw_id: str, *, max_other_failures: int = 50) -> LookupResult:
    """Find a request by its apim-request-id or Anthropic request-id, with its minute's context.

    Raises :class:`InvalidRequestId` for anything that is not such an id (before any query) and
    :class:`RequestNotFound` when the store does not hold it.
    """
    request_id = parse_request_id(raw_id)
    log = _LOG
    column = (
        log.c.correlation_id if request_id.kind == "apim-request-id" else log.c.client_request_id
    )
    stmt = (
        select(
            log,
            _DEPLOYMENT.c.name.label("deployment_name"),
            _DEPLOYMENT.c.model,
            _DEPLOYMENT.c.model_version,
            _DEPLOYMENT.c.model_format,
            _DEPLOYMENT.c.resource_id,
            _RESOURCE.c.name.label("resource_name"),
        )
        .select_from(
            log.outerjoin(_DEPLOYMENT, _DEPLOYMENT.c.id == log.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id
            )
        )
        .where(column == request_id.value)
        .order_by(log.c.ts.desc())
        .limit(1)
    )
    with _reading(engine) as conn:
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise RequestNotFound(not_found_message(request_id))
        request = _record(row)
        context = _minute_context(conn, request, row["deployment_id"], max_other_failures)
    resource_id = row["resource_id"] or ""
    return LookupResult(
        request=request,
        matched_by=request_id.kind,
        resource=_resource_name(row["resource_name"], resource_id) if resource_id else "",
        resource_id=resource_id,
        deployment_id=row["deployment_id"],
        deployment=row["deployment_name"],
        model=row["model"],
        model_version=row["model_version"],
        context=context,
        fix=status_fix(request.status),
        hosting=hosting_of(row["model_format"], row["model_version"]),
    )


def _minute_context(
    conn: Connection, request: RequestRecord, deployment_id: int, limit: int
) -> MinuteContext:
    minute = to_utc(request.time).replace(second=0, microsecond=0)
    end = minute + timedelta(minutes=1)
    m = _METRIC
    metrics = conn.execute(
        select(
            func.sum(case((m.c.metric == REQUESTS, m.c.total))).label("requests"),
            func.sum(case((and_(m.c.metric == REQUESTS, m.c.status_code == 429), m.c.total))).label(
                "s429"
            ),
            func.max(case((m.c.metric == REQUESTS, 1))).label("has_requests"),
            func.max(case((m.c.metric == TTLB, m.c.average))).label("ttlb"),
        ).where(
            m.c.ts >= minute,
            m.c.ts < end,
            m.c.deployment_id == deployment_id,
            m.c.metric.in_([REQUESTS, TTLB]),
        )
    ).one()
    log = _LOG
    others = conn.execute(
        select(log)
        .where(
            log.c.deployment_id == deployment_id,
            log.c.ts >= minute,
            log.c.ts < end,
            or_(log.c.status_code < 200, log.c.status_code >= 300),
            log.c.correlation_id != request.apim_request_id,
        )
        .order_by(log.c.ts, log.c.correlation_id)
        .limit(limit)
    ).mappings()
    has = metrics.has_requests is not None
    return MinuteContext(
        minute=minute,
        requests=_int(metrics.requests) if has else None,
        status_429=_int(metrics.s429) if has else None,
        ttlb_avg_ms=_float(metrics.ttlb),
        other_failures=tuple(_record(r) for r in others),
    )


# Collector state ------------------------------------------------------------------------------
def _latest_runs(conn: Connection) -> list[Any]:
    """The latest ``collection_run`` row of every (source, scope), by source then scope.

    The table keeps a row per run (thousands a day), so this never reads it whole: it walks
    ``ix_collection_run_source_started`` from one (source, scope) to the next, one index probe
    each, and takes each pair's newest row with one more probe.
    """
    r = _RUN
    rows: list[Any] = []
    after: tuple[str, str] | None = None
    first = select(r.c.source, r.c.scope).order_by(r.c.source, r.c.scope).limit(1)
    while True:
        if after is None:
            pair = conn.execute(first).first()
        else:  # the next scope of this source, else the first of the next source
            pair = (
                conn.execute(first.where(r.c.source == after[0], r.c.scope > after[1])).first()
                or conn.execute(first.where(r.c.source > after[0])).first()
            )
        if pair is None:
            return rows
        after = (pair.source, pair.scope)
        latest = (
            select(r)
            .where(r.c.source == pair.source, r.c.scope == pair.scope)
            .order_by(r.c.started_at.desc(), r.c.id.desc())
            .limit(1)
        )
        rows.append(conn.execute(latest).mappings().one())


def freshness(engine: Engine, now: datetime) -> list[SourceFreshness]:
    """Per source: the last successful run, the last run, and how far its watermarks reach."""
    now = to_utc(now)
    r, w = _RUN, _WATERMARK
    marks = (
        select(
            w.c.source,
            func.min(w.c.value).label("oldest"),
            func.max(w.c.value).label("newest"),
            func.count().label("scopes"),
        )
        .where(w.c.source != PRUNED[0])  # the prune's cut-off is not a source's progress
        .group_by(w.c.source)
    )
    with _reading(engine) as conn:
        last: dict[str, Any] = {}
        for x in _latest_runs(conn):
            kept = last.get(x["source"])
            if kept is None or (x["started_at"], x["id"]) > (kept["started_at"], kept["id"]):
                last[x["source"]] = x
        # one probe of ix_collection_run_source_status_finished per source
        success = {
            source: conn.execute(
                select(func.max(r.c.finished_at)).where(
                    r.c.source == source, r.c.status == RUN_SUCCEEDED
                )
            ).scalar_one()
            for source in last
        }
        wm = {x.source: x for x in conn.execute(marks)}
    result = []
    for source in sorted(set(last) | set(wm)):
        ok = success.get(source)
        run = last.get(source)
        mark = wm.get(source)
        oldest = mark.oldest if mark else None
        result.append(
            SourceFreshness(
                source=source,
                last_success_at=ok,
                last_success_age=now - ok if ok else None,
                last_run_at=run["started_at"] if run else None,
                last_run_status=run["status"] if run else None,
                watermark_oldest=oldest,
                watermark_newest=mark.newest if mark else None,
                data_age=now - oldest if oldest else None,
                scopes=int(mark.scopes) if mark else 0,
            )
        )
    return result


def collector_health(engine: Engine) -> list[CollectorRun]:
    """The latest run of every source and scope, by source then scope."""
    with _reading(engine) as conn:
        rows = _latest_runs(conn)
    return [
        CollectorRun(
            source=x["source"],
            scope=x["scope"],
            status=x["status"],
            started_at=to_utc(x["started_at"]),
            finished_at=_aware(x["finished_at"]),
            window_start=_aware(x["window_start"]),
            window_end=_aware(x["window_end"]),
            rows=int(x["rows"] or 0),
            azure_calls=int(x["azure_calls"] or 0),
            throttled_calls=int(x["throttled_calls"] or 0),
            duration_s=x["duration_s"],
            error=x["error"],
        )
        for x in rows
    ]


def _aware(value: datetime | None) -> datetime | None:
    return to_utc(value) if value is not None else None


# Request logs vs metrics ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UnloggedDeployment:
    """A deployment with requests in Azure Monitor but no request-log rows over a window."""

    resource: str
    resource_id: str
    deployment: str
    deployment_id: int
    #: ModelRequests (Azure Monitor) over ``[since, until)``
    requests: int
    since: datetime
    until: datetime
    #: False when the collector has never read request logs (no workspace configured)
    logs_collected: bool = True

    @property
    def notice(self) -> str:
        """One plain sentence for the dashboard and ``doctor``."""
        head = (
            f"{self.deployment} on {self.resource} has {self.requests:,} requests in Azure "
            "Monitor but no request-log rows in Log Analytics"
        )
        cause = (
            "diagnostic settings may not send RequestResponse logs for it, or Azure does not "
            "log these calls"
            if self.logs_collected
            else "the collector reads no Log Analytics workspace (set "
            "FOUNDRY_MONITOR_WORKSPACE_ID to the workspace receiving the RequestResponse logs)"
        )
        return (
            f"{head}: {cause}; latency percentiles and failed-request look-ups are unavailable "
            "for it."
        )


def _log_counts(since: datetime, until: datetime) -> Any:
    """``latency_hist`` counts (every status class) over ``[since, until)`` per deployment, whole
    days, hours and quarters read from the rollups."""
    tables = {"day": _HIST_DAY, "hour": _HIST_HOUR, "quarter": _HIST_15M, "minute": _HIST}
    parts = [
        select(t.c.deployment_id, t.c["count"].label("count")).where(t.c.ts >= lo, t.c.ts < hi)
        for level, lo, hi in _segments(since, until, None)
        for t in (tables[level],)
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("logs")


def deployments_without_logs(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[UnloggedDeployment]:
    """Deployments with ModelRequests in Azure Monitor but zero request-log rows (requests in
    ``latency_hist``) over ``[since, until)``, most requests first.

    Request logs arrive minutes after metrics (sometimes more than ten): the comparison stops at
    the newest request-log minute the store holds, so a deployment is not flagged for requests
    whose log rows cannot have arrived yet. With no request-log row at all, the whole window
    counts (and ``logs_collected`` says whether the logs source ever ran).
    """
    since, until = _check_window(since, until)
    with _reading(engine) as conn:
        newest_log = conn.execute(select(func.max(_HIST.c.ts))).scalar_one_or_none()
        collected = (
            conn.execute(
                select(func.count()).select_from(_WATERMARK).where(_WATERMARK.c.source == "logs")
            ).scalar_one()
            > 0
        )
        stop = until
        if newest_log is not None:
            newest = to_utc(newest_log) + timedelta(minutes=1)
            if since < newest < until:
                stop = newest
        m = _metric_rows(since, stop, [REQUESTS])
        requests = {
            int(r.deployment_id): int(r.requests or 0)
            for r in conn.execute(
                select(m.c.deployment_id, func.sum(m.c.total).label("requests")).group_by(
                    m.c.deployment_id
                )
            )
        }
        h = _log_counts(since, stop)
        logged = {
            int(r.deployment_id)
            for r in conn.execute(
                select(h.c.deployment_id)
                .group_by(h.c.deployment_id)
                .having(func.sum(h.c["count"]) > 0)
            )
        }
        wanted = set(deployment_ids) if deployment_ids is not None else None
        silent = sorted(
            (i for i, n in requests.items() if n > 0 and i not in logged),
            key=lambda i: (-requests[i], i),
        )
        silent = [i for i in silent if wanted is None or i in wanted]
        if not silent:
            return []
        info = {
            r.id: r
            for r in conn.execute(
                select(
                    _DEPLOYMENT.c.id,
                    _DEPLOYMENT.c.name,
                    _DEPLOYMENT.c.resource_id,
                    _RESOURCE.c.name.label("resource_name"),
                )
                .select_from(_inventory_join())
                .where(_DEPLOYMENT.c.id.in_(silent))
            )
        }
    return [
        UnloggedDeployment(
            resource=_resource_name(info[i].resource_name, info[i].resource_id),
            resource_id=info[i].resource_id,
            deployment=info[i].name,
            deployment_id=i,
            requests=requests[i],
            since=since,
            until=stop,
            logs_collected=collected,
        )
        for i in silent
        if i in info
    ]


@dataclass(frozen=True, slots=True)
class LogLag:
    """How far the request logs trail the metrics in the store (per resource)."""

    resource: str
    resource_id: str
    #: newest minute with a request-log row (``latency_hist``), None without any
    newest_log: datetime | None
    #: newest minute with a ModelRequests point
    newest_metric: datetime | None

    @property
    def lag(self) -> timedelta | None:
        """Newest metric minute minus newest request-log minute (0 when logs are ahead)."""
        if self.newest_log is None or self.newest_metric is None:
            return None
        return max(timedelta(0), self.newest_metric - self.newest_log)


def log_lag(engine: Engine, now: datetime, lookback: timedelta = timedelta(days=2)) -> list[LogLag]:
    """Per resource with metrics in the last ``lookback``: its newest request-log minute and its
    newest metric minute (the observed log lag is their difference)."""
    since = to_utc(now) - lookback
    d = _DEPLOYMENT
    with _reading(engine) as conn:
        metric = {
            r.resource_id: to_utc(r.newest)
            for r in conn.execute(
                select(d.c.resource_id, func.max(_METRIC.c.ts).label("newest"))
                .select_from(_METRIC.join(d, d.c.id == _METRIC.c.deployment_id))
                .where(_METRIC.c.ts >= since, _METRIC.c.metric == REQUESTS)
                .group_by(d.c.resource_id)
            )
        }
        logged = {
            r.resource_id: to_utc(r.newest)
            for r in conn.execute(
                select(d.c.resource_id, func.max(_HIST.c.ts).label("newest"))
                .select_from(_HIST.join(d, d.c.id == _HIST.c.deployment_id))
                .where(_HIST.c.ts >= since)
                .group_by(d.c.resource_id)
            )
        }
        names_ = {
            r.id: r.name
            for r in conn.execute(
                select(_RESOURCE.c.id, _RESOURCE.c.name).where(
                    _RESOURCE.c.id.in_(sorted(set(metric) | set(logged)))
                )
            )
        }
    return [
        LogLag(
            resource=_resource_name(names_.get(rid), rid),
            resource_id=rid,
            newest_log=logged.get(rid),
            newest_metric=metric.get(rid),
        )
        for rid in sorted(set(metric) | set(logged))
    ]


__all__ = [
    "DEFAULT_QUANTILES",
    "RUN_SUCCEEDED",
    "STEPS",
    "CollectorRun",
    "DeploymentInfo",
    "DeploymentSummary",
    "LatencyPoint",
    "LogLag",
    "LookupResult",
    "MinuteContext",
    "RequestId",
    "RequestRecord",
    "SourceFreshness",
    "TimeseriesPoint",
    "UnloggedDeployment",
    "cache_hit_rate",
    "collector_health",
    "context_label_values",
    "context_labels",
    "deployments",
    "deployments_without_logs",
    "freshness",
    "latency_percentiles_over_time",
    "log_lag",
    "lookup",
    "not_found_message",
    "parse_request_id",
    "parse_step",
    "status_fix",
    "summary",
    "time_bucket",
    "timeseries",
    "window_days",
]


# ==============================================================================================
# Spend (issue #5): per deployment and resource, month to date, forecast, budgets.
#
# Figures come from ``spend_daily`` and ``spend_resource_daily`` (written by
# :func:`collector.spend.refresh_spend`), except :func:`spend_by_hour`, which prices
# ``metric_minute`` on the fly. The pure parts (price look-up, forecast, budget state, the
# credits warning) are in ``collector.spend``. A deployment-day's *spent* figure is its allocated
# bill when the bill is in, else its estimate (0 when unpriced and unbilled).
# ==============================================================================================
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


def _ids_in(column: Any, deployment_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    return [] if deployment_ids is None else [column.in_(list(deployment_ids))]


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


__all__ += [
    "BudgetStatus",
    "DeploymentMonthSpend",
    "MonthSpend",
    "ResourceSpendDay",
    "SpendDay",
    "SpendHour",
    "budgets",
    "spend_by_hour",
    "spend_days",
    "spend_month",
    "spend_resource_days",
]


# ==============================================================================================
# Dashboard reads (issue #6): deployment changes, exact status codes, quota pools.
#
# Moved from ``dashboard/_pending_queries.py``. Status codes come from ``metric_minute``
# (ModelRequests by exact code; :func:`timeseries` only gives classes). A quota pool is one model
# in one subscription: its deployments share the Claude quota, so a deployment can be throttled
# by traffic on another one.
# ==============================================================================================
_CHANGE = TABLES["deployment_change"]
_THROTTLE_HOUR = TABLES["throttle_hour"]

#: Causes reported by :func:`throttle_causes`.
CAUSE_POOL = "pool"  # other deployments of the pool were throttled in the same minutes
CAUSE_OWN = "own"  # only this deployment was throttled


@dataclass(frozen=True, slots=True)
class DeploymentChangeEvent:
    """One inventory change of a deployment (created, removed, version, SKU, capacity)."""

    changed_at: datetime
    deployment_id: int
    deployment: str
    resource: str
    field: str
    old_value: str | None
    new_value: str | None


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


@dataclass(frozen=True, slots=True)
class PoolPoint:
    """One quota pool (subscription x model) over one step."""

    ts: datetime
    subscription_id: str
    model: str
    requests: int
    status_429: int
    rate_429: float | None
    deployments_throttled: int


@dataclass(frozen=True, slots=True)
class ThrottleCause:
    """A throttled deployment: in how many of its throttled minutes its pool was throttled too.

    ``cause`` is :data:`CAUSE_POOL` when at least half of its throttled minutes saw 429s on
    another deployment of the same pool, else :data:`CAUSE_OWN`.
    """

    deployment_id: int
    resource: str
    deployment: str
    subscription_id: str
    model: str | None
    pool_deployments: int
    status_429: int
    throttled_minutes: int
    shared_minutes: int
    cause: str


def deployment_changes(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[DeploymentChangeEvent]:
    """Inventory changes in ``[since, until)``, oldest first (chart annotations)."""
    since, until = _check_window(since, until)
    c, d = _CHANGE, _DEPLOYMENT
    stmt = (
        select(c, d.c.name, d.c.resource_id, _RESOURCE.c.name.label("resource_name"))
        .select_from(
            c.join(d, d.c.id == c.c.deployment_id).outerjoin(
                _RESOURCE, _RESOURCE.c.id == d.c.resource_id
            )
        )
        .where(
            c.c.changed_at >= since,
            c.c.changed_at < until,
            *_ids_in(c.c.deployment_id, deployment_ids),
        )
        .order_by(c.c.changed_at, c.c.deployment_id, c.c.field)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        DeploymentChangeEvent(
            changed_at=to_utc(r["changed_at"]),
            deployment_id=r["deployment_id"],
            deployment=r["name"],
            resource=_resource_name(r["resource_name"], r["resource_id"]),
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
        )
        for r in rows
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
    ).select_from(
        agg.join(d, d.c.id == agg.c.deployment_id).outerjoin(
            _RESOURCE, _RESOURCE.c.id == d.c.resource_id
        )
    )
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


def _pool_members() -> Any:
    """Deployment id with its pool key (subscription, model) and resource name."""
    d, r = _DEPLOYMENT, _RESOURCE
    return (
        select(
            d.c.id.label("deployment_id"),
            d.c.name,
            d.c.model,
            d.c.resource_id,
            r.c.name.label("resource_name"),
            func.coalesce(r.c.subscription_id, literal_column("''")).label("subscription_id"),
        )
        .select_from(d.outerjoin(r, r.c.id == d.c.resource_id))
        .subquery("members")
    )


def pool_throttling(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    step: str | timedelta,
    deployment_ids: Sequence[int] | None = None,
) -> list[PoolPoint]:
    """Per step and quota pool (subscription x model): requests, 429s, throttled deployments.

    ``deployment_ids`` selects the pools (those of the given deployments); the figures always
    cover every deployment of a selected pool, since they share the quota.
    """
    since, until = _check_window(since, until)
    seconds = parse_step(step)
    m = _metric_rows(since, until, [REQUESTS], step_s=seconds)
    members = _pool_members()
    bucket = time_bucket(m.c.ts, seconds, engine.dialect.name)
    where: list[ColumnElement[bool]] = [members.c.model.is_not(None)]
    if deployment_ids is not None:
        chosen = (
            select(members.c.subscription_id, members.c.model)
            .where(members.c.deployment_id.in_(list(deployment_ids)))
            .subquery("chosen")
        )
        where.append(
            and_(
                members.c.subscription_id.in_(select(chosen.c.subscription_id)),
                members.c.model.in_(select(chosen.c.model)),
            )
        )
    per_dep = (
        select(
            bucket.label("ts"),
            members.c.subscription_id,
            members.c.model,
            m.c.deployment_id,
            func.sum(m.c.total).label("requests"),
            _sum_if(m.c.status_code == 429, m.c.total).label("s429"),
        )
        .select_from(m.join(members, members.c.deployment_id == m.c.deployment_id))
        .where(*where)
        .group_by(bucket, members.c.subscription_id, members.c.model, m.c.deployment_id)
        .subquery("per_dep")
    )
    stmt = (
        select(
            per_dep.c.ts,
            per_dep.c.subscription_id,
            per_dep.c.model,
            func.sum(per_dep.c.requests).label("requests"),
            func.sum(per_dep.c.s429).label("s429"),
            func.sum(case((per_dep.c.s429 > 0, 1), else_=0)).label("throttled"),
        )
        .group_by(per_dep.c.ts, per_dep.c.subscription_id, per_dep.c.model)
        .order_by(per_dep.c.ts, per_dep.c.subscription_id, per_dep.c.model)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    result = []
    for r in rows:
        requests, s429 = _int(r.requests), _int(r.s429)
        result.append(
            PoolPoint(
                ts=to_utc(r.ts),
                subscription_id=r.subscription_id,
                model=r.model,
                requests=requests,
                status_429=s429,
                rate_429=_ratio(s429, requests),
                deployments_throttled=int(r.throttled or 0),
            )
        )
    return result


def throttle_causes(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[ThrottleCause]:
    """For each selected deployment with 429s: its throttled minutes and how many of them saw
    429s on another deployment of its pool (same subscription and model), most 429s first."""
    since, until = _check_window(since, until)
    members = _pool_members()
    parts: list[Select[Any]] = []
    for level, lo, hi in _segments(since, until, 3600):
        if level == "hour":
            th = _THROTTLE_HOUR
            parts.append(
                select(
                    th.c.deployment_id,
                    th.c.status_429,
                    th.c.minutes,
                    th.c.shared_minutes.label("shared"),
                ).where(th.c.ts >= lo, th.c.ts < hi)
            )
        else:
            t = throttled_minutes(lo, hi)
            parts.append(
                select(
                    t.c.deployment_id,
                    t.c.status_429,
                    literal_column("1").label("minutes"),
                    t.c.shared,
                )
            )
    throttled = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("throttled")
    per_dep = (
        select(
            throttled.c.deployment_id,
            func.sum(throttled.c.status_429).label("s429"),
            func.sum(throttled.c.minutes).label("minutes"),
            func.sum(throttled.c.shared).label("shared"),
        )
        .where(*_ids_in(throttled.c.deployment_id, deployment_ids))
        .group_by(throttled.c.deployment_id)
        .subquery("per_dep")
    )
    pool_size = (
        select(members.c.subscription_id, members.c.model, func.count().label("size"))
        .where(_DEPLOYMENT.c.id == members.c.deployment_id, _DEPLOYMENT.c.removed_at.is_(None))
        .group_by(members.c.subscription_id, members.c.model)
        .subquery("pool_size")
    )
    stmt = (
        select(per_dep, members, pool_size.c.size)
        .select_from(
            per_dep.join(members, members.c.deployment_id == per_dep.c.deployment_id).outerjoin(
                pool_size,
                and_(
                    pool_size.c.subscription_id == members.c.subscription_id,
                    pool_size.c.model == members.c.model,
                ),
            )
        )
        .order_by(per_dep.c.s429.desc(), per_dep.c.deployment_id)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    result = []
    for r in rows:
        minutes, shared_n = int(r["minutes"]), int(r["shared"] or 0)
        result.append(
            ThrottleCause(
                deployment_id=r["deployment_id"],
                resource=_resource_name(r["resource_name"], r["resource_id"]),
                deployment=r["name"],
                subscription_id=r["subscription_id"],
                model=r["model"],
                pool_deployments=int(r["size"] or 1),
                status_429=_int(r["s429"]),
                throttled_minutes=minutes,
                shared_minutes=shared_n,
                cause=CAUSE_POOL if shared_n and shared_n * 2 >= minutes else CAUSE_OWN,
            )
        )
    return result


__all__ += [
    "CAUSE_OWN",
    "CAUSE_POOL",
    "DeploymentChangeEvent",
    "PoolPoint",
    "StatusCodePoint",
    "StatusCodeTotal",
    "ThrottleCause",
    "deployment_changes",
    "pool_throttling",
    "status_code_totals",
    "status_codes_over_time",
    "throttle_causes",
]
