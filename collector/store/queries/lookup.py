"""Request look-up: one request-log row by id, its deployment, its minute's context, the fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)

from collector.domain import not_found_message, parse_request_id, status_fix
from collector.errors import RequestNotFound
from collector.store import request_index
from collector.store.queries._sql import (
    _DEPLOYMENT,
    _LOG,
    _METRIC,
    REQUESTS,
    TTLB,
    _deployment_shown,
    _float,
    _int,
    _reading,
    _resource_name,
    _with_deployment,
)
from collector.store.types import to_utc
from collector.versions import hosting_of


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


def lookup(engine: Engine, raw_id: str, *, max_other_failures: int = 50) -> LookupResult:
    """Find a request by its apim-request-id or Anthropic request-id, with its minute's context.

    Raises :class:`InvalidRequestId` for anything that is not such an id (before any query) and
    :class:`RequestNotFound` when the store does not hold it.
    """
    request_id = parse_request_id(raw_id)
    with _reading(engine) as conn:
        row = find_row(conn, request_id.kind, request_id.value)
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


def find_row(conn: Connection, kind: str, value: str) -> RowMapping | None:
    """The newest ``request_log`` row whose ``kind`` id ("apim-request-id" or "request-id") is
    ``value``, with its deployment and resource, or None.

    Two statements: ``request_id_index`` gives the id's times (one probe per week slice), then
    the row is read by its time, which on Postgres reads that day's partition only. An entry
    whose row is gone (pruned, its week slice not yet) finds nothing here: not found.
    """
    code = request_index.KINDS[kind]
    times = [request_index.from_micros(us) for _, us in request_index.probe(conn, code, [value])]
    if not times:
        return None
    params = {"t": times[0]} if len(times) == 1 else {"times": times}
    return (
        conn.execute(_row_statement(code, len(times) == 1), {**params, "v": value})
        .mappings()
        .first()
    )


@lru_cache(maxsize=4)
def _row_statement(code: int, one_time: bool) -> Select[Any]:
    """``find_row``'s read, built once (building it took most of a look-up's time on SQLite)."""
    log = _LOG
    at = (
        log.c.ts == bindparam("t") if one_time else log.c.ts.in_(bindparam("times", expanding=True))
    )
    return (
        select(log, _DEPLOYMENT.c.name.label("deployment_name"), *_deployment_shown())
        .select_from(_with_deployment(log, outer=True))
        .where(at, log.c[request_index.COLUMNS[code]] == bindparam("v"))
        .order_by(log.c.ts.desc())
        .limit(1)
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
