"""Shared SQL helpers of the read API: tables, metric names, steps, window checks, time buckets,
rollup segments, the read time limit, the common deployment filters and number conversions.

SQLite and Postgres differ only in :func:`time_bucket` and :func:`_reading` (see the package
docstring).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

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
from collector.errors import StoreError
from collector.histogram import bucket_bounds
from collector.store.rollup import ceil_time, floor_time
from collector.store.schema import TABLES
from collector.store.types import UTCDateTime, to_utc
from collector.versions import model_label, multi_version_models

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


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _aware(value: datetime | None) -> datetime | None:
    return to_utc(value) if value is not None else None


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


def time_bucket(column: ColumnElement[Any], seconds: int, dialect: str) -> ColumnElement[datetime]:
    """Start (UTC) of the ``seconds``-long step holding ``column``, steps aligned on the epoch.

    No bound parameters inside, so the same expression can be selected and grouped by.
    """
    n: ColumnElement[Any] = literal_column(str(int(seconds)))
    if dialect == "postgresql":
        expr: ColumnElement[Any] = func.to_timestamp(
            func.floor(func.extract("epoch", column) / n) * n
        )
    else:
        # SQLite stores seconds since the epoch (``UTCDateTime``): integer arithmetic, the cast
        # flooring a float (a time with microseconds)
        expr = cast(column, Integer).op("/")(n).op("*")(n)
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


def _ids_in(column: Any, deployment_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    return [] if deployment_ids is None else [column.in_(list(deployment_ids))]


def _inventory_join() -> Any:
    return _DEPLOYMENT.outerjoin(_RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id)


def _with_deployment(table: Any, *, outer: bool = False) -> Any:
    """``table`` joined to its deployment (on ``deployment_id``; an outer join with ``outer``)
    and outer-joined to that deployment's resource (whose row may not be stored yet)."""
    join = table.outerjoin if outer else table.join
    return join(_DEPLOYMENT, _DEPLOYMENT.c.id == table.c.deployment_id).outerjoin(
        _RESOURCE, _RESOURCE.c.id == _DEPLOYMENT.c.resource_id
    )


def _deployment_shown(resource_label: str = "resource_name") -> tuple[Any, ...]:
    """The columns a row shows of its deployment (joined by :func:`_with_deployment`): model,
    version, format, resource id and the resource's name (labelled ``resource_label``)."""
    d = _DEPLOYMENT
    return (
        d.c.model,
        d.c.model_version,
        d.c.model_format,
        d.c.resource_id,
        _RESOURCE.c.name.label(resource_label),
    )


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


class NameFilters(TypedDict, total=False):
    """The readers' name filters as keyword arguments (``**filters: Unpack[NameFilters]``):
    ``resource`` (a resource's name or ARM id), ``deployment`` and ``model`` (letter case
    ignored); None or absent: any."""

    resource: str | None
    deployment: str | None
    model: str | None


class Filters(NameFilters, total=False):
    """:class:`NameFilters` and ``deployment_ids`` (None or absent: any): see :class:`Filter`."""

    deployment_ids: Sequence[int] | None


@dataclass(frozen=True, slots=True)
class Filter:
    """The readers' common deployment filters: ``resource`` (a resource's name or ARM id),
    ``deployment`` and ``model`` (letter case ignored) and ``deployment_ids`` (None: any)."""

    resource: str | None = None
    deployment: str | None = None
    model: str | None = None
    deployment_ids: Sequence[int] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on deployment and its outer-joined resource (:func:`_deployment_filters`)."""
        return _deployment_filters(self.resource, self.deployment, self.model, self.deployment_ids)

    def on(self, column: Any) -> list[ColumnElement[bool]]:
        """``column`` (a deployment id) among the matching deployments; nothing when unfiltered."""
        where = self.conditions()
        return [column.in_(_ids_matching(where))] if where else []


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
