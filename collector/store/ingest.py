"""The collector's raw rows as table rows: metric points (``metric_minute``), request rows
(``request_log``) and histogram rows (``latency_hist``), with the rollups kept up to date.

Rows come as plain mappings with the fields of the sources' typed rows (the store never imports
the sources); ``resource_id`` and ``deployment`` name the deployment, stored by its id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from collector import metric_names
from collector.store import request_index, rollup, writer
from collector.store.ids import deployment_ids, label_ids
from collector.store.schema import TABLES
from collector.store.types import to_utc

#: Rows per ``writer.upsert`` call.
WRITE_BATCH = 50_000
Row = Mapping[str, Any]


def _chunks(items: list[Any], size: int = WRITE_BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_metrics(conn: Connection, points: Sequence[Row], start: datetime, end: datetime) -> int:
    """A metrics window: its points, then the metric rollups of ``[start, end)``."""
    written = write_metric_points(conn, points)
    rollup.refresh(conn, start, end, hist=False)
    return written


def write_logs(
    conn: Connection,
    requests: Sequence[Row],
    histogram: Sequence[Row],
    start: datetime,
    end: datetime,
) -> int:
    """A logs window: its request and histogram rows, then the latency rollups of the window."""
    written = write_requests(conn, requests) + write_histogram(conn, histogram)
    rollup.refresh(conn, start, end, metrics=False)
    return written


def write_metric_points(conn: Connection, points: Sequence[Row]) -> int:
    """Metric points as ``metric_minute`` rows; a labelled point (the cache metrics'
    ``ContextLength``) keeps its label's ``metric_label`` id in ``status_code``."""
    ids = deployment_ids(conn, {(p["resource_id"], p["deployment"]) for p in points})
    labels = label_ids(conn, metric_names.CONTEXT_LENGTH, {p["label"] for p in points})
    rows = [
        {
            "ts": p["ts"],
            "deployment_id": ids[(p["resource_id"], p["deployment"])],
            "metric": p["metric"],
            "status_code": labels[p["label"]] if p["label"] else p["status_code"],
            "total": p["total"],
            "count": p["count"],
            "minimum": p["minimum"],
            "maximum": p["maximum"],
            "average": p["average"],
        }
        for p in points
    ]
    return sum(writer.upsert(conn, "metric_minute", chunk) for chunk in _chunks(rows))


def write_requests(conn: Connection, requests: Sequence[Row]) -> int:
    """Request rows, one per correlation id (the caller collapses a call's duplicate rows)."""
    ids = deployment_ids(conn, {(r["resource_id"], r["deployment"]) for r in requests})
    rows = [
        {
            "ts": r["ts"],
            "correlation_id": r["correlation_id"],
            "deployment_id": ids[(r["resource_id"], r["deployment"])],
            "operation": r["operation"],
            "api_name": r["api_name"],
            "stream_type": r["stream_type"],
            "status_code": r["status_code"],
            "duration_ms": r["duration_ms"],
            "request_bytes": r["request_bytes"],
            "response_bytes": r["response_bytes"],
            "caller_ip": r["caller_ip"],
            "properties": json.dumps(
                {
                    key: value
                    for key, value in (
                        ("model", r["model"]),
                        ("model_version", r["model_version"]),
                        ("caller_object_id", r["caller_object_id"]),
                        ("prompt_tokens", r["prompt_tokens"]),
                        ("completion_tokens", r["completion_tokens"]),
                    )
                    if value is not None or key in ("model", "model_version")
                },
                separators=(",", ":"),
            ),
        }
        for r in requests
    ]
    _drop_moved_requests(conn, {r["correlation_id"]: r["ts"] for r in requests})
    return sum(writer.upsert(conn, "request_log", chunk) for chunk in _chunks(rows))


def _drop_moved_requests(conn: Connection, times: dict[str, datetime]) -> None:
    """Delete stored rows of these correlation ids at another time than the one being written.

    ``request_log``'s key is (``ts``, ``correlation_id``) because Postgres needs the partition
    column in it; when Azure's two rows of a call tie on completeness and a later read picks the
    other one (another ``TimeGenerated``), this keeps one row per call. The stored times come
    from ``request_id_index`` (one probe per week slice, not one per day); its entry of a
    deleted row goes too."""
    t = TABLES["request_log"]
    ids = sorted(times)
    wanted = {request_index.encode(cid): cid for cid in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stale = [
            (key, us)
            for key, us in request_index.probe(conn, request_index.APIM, chunk)
            if us != request_index.micros(to_utc(times[wanted[key]]))
        ]
        if not stale:
            continue
        gone = [
            {"ts": request_index.from_micros(us), "correlation_id": wanted[k]} for k, us in stale
        ]
        writer.delete(conn, t, gone)
        request_index.forget(conn, [(k, request_index.APIM, us) for k, us in stale])


def write_histogram(conn: Connection, histogram: Sequence[Row]) -> int:
    """Histogram rows as ``latency_hist`` rows (requests per status class and latency bucket)."""
    ids = deployment_ids(conn, {(h["resource_id"], h["deployment"]) for h in histogram})
    rows = [
        {
            "ts": h["ts"],
            "deployment_id": ids[(h["resource_id"], h["deployment"])],
            "status_class": h["status_class"],
            "bucket": h["bucket"],
            "count": h["count"],
        }
        for h in histogram
    ]
    return sum(writer.upsert(conn, "latency_hist", chunk) for chunk in _chunks(rows))
