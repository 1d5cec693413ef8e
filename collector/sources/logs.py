"""Request logs from Log Analytics: full rows of failed and slow requests, latency histograms.

A window whose answer is partial (``LogsQueryPartialResult``: row or size limit hit, or a partial
failure) or too heavy (504 ``GatewayTimeout``) is split in two and each half re-queried, down to
``MIN_WINDOW``; a window that still fails raises ``IncompleteWindow`` so the runner records it and
does not move its watermark past it.

Rows are taken as Azure really sends them (docs/architecture.md, "What Azure really sends"):
the KQL already collapses a call's rows into its most complete one, and :func:`collapse` does it
again over everything read (a call's rows may straddle two windows); ``properties_s`` is parsed
whether it holds a JSON object or a JSON string of one (:func:`parse_properties`); the duration
comes from the ``requestTime``/``responseTime`` ticks when ``DurationMs`` is missing, zero or
negative (:func:`duration_ms`); resource ids and correlation ids are lower-cased.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError

from collector import kql
from collector.errors import FoundryMonitorError
from collector.rows import HistogramRow, RequestRow

MIN_WINDOW = timedelta(minutes=1)
T = TypeVar("T")


class IncompleteWindow(FoundryMonitorError):
    """Log Analytics could not answer a window completely, even split to ``MIN_WINDOW``."""


def _status(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def parse_properties(value: Any) -> dict[str, Any]:
    """``properties_s`` as a dict: it may be an object already, a JSON object's text, or a JSON
    string holding that text (Azure sends all three); anything else is ``{}``."""
    for _ in range(3):
        if isinstance(value, dict):
            return value
        if not isinstance(value, str | bytes) or not value:
            return {}
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _ticks(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return round(float(value))
        except ValueError:
            return None


def ticks_ms(properties: dict[str, Any]) -> float | None:
    """``responseTime - requestTime`` (.NET ticks, 100 ns) in ms; None unless both are there."""
    start = _ticks(properties.get("requestTime"))
    end = _ticks(properties.get("responseTime"))
    if start is None or end is None:
        return None
    return (end - start) / kql.TICKS_PER_MS


def duration_ms(reported: Any, properties: dict[str, Any]) -> int | None:
    """``DurationMs`` when positive, else the ticks' difference when positive, else None.

    Azure's ``DurationMs`` is sometimes missing, zero or even negative; the ticks are not."""
    value = _int(reported)
    if value is not None and value > 0:
        return value
    ticks = ticks_ms(properties)
    if ticks is not None and ticks > 0:
        return max(1, round(ticks))
    return None


def _completeness(row: RequestRow) -> tuple[int, ...]:
    """How complete a row is (the same order as the KQL's ``Completeness``), then its time."""
    return (
        8 * bool(row.deployment)
        + 4 * bool(row.status_code)
        + 2 * (row.duration_ms is not None)
        + bool(row.model),
        sum(v is not None for v in (row.request_bytes, row.response_bytes, row.caller_ip)),
    )


def collapse(rows: Iterable[RequestRow]) -> list[RequestRow]:
    """One row per correlation id (case-insensitive), the most complete; order kept."""
    best: dict[str, RequestRow] = {}
    for row in rows:
        kept = best.get(row.correlation_id)
        if kept is None or _completeness(row) > _completeness(kept):
            best[row.correlation_id] = row
    return sorted(best.values(), key=lambda r: (r.ts, r.correlation_id))


def request_rows(table: Any) -> Iterator[RequestRow]:
    """Rows of ``kql.request_rows_query`` / ``kql.lookup_query`` answers."""
    index = {name: i for i, name in enumerate(table.columns)}
    for row in table.rows:
        get = lambda name, r=row: r[index[name]] if name in index else None  # noqa: E731
        props = parse_properties(get(kql.COL_PROPERTIES))
        correlation = _str(get(kql.COL_CORRELATION_ID))
        deployment = _str(get(kql.COL_DEPLOYMENT)) or _str(props.get("modelDeploymentName"))
        resource = _str(get(kql.COL_RESOURCE_ID))
        if not correlation or not deployment or not resource:
            continue  # a row we cannot key or attribute (the near-empty twin) is of no use
        yield RequestRow(
            ts=_time(get(kql.COL_TIME)),
            resource_id=resource.strip().lower(),
            deployment=deployment,
            correlation_id=correlation.strip().lower(),
            operation=_str(get(kql.COL_OPERATION)),
            status_code=_status(get(kql.COL_STATUS)),
            duration_ms=duration_ms(get(kql.COL_DURATION_MS), props),
            caller_ip=_str(get(kql.COL_CALLER_IP)),
            model=_str(get(kql.COL_MODEL)) or _str(props.get("modelName")),
            model_version=_str(get(kql.COL_MODEL_VERSION)) or _str(props.get("modelVersion")),
            api_name=_str(get(kql.COL_API_NAME)) or _str(props.get("apiName")),
            stream_type=_str(get(kql.COL_STREAM_TYPE)) or _str(props.get("streamType")),
            request_bytes=_int(get(kql.COL_REQUEST_LENGTH)),
            response_bytes=_int(get(kql.COL_RESPONSE_LENGTH)),
            caller_object_id=_str(props.get("callerObjectId")),
            prompt_tokens=_int(props.get("promptTokens")),
            completion_tokens=_int(props.get("completionTokens")),
        )


def histogram_rows(table: Any) -> Iterator[HistogramRow]:
    """Rows of ``kql.latency_histogram_query`` answers."""
    index = {name: i for i, name in enumerate(table.columns)}
    for row in table.rows:
        deployment = _str(row[index[kql.COL_DEPLOYMENT]])
        resource = _str(row[index[kql.COL_RESOURCE_ID]])
        if not deployment or not resource:
            continue
        yield HistogramRow(
            ts=_time(row[index[kql.COL_MINUTE]]),
            resource_id=resource.strip().lower(),
            deployment=deployment,
            status_class=str(row[index[kql.COL_STATUS_CLASS]]),
            bucket=int(float(row[index[kql.COL_BUCKET]])),
            count=int(float(row[index[kql.COL_REQUEST_COUNT]])),
        )


def _is_complete(result: Any) -> bool:
    from azure.monitor.query import LogsQueryStatus

    return bool(result.status == LogsQueryStatus.SUCCESS)


def _too_heavy(error: HttpResponseError) -> bool:
    return error.status_code == 504 or "GatewayTimeout" in str(error)


def query_split(
    client: Any,
    workspace_id: str,
    query: str,
    start: datetime,
    end: datetime,
    parse: Callable[[Any], Iterator[T]],
    on_split: Callable[[datetime, datetime], None] | None = None,
) -> Iterator[T]:
    """Rows of ``query`` over ``[start, end)``, splitting the window while answers are partial."""
    pending = [(start, end)]
    while pending:
        lo, hi = pending.pop(0)
        try:
            result = client.query_workspace(workspace_id, query, timespan=(lo, hi))
            complete = _is_complete(result)
        except HttpResponseError as error:
            if not _too_heavy(error):
                raise
            result, complete = None, False
        if complete:
            yield from parse(result.tables[0])
            continue
        if hi - lo <= MIN_WINDOW:
            raise IncompleteWindow(
                f"Log Analytics answered {lo:%Y-%m-%d %H:%M}..{hi:%H:%M} only partially even for "
                "one minute; the window stays open and is re-read on the next run"
            )
        middle = lo + (hi - lo) / 2
        middle = middle.replace(second=0, microsecond=0) if middle - lo > MIN_WINDOW else middle
        if on_split is not None:
            on_split(lo, hi)
        pending[0:0] = [(lo, middle), (middle, hi)]


def fetch_requests(
    client: Any, workspace_id: str, start: datetime, end: datetime, slow_ms: int, all_rows: bool
) -> list[RequestRow]:
    """One row per request of ``[start, end)`` (see :func:`collapse`)."""
    query = kql.request_rows_query(slow_ms, all_rows)
    return collapse(query_split(client, workspace_id, query, start, end, request_rows))


def fetch_histogram(
    client: Any, workspace_id: str, start: datetime, end: datetime
) -> Iterator[HistogramRow]:
    query = kql.latency_histogram_query()
    yield from query_split(client, workspace_id, query, start, end, histogram_rows)
