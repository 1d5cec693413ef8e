"""Log Analytics ``POST /v1/workspaces/{id}/query`` for the KQL of :mod:`collector.kql`.

The emulator is not a KQL engine: it recognises exactly the queries :mod:`collector.kql` builds
(whitespace-insensitive) and answers each from the workload; anything else gets Log Analytics'
400 ``BadArgumentError``. A request's row becomes visible 2 to 5 minutes after it happened
(ingestion delay, emulator clock). ``timespan`` is half-open ``[start, end)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import isodate
import numpy as np

from collector import kql
from collector.emulator.catalog import STREAM_TYPES
from collector.emulator.errors import kql_syntax_error, logs_error
from collector.emulator.workload import (
    CALLER_IPS,
    MINUTE_MS,
    Requests,
    Workload,
    from_ms,
    guid_of,
    to_ms,
)
from collector.histogram import buckets_of_integers

DEFAULT_MAX_ROWS = 500_000

REQUEST_ROW_TYPES = {
    kql.COL_TIME: "datetime",
    kql.COL_RESOURCE_ID: "string",
    kql.COL_CORRELATION_ID: "string",
    kql.COL_OPERATION: "string",
    kql.COL_STATUS: "string",
    kql.COL_DURATION_MS: "real",
    kql.COL_CALLER_IP: "string",
    kql.COL_DEPLOYMENT: "string",
    kql.COL_MODEL: "string",
    kql.COL_MODEL_VERSION: "string",
    kql.COL_API_NAME: "string",
    kql.COL_STREAM_TYPE: "string",
    kql.COL_REQUEST_LENGTH: "long",
    kql.COL_RESPONSE_LENGTH: "long",
}
HISTOGRAM_TYPES = {
    kql.COL_MINUTE: "datetime",
    kql.COL_RESOURCE_ID: "string",
    kql.COL_DEPLOYMENT: "string",
    kql.COL_STATUS_CLASS: "string",
    kql.COL_BUCKET: "int",
    kql.COL_REQUEST_COUNT: "long",
}
DIAGNOSTICS_TYPES = {
    kql.COL_RESOURCE_ID: "string",
    kql.COL_ROW_COUNT: "long",
    kql.COL_LAST_TIME: "datetime",
}

_GUID_MASK_HI = np.uint64(~(0xF << 12) & 0xFFFFFFFFFFFFFFFF)
_GUID_MASK_LO = np.uint64(~(0x3 << 62) & 0xFFFFFFFFFFFFFFFF)


def _normal(text: str) -> str:
    return " ".join(text.split())


def _iso(ms: int) -> str:
    moment = from_ms(ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Table:
    columns: dict[str, str]
    rows: list[list[Any]]


class LogsApi:
    """Answers Log Analytics queries for one workspace."""

    def __init__(self, workload: Workload, workspace_id: str, max_rows: int = DEFAULT_MAX_ROWS):
        self.workload = workload
        self.workspace_id = workspace_id.lower()
        self.max_rows = max_rows
        self._rid_lower = [a.id.lower() for a in workload.resources]

    # ------------------------------------------------------------------ entry point
    def query(self, workspace_id: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        if workspace_id.lower() != self.workspace_id:
            raise logs_error(
                404,
                "WorkspaceNotFoundError",
                f"The workspace {workspace_id} could not be found.",
            )
        text = body.get("query") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise logs_error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                {"code": "QueryMissing", "message": "A query is required."},
            )
        start_ms, end_ms = self._timespan(body.get("timespan"), now)
        handler = self._recognise(text)
        table = handler(start_ms, end_ms, now)
        return self.answer(table)

    def answer(self, table: Table, partial_rows: int | None = None) -> dict[str, Any]:
        """The wire shape; over ``max_rows`` (or a forced ``partial_rows``) it is partial."""
        limit = self.max_rows if partial_rows is None else partial_rows
        rows = table.rows
        truncated = len(rows) > limit or partial_rows is not None
        if truncated:
            rows = rows[:limit]
        result: dict[str, Any] = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in table.columns.items()],
                    "rows": rows,
                }
            ]
        }
        if truncated:
            result["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [
                    {
                        "code": "EngineError",
                        "message": "Something went wrong processing your query on the server.",
                        "innererror": {
                            "code": "-2133196797",
                            "message": (
                                "Query result set has exceeded the internal record count limit "
                                f"{self.max_rows} (E_QUERY_RESULT_SET_TOO_LARGE; see "
                                "https://aka.ms/kustoquerylimits)"
                            ),
                            "severity": 2,
                            "severityName": "Error",
                        },
                    }
                ],
            }
        return result

    def table_for(self, body: dict[str, Any], now: datetime) -> Table:
        """The full table of a (valid) query body, for fault injection."""
        start_ms, end_ms = self._timespan(body.get("timespan"), now)
        return self._recognise(body["query"])(start_ms, end_ms, now)

    # ------------------------------------------------------------------ parsing
    def _timespan(self, value: Any, now: datetime) -> tuple[int, int]:
        now_ms = to_ms(now)
        if not value:
            return self.workload.start_ms, now_ms
        try:
            if "/" in value:
                left, right = value.split("/", 1)
                if left.upper().startswith("P"):
                    duration = isodate.parse_duration(left)
                    end = isodate.parse_datetime(right)
                    start = end - duration
                else:
                    start = isodate.parse_datetime(left)
                    end = (
                        start + isodate.parse_duration(right)
                        if right.upper().startswith("P")
                        else isodate.parse_datetime(right)
                    )
            else:
                duration = isodate.parse_duration(value)
                if not isinstance(duration, timedelta):
                    raise ValueError("calendar durations are not supported")
                end = now
                start = now - duration
        except (ValueError, isodate.ISO8601Error):
            raise logs_error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                {"code": "InvalidTimespan", "message": f"Invalid timespan '{str(value)[:60]}'."},
            ) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        return to_ms(start), to_ms(end)

    def _recognise(self, text: str) -> Callable[[int, int, datetime], Table]:
        normal = _normal(text)
        match = re.search(r"DurationMs >= (\d+)\b", normal)
        slow = int(match[1]) if match else None
        if slow is not None and normal == _normal(kql.request_rows_query(slow)):
            return lambda s, e, now: self._request_rows(s, e, now, slow_ms=slow)
        if normal == _normal(kql.request_rows_query(1, all_rows=True)):
            return lambda s, e, now: self._request_rows(s, e, now, slow_ms=None)
        if normal == _normal(kql.latency_histogram_query()):
            return self._histogram
        if normal == _normal(kql.diagnostics_check_query()):
            return self._diagnostics
        match = re.search(r'CorrelationId =~ "([0-9a-f-]{36})"', normal)
        if match and normal == _normal(kql.lookup_query(match[1])):
            guid = match[1]
            return lambda s, e, now: self._lookup(s, e, now, guid)
        raise kql_syntax_error(text)

    # ------------------------------------------------------------------ data
    def _visible(self, start_ms: int, end_ms: int, now: datetime) -> Requests:
        now_ms = to_ms(now)
        req = self.workload.requests(start_ms, min(end_ms, now_ms))
        keep = req.ts_ms + req.log_lag_ms <= now_ms
        return req.take(np.flatnonzero(keep))

    def _rows_of(self, req: Requests) -> list[list[Any]]:
        deps = self.workload.deployments
        guids = [guid_of(pair) for pair in req.apim_id]
        order = sorted(range(len(req)), key=lambda i: (int(req.ts_ms[i]), guids[i]))
        rows = []
        for i in order:
            dep = deps[int(req.dep[i])]
            rows.append(
                [
                    _iso(int(req.ts_ms[i])),
                    self._rid_lower[dep.resource_index],
                    guids[i],
                    dep.model.operation_name,
                    str(int(req.status[i])),
                    int(req.duration_ms[i]),
                    CALLER_IPS[int(req.caller[i])],
                    dep.name,
                    dep.model.id,
                    dep.model.version,
                    dep.model.api_name,
                    STREAM_TYPES[int(req.stream[i])],
                    int(req.request_bytes[i]),
                    int(req.response_bytes[i]),
                ]
            )
        return rows

    def _request_rows(
        self, start_ms: int, end_ms: int, now: datetime, slow_ms: int | None
    ) -> Table:
        req = self._visible(start_ms, end_ms, now)
        if slow_ms is not None:
            failed = (req.status < 200) | (req.status >= 300)
            req = req.take(np.flatnonzero(failed | (req.duration_ms >= slow_ms)))
        return Table(REQUEST_ROW_TYPES, self._rows_of(req))

    def _lookup(self, start_ms: int, end_ms: int, now: datetime, guid: str) -> Table:
        value = int(guid.replace("-", ""), 16)
        hi = np.uint64((value >> 64) & 0xFFFFFFFFFFFFFFFF) & _GUID_MASK_HI
        lo = np.uint64(value & 0xFFFFFFFFFFFFFFFF) & _GUID_MASK_LO
        parts: list[Requests] = []
        now_ms = to_ms(now)
        for hour in self.workload.hours(start_ms, min(end_ms, now_ms)):
            for pool in range(len(self.workload.pools)):
                chunk = self.workload.chunk(pool, hour)
                hit = ((chunk.apim_id[:, 0] & _GUID_MASK_HI) == hi) & (
                    (chunk.apim_id[:, 1] & _GUID_MASK_LO) == lo
                )
                if hit.any():
                    found = chunk.take(np.flatnonzero(hit))
                    keep = (
                        (found.ts_ms >= start_ms)
                        & (found.ts_ms < end_ms)
                        & (found.ts_ms + found.log_lag_ms <= now_ms)
                    )
                    parts.append(found.take(np.flatnonzero(keep)))
        rows = [r for r in self._rows_of(Requests.concat(parts)) if r[2] == guid]
        return Table(REQUEST_ROW_TYPES, rows)

    def _histogram(self, start_ms: int, end_ms: int, now: datetime) -> Table:
        req = self._visible(start_ms, end_ms, now)
        bucket = buckets_of_integers(req.duration_ms).astype(np.int64)
        klass = (req.status // 100).astype(np.int64)
        minute = req.ts_ms // MINUTE_MS
        key = (minute << 24) | (req.dep.astype(np.int64) << 12) | (klass << 8) | bucket
        uniq, counts = np.unique(key, return_counts=True)
        deps = self.workload.deployments
        rows = []
        for k, n in zip(uniq.tolist(), counts.tolist(), strict=True):
            dep = deps[(k >> 12) & 0xFFF]
            rows.append(
                [
                    _iso((k >> 24) * MINUTE_MS),
                    self._rid_lower[dep.resource_index],
                    dep.name,
                    f"{(k >> 8) & 0xF}xx",
                    k & 0xFF,
                    n,
                ]
            )
        rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4]))
        return Table(HISTOGRAM_TYPES, rows)

    def _diagnostics(self, start_ms: int, end_ms: int, now: datetime) -> Table:
        now_ms = to_ms(now)
        end_ms = min(end_ms, now_ms)
        # Old minutes are complete: count them from the per-minute atoms; scan the recent tail.
        settled = max(start_ms, min(end_ms, (now_ms - 6 * MINUTE_MS) // MINUTE_MS * MINUTE_MS))
        first_full = -(-start_ms // MINUTE_MS) * MINUTE_MS
        counts = [0] * len(self._rid_lower)
        last = [-1] * len(self._rid_lower)
        if settled > first_full:
            atoms = self.workload.atoms(first_full, settled)
            resource = self.workload.dep_resource[atoms.dep]
            for r in range(len(counts)):
                sel = resource == r
                counts[r] += int(atoms.count[sel].sum())
                if sel.any():
                    last_minute = int(atoms.minute[sel].max())
                    tail = self._visible(
                        last_minute * MINUTE_MS, (last_minute + 1) * MINUTE_MS, now
                    )
                    mine = tail.ts_ms[self.workload.dep_resource[tail.dep] == r]
                    last[r] = int(mine.max()) if mine.size else last_minute * MINUTE_MS
            head = self._visible(start_ms, first_full, now)
        else:
            settled = start_ms
            head = Requests.empty()
        recent = Requests.concat([head, self._visible(settled, end_ms, now)])
        res = self.workload.dep_resource[recent.dep]
        for r in range(len(counts)):
            mine = recent.ts_ms[res == r]
            counts[r] += int(mine.size)
            if mine.size:
                last[r] = max(last[r], int(mine.max()))
        rows = [
            [self._rid_lower[r], counts[r], _iso(last[r])]
            for r in range(len(counts))
            if counts[r] > 0
        ]
        rows.sort(key=lambda row: str(row[0]))
        return Table(DIAGNOSTICS_TYPES, rows)


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
