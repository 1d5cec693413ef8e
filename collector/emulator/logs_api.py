"""Log Analytics ``POST /v1/workspaces/{id}/query`` for the KQL of :mod:`collector.kql`.

The emulator is not a KQL engine: it recognises exactly the queries :mod:`collector.kql` builds
(whitespace-insensitive) and answers each from the workload; anything else gets Log Analytics'
400 ``BadArgumentError``. A request's row becomes visible 2 to 5 minutes after it happened
(ingestion delay, emulator clock), except a share of late rows (``late_share``, default 3 %)
that take ``late_minutes`` (default 11 to 20) minutes. ``timespan`` is half-open ``[start, end)``.

The rows are what Azure really sends (docs/architecture.md, "What Azure really sends"), chosen
per call from its apim-request-id, so deterministically: upper-case ``ResourceId``; a masked
caller IP (``10.20.0.***``); ``properties_s`` a string column holding a JSON object, or for some
calls a JSON string of that object's text, with ``requestTime``/``responseTime`` in .NET ticks,
``callerObjectId``, ``promptTokens`` and ``completionTokens``; ``DurationMs`` zero, negative or
missing for some calls (the ticks keep the true duration); and for a quarter of the calls a
second, nearly empty row (same ``CorrelationId``, sometimes in upper case, up to a second later,
no properties, status or duration). Request-row and look-up answers are computed from those raw
rows the way the collector's KQL says (parse, recover the duration, ``arg_max`` of completeness
by correlation id, drop rows naming no deployment), the histogram from the calls themselves
(the same result, vectorised). The truth stays per call. ``diagnostics_check_query``'s
``RowCount`` counts one row per call here (``doctor`` only needs presence).
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
    stable_hash,
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
    kql.COL_PROPERTIES: "string",
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

#: .NET ticks (100 ns since 0001-01-01) of the Unix epoch
EPOCH_TICKS = 621_355_968_000_000_000
DEFAULT_LATE_SHARE = 0.03
DEFAULT_LATE_MINUTES = (11, 20)
#: share of calls (of 256) that get a second, nearly empty row
TWIN_PER_256 = 64
#: the Entra object id of each caller (index of ``CALLER_IPS``)
CALLER_OBJECT_IDS: tuple[str, ...] = tuple(
    guid_of(
        np.array(
            [stable_hash("oid", i, w) << 32 | stable_hash("oid", i, w + 1) for w in (0, 2)],
            np.uint64,
        )
    )
    for i in range(len(CALLER_IPS))
)


def masked_ip(ip: str) -> str:
    """Azure masks the last octet of the caller's IPv4 address: ``10.20.0.***``."""
    return ip.rsplit(".", 1)[0] + ".***"


def ticks_of_ms(ms: int) -> int:
    return EPOCH_TICKS + ms * 10_000


@dataclass(frozen=True)
class Traits:
    """Per call, from the bits of its apim-request-id (so deterministic): how Azure logs it."""

    twin: np.ndarray  # bool: a second, nearly empty row
    twin_offset_ms: np.ndarray  # int64: the twin's TimeGenerated after the call's
    twin_upper: np.ndarray  # bool: the twin's CorrelationId in upper case
    bad_duration: np.ndarray  # int64: 0 zero, 1 negative, 2 missing, else DurationMs is right
    string_properties: np.ndarray  # bool: properties_s is a JSON string of the object's text
    lag_ms: np.ndarray  # int64: ingestion delay of the call's rows


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

    def __init__(
        self,
        workload: Workload,
        workspace_id: str,
        max_rows: int = DEFAULT_MAX_ROWS,
        *,
        late_share: float = DEFAULT_LATE_SHARE,
        late_minutes: tuple[int, int] = DEFAULT_LATE_MINUTES,
    ):
        if not 0.0 <= late_share <= 1.0:
            raise ValueError(f"late_share must be in [0, 1], got {late_share}")
        if not 0 < late_minutes[0] <= late_minutes[1]:
            raise ValueError(f"late_minutes must be (low, high) minutes, got {late_minutes}")
        self.workload = workload
        self.workspace_id = workspace_id.lower()
        self.max_rows = max_rows
        self.late_share = late_share
        self.late_minutes = late_minutes
        self._rid_lower = [a.id.lower() for a in workload.resources]
        self._rid_upper = [a.id.upper() for a in workload.resources]

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
        match = re.search(r"Duration >= (\d+)\b", normal)
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
    def traits(self, req: Requests) -> Traits:
        word = (req.apim_id[:, 0] >> np.uint64(16)).astype(np.uint64)

        def bits(shift: int, width: int) -> np.ndarray:
            mask = np.uint64((1 << width) - 1)
            return ((word >> np.uint64(shift)) & mask).astype(np.int64)

        low, high = self.late_minutes
        late = bits(8, 10) < round(self.late_share * 1024)
        late_ms = (low * MINUTE_MS + bits(40, 20) % ((high - low) * MINUTE_MS + 1)).astype(np.int64)
        return Traits(
            twin=bits(0, 8) < TWIN_PER_256,
            twin_offset_ms=bits(25, 10),
            twin_upper=bits(24, 1) == 1,
            bad_duration=bits(18, 5),
            string_properties=bits(23, 1) == 1,
            lag_ms=np.where(late, late_ms, req.log_lag_ms.astype(np.int64)),
        )

    def _visible(self, start_ms: int, end_ms: int, now: datetime) -> Requests:
        now_ms = to_ms(now)
        req = self.workload.requests(start_ms, min(end_ms, now_ms))
        keep = req.ts_ms + self.traits(req).lag_ms <= now_ms
        return req.take(np.flatnonzero(keep))

    def raw_rows(self, req: Requests) -> list[dict[str, Any]]:
        """The ``AzureDiagnostics`` rows of these calls, as Azure writes them (a dict per row,
        keyed by column; ``_ts`` is TimeGenerated in epoch ms), in call order."""
        deps = self.workload.deployments
        traits = self.traits(req)
        rows: list[dict[str, Any]] = []
        for i in range(len(req)):
            dep = deps[int(req.dep[i])]
            ts = int(req.ts_ms[i])
            duration = int(req.duration_ms[i])
            guid = guid_of(req.apim_id[i])
            caller = int(req.caller[i])
            ok = int(req.status[i]) == 200
            props = {
                "apiName": dep.model.api_name,
                "requestTime": ticks_of_ms(ts),
                "responseTime": ticks_of_ms(ts + duration),
                "requestLength": int(req.request_bytes[i]),
                "responseLength": int(req.response_bytes[i]),
                "streamType": STREAM_TYPES[int(req.stream[i])],
                "modelDeploymentName": dep.name,
                "modelName": dep.model.id,
                "modelVersion": dep.version,
                "callerObjectId": CALLER_OBJECT_IDS[caller],
                "promptTokens": int(
                    req.input_tokens[i] + req.cache_write_tokens[i] + req.cache_read_tokens[i]
                )
                if ok
                else 0,
                "completionTokens": int(req.output_tokens[i]) if ok else 0,
            }
            text = json.dumps(props, separators=(",", ":"))
            bad = int(traits.bad_duration[i])
            reported: float | None = float(duration)
            if bad < 3:  # Azure's DurationMs: zero, negative or missing; the ticks are right
                reported = (0.0, -float(duration), None)[bad]
            rows.append(
                {
                    "_ts": ts,
                    "ResourceId": self._rid_upper[dep.resource_index],
                    "CorrelationId": guid,
                    "OperationName": dep.model.operation_name,
                    "ResultSignature": str(int(req.status[i])),
                    "DurationMs": reported,
                    "CallerIPAddress": masked_ip(CALLER_IPS[caller]),
                    "properties_s": json.dumps(text) if traits.string_properties[i] else text,
                }
            )
            if traits.twin[i]:
                rows.append(
                    {
                        "_ts": ts + int(traits.twin_offset_ms[i]),
                        "ResourceId": self._rid_upper[dep.resource_index],
                        "CorrelationId": guid.upper() if traits.twin_upper[i] else guid,
                        "OperationName": dep.model.operation_name,
                        "ResultSignature": "",
                        "DurationMs": None,
                        "CallerIPAddress": "",
                        "properties_s": "",
                    }
                )
        return rows

    @staticmethod
    def _parse(row: dict[str, Any]) -> dict[str, Any]:
        """``_PARSE`` of the KQL: ``p``, ``Duration`` and ``Completeness`` of a raw row."""
        p: Any = {}
        if row["properties_s"]:
            p = json.loads(row["properties_s"])
            if isinstance(p, str):
                p = json.loads(p)
        try:
            ticks = (int(p["responseTime"]) - int(p["requestTime"])) / kql.TICKS_PER_MS
        except (KeyError, TypeError, ValueError):
            ticks = None
        reported = row["DurationMs"]
        if reported is not None and reported > 0:
            duration = float(reported)
        elif ticks is not None and ticks > 0:
            duration = ticks
        else:
            duration = None
        completeness = (
            8 * bool(p.get("modelDeploymentName"))
            + 4 * bool(row["ResultSignature"])
            + 2 * (duration is not None)
            + bool(p.get("modelName"))
        )
        return {**row, "p": p, "Duration": duration, "Completeness": completeness}

    def _collapsed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``_COLLAPSE`` of the KQL: the most complete row per lower-cased correlation id,
        without the rows naming no deployment."""
        best: dict[str, dict[str, Any]] = {}
        for row in map(self._parse, rows):
            key = row["CorrelationId"].lower()
            if key not in best or row["Completeness"] > best[key]["Completeness"]:
                best[key] = {**row, "CorrelationKey": key}
        return [r for r in best.values() if r["p"].get("modelDeploymentName")]

    @staticmethod
    def _project(row: dict[str, Any]) -> list[Any]:
        p = row["p"]
        return [
            _iso(row["_ts"]),
            row["ResourceId"],
            row["CorrelationKey"],
            row["OperationName"],
            row["ResultSignature"],
            row["DurationMs"],
            row["CallerIPAddress"],
            p.get("modelDeploymentName", ""),
            p.get("modelName", ""),
            p.get("modelVersion", ""),
            p.get("apiName", ""),
            p.get("streamType", ""),
            p.get("requestLength"),
            p.get("responseLength"),
            row["properties_s"],
        ]

    def _answer_rows(
        self, req: Requests, start_ms: int, end_ms: int, slow_ms: int | None
    ) -> list[list[Any]]:
        """The KQL's result over the raw rows of ``req`` whose TimeGenerated is in the window."""
        raw = [r for r in self.raw_rows(req) if start_ms <= r["_ts"] < end_ms]
        rows = self._collapsed(raw)
        if slow_ms is not None:
            rows = [
                r
                for r in rows
                if not r["ResultSignature"].startswith("2")
                or (r["Duration"] is not None and r["Duration"] >= slow_ms)
            ]
        rows.sort(key=lambda r: (r["_ts"], r["CorrelationKey"]))
        return [self._project(r) for r in rows]

    def _request_rows(
        self, start_ms: int, end_ms: int, now: datetime, slow_ms: int | None
    ) -> Table:
        # A twin row trails its call by < 1 s: read the second before the window for twins.
        req = self._visible(start_ms - 1000, end_ms, now)
        if slow_ms is not None:  # only these calls can pass the filter: no need to build others
            failed = (req.status < 200) | (req.status >= 300)
            req = req.take(np.flatnonzero(failed | (req.duration_ms >= slow_ms)))
        return Table(REQUEST_ROW_TYPES, self._answer_rows(req, start_ms, end_ms, slow_ms))

    def _lookup(self, start_ms: int, end_ms: int, now: datetime, guid: str) -> Table:
        value = int(guid.replace("-", ""), 16)
        hi = np.uint64((value >> 64) & 0xFFFFFFFFFFFFFFFF) & _GUID_MASK_HI
        lo = np.uint64(value & 0xFFFFFFFFFFFFFFFF) & _GUID_MASK_LO
        parts: list[Requests] = []
        now_ms = to_ms(now)
        for hour in self.workload.hours(max(0, start_ms - 1000), min(end_ms, now_ms)):
            for pool in range(len(self.workload.pools)):
                chunk = self.workload.chunk(pool, hour)
                hit = ((chunk.apim_id[:, 0] & _GUID_MASK_HI) == hi) & (
                    (chunk.apim_id[:, 1] & _GUID_MASK_LO) == lo
                )
                if hit.any():
                    found = chunk.take(np.flatnonzero(hit))
                    keep = found.ts_ms + self.traits(found).lag_ms <= now_ms
                    parts.append(found.take(np.flatnonzero(keep)))
        req = Requests.concat(parts)
        rows = [r for r in self._answer_rows(req, start_ms, end_ms, None) if r[2] == guid]
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
                    self._rid_lower[dep.resource_index],  # tolower(ResourceId)
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
        latest = (self.late_minutes[1] + 1) * MINUTE_MS  # no row arrives later than this
        settled = max(start_ms, min(end_ms, (now_ms - latest) // MINUTE_MS * MINUTE_MS))
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
