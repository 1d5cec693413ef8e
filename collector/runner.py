"""Runs the sources: plans windows from watermarks, writes rows and watermark in one transaction,
records every run in ``collection_run``.

The runner is the only place that knows both a source and the store. A failing chunk stops that
scope for this run (its watermark stays before the chunk, so the next run re-reads it) and is
recorded; other scopes and sources go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from sqlalchemy import Connection, Engine, and_, select

from collector import metric_names
from collector.azure import AzureClients, CallCounter
from collector.config import Settings
from collector.sources import costs, inventory, logs, metrics
from collector.sources.rows import DeploymentRow, ResourceRow
from collector.store import rollup, writer
from collector.store.ids import deployment_ids, label_ids
from collector.store.schema import TABLES
from collector.windows import Plan, cost_days, plan

log = logging.getLogger("foundry_monitor.collector")

SOURCES = ("inventory", "metrics", "logs", "costs", "spend")
METRICS_OVERLAP = timedelta(minutes=15)
METRICS_LAG = timedelta(minutes=1)
LOGS_LAG = timedelta(minutes=0)
METRICS_CHUNK = timedelta(hours=3)
LOGS_CHUNK = timedelta(hours=1)  # histogram answers grow with deployments x buckets
WRITE_BATCH = 50_000
TRACKED_FIELDS = ("model", "model_version", "sku", "capacity")

Progress = Callable[[str, int, int], None]


@dataclass
class RunReport:
    """What one source did for one scope in one run."""

    source: str
    scope: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    rows: int = 0
    calls: int = 0
    throttled: int = 0
    duration_s: float = 0.0
    status: str = "ok"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _error_text(exc: BaseException) -> str:
    """One line, no secrets: Azure errors are cut to their first line and 300 characters."""
    if isinstance(exc, ClientAuthenticationError):
        text = f"Azure authentication failed: {exc.message}"
    elif isinstance(exc, HttpResponseError):
        code = getattr(exc.error, "code", None) if exc.error else None
        text = f"Azure answered {exc.status_code} {code or exc.reason or ''}: {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


class Collector:
    """One collector process's view of Azure (clients) and the store (engine)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clients_factory: Callable[[CallCounter], AzureClients],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clients_factory = clients_factory
        self.now = now
        self.progress = progress

    # -- bookkeeping -------------------------------------------------------------------------

    def _watermark(self, source: str, scope: str) -> datetime | None:
        table = TABLES["watermark"]
        with self.engine.connect() as conn:
            return conn.execute(
                select(table.c.value).where(and_(table.c.source == source, table.c.scope == scope))
            ).scalar()

    @staticmethod
    def _set_watermark(conn: Connection, source: str, scope: str, value: datetime) -> None:
        writer.upsert(
            conn,
            TABLES["watermark"],
            [{"source": source, "scope": scope, "value": value, "updated_at": datetime.now(UTC)}],
        )

    def _record(self, report: RunReport, started: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                TABLES["collection_run"]
                .insert()
                .values(
                    source=report.source,
                    scope=report.scope,
                    window_start=report.window_start,
                    window_end=report.window_end,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    status=report.status,
                    rows=report.rows,
                    azure_calls=report.calls,
                    throttled_calls=report.throttled,
                    duration_s=report.duration_s,
                    error=report.error,
                )
            )
        log.info(
            "source=%s scope=%s window=%s..%s rows=%d calls=%d throttled=%d duration=%.1fs "
            "status=%s%s",
            report.source,
            report.scope,
            report.window_start.isoformat() if report.window_start else "-",
            report.window_end.isoformat() if report.window_end else "-",
            report.rows,
            report.calls,
            report.throttled,
            report.duration_s,
            report.status,
            f" error={report.error}" if report.error else "",
        )

    def _run(
        self, source: str, scope: str, body: Callable[[AzureClients, RunReport], None]
    ) -> RunReport:
        counter = CallCounter()
        clients = self.clients_factory(counter)
        report = RunReport(source=source, scope=scope)
        started = datetime.now(UTC)
        clock = time.monotonic()
        try:
            body(clients, report)
        except Exception as exc:  # one failing source never stops the others
            report.status = "error"
            report.error = _error_text(exc)
            log.debug("run failed", exc_info=True)
        report.duration_s = round(time.monotonic() - clock, 3)
        report.calls, report.throttled = counter.snapshot()
        self._record(report, started)
        return report

    def _plan(
        self,
        report: RunReport,
        source: str,
        scope: str,
        overlap: timedelta,
        lag: timedelta,
        backfill: timedelta | None,
    ) -> Plan:
        """The window to read for ``source``/``scope`` now, recorded on the run's report."""
        window = plan(
            self._watermark(source, scope),
            self.now(),
            timedelta(days=self.settings.retention_days),
            overlap,
            lag,
            backfill,
        )
        report.window_start, report.window_end = window.start, window.end
        return window

    def _tick(self, label: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(label, done, total)

    # -- inventory ---------------------------------------------------------------------------

    def subscriptions(self) -> list[str]:
        subs = [s.lower() for s in self.settings.subscriptions]
        subs += [inventory.parse_resource_id(r)[0].lower() for r in self.settings.resource_ids]
        return sorted(set(subs))

    def collect_inventory(self) -> list[RunReport]:
        return [
            self._run(
                "inventory", f"/subscriptions/{sub}", partial(self._inventory, subscription=sub)
            )
            for sub in self.subscriptions()
        ]

    def _inventory(self, clients: AzureClients, report: RunReport, subscription: str) -> None:
        client = clients.inventory(subscription)
        wanted = [r for r in self.settings.resource_ids if r.lower().split("/")[2] == subscription]
        resources = list(inventory.list_resources(client, wanted))
        deployments = [d for res in resources for d in inventory.list_deployments(client, res)]
        now = self.now()
        with self.engine.begin() as conn:
            report.rows = write_inventory(conn, subscription, resources, deployments, now)

    def known_resources(self) -> list[ResourceRow]:
        table = TABLES["resource"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.removed_at.is_(None))).mappings().all()
        return [
            ResourceRow(
                id=r["id"],
                subscription_id=r["subscription_id"],
                resource_group=r["resource_group"],
                name=r["name"],
                kind=r["kind"],
                location=r["location"],
                endpoint=r["endpoint"],
                internal_id=r["internal_id"],
            )
            for r in rows
        ]

    # -- metrics -----------------------------------------------------------------------------

    def collect_metrics(self, backfill: timedelta | None = None) -> list[RunReport]:
        reports = []
        for batch in metrics.batches(self.known_resources()):
            scope = f"/subscriptions/{batch.subscription_id}/regions/{batch.region}"
            reports.append(
                self._run(
                    "metrics",
                    scope,
                    partial(self._metrics, batch=batch, scope=scope, backfill=backfill),
                )
            )
        return reports

    def _metrics(
        self,
        clients: AzureClients,
        report: RunReport,
        batch: metrics.Batch,
        scope: str,
        backfill: timedelta | None,
    ) -> None:
        window = self._plan(report, "metrics", scope, METRICS_OVERLAP, METRICS_LAG, backfill)
        if window.empty:
            return
        client = clients.metrics(batch.region)
        chunks = window.chunks(METRICS_CHUNK)
        for done, (start, end) in enumerate(chunks):
            points = [
                p
                for group in metrics.GROUPS
                for p in metrics.fetch(client, batch, group, start, end)
            ]
            with self.engine.begin() as conn:
                report.rows += write_metric_points(conn, points)
                rollup.refresh(conn, start, end, hist=False)
                if window.moves_watermark:
                    self._set_watermark(conn, "metrics", scope, end)
            self._tick(f"metrics {batch.region}", done + 1, len(chunks))

    # -- logs --------------------------------------------------------------------------------

    def collect_logs(self, backfill: timedelta | None = None) -> list[RunReport]:
        workspace = self.settings.workspace_id
        if not workspace:
            return []
        return [
            self._run(
                "logs", workspace, partial(self._logs, workspace=workspace, backfill=backfill)
            )
        ]

    def _logs(
        self, clients: AzureClients, report: RunReport, workspace: str, backfill: timedelta | None
    ) -> None:
        overlap = timedelta(minutes=self.settings.logs_overlap_minutes)
        window = self._plan(report, "logs", workspace, overlap, LOGS_LAG, backfill)
        if window.empty:
            return
        client = clients.logs()
        chunks = window.chunks(LOGS_CHUNK)
        for done, (start, end) in enumerate(chunks):
            requests = list(
                logs.fetch_requests(
                    client,
                    workspace,
                    start,
                    end,
                    self.settings.slow_request_ms,
                    self.settings.log_all_rows,
                )
            )
            histogram = list(logs.fetch_histogram(client, workspace, start, end))
            with self.engine.begin() as conn:
                report.rows += write_requests(conn, requests) + write_histogram(conn, histogram)
                rollup.refresh(conn, start, end, metrics=False)
                if window.moves_watermark:
                    self._set_watermark(conn, "logs", workspace, end)
            self._tick("logs", done + 1, len(chunks))

    def fetch_request(self, correlation_id: str) -> int:
        """Live look-up: read one request's log row from Log Analytics (whole retention window)
        and store it, so the store's look-up can answer with its context. Returns rows stored."""
        from collector import kql

        workspace = self.settings.workspace_id
        if not workspace:
            return 0
        query = kql.lookup_query(correlation_id)
        end = self.now()
        start = end - timedelta(days=self.settings.retention_days)
        client = self.clients_factory(CallCounter()).logs()
        found = logs.query_split(client, workspace, query, start, end, logs.request_rows)
        rows = logs.collapse(found)
        with self.engine.begin() as conn:
            return write_requests(conn, rows)

    # -- costs -------------------------------------------------------------------------------

    def collect_costs(self, backfill_days: int | None = None) -> list[RunReport]:
        return [
            self._run(
                "costs", scope, partial(self._costs, scope=scope, backfill_days=backfill_days)
            )
            for scope in self.settings.effective_cost_scopes
        ]

    def _costs(
        self, clients: AzureClients, report: RunReport, scope: str, backfill_days: int | None
    ) -> None:
        now = self.now()
        first, last = cost_days(
            self._watermark("costs", scope),
            now.date(),
            self.settings.cost_reread_days,
            self.settings.retention_days,
            backfill_days,
        )
        report.window_start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        report.window_end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(
            days=1
        )
        rows = list(costs.fetch(clients.costs(), scope, first, last))
        with self.engine.begin() as conn:
            report.rows = replace_costs(conn, scope, first, last, rows, now)
            self._set_watermark(conn, "costs", scope, now)

    # -- spend -------------------------------------------------------------------------------

    def refresh_spend(self) -> list[RunReport]:
        """Recompute estimate, allocation, reconciliation (the month and recent days)."""
        from collector.spend import refresh_spend

        def body(clients: AzureClients, report: RunReport) -> None:
            result = refresh_spend(self.engine, self.settings, self.now())
            report.window_start = datetime(
                result.first_day.year, result.first_day.month, result.first_day.day, tzinfo=UTC
            )
            report.window_end = datetime(
                result.last_day.year, result.last_day.month, result.last_day.day, tzinfo=UTC
            ) + timedelta(days=1)
            report.rows = result.rows_written
            for warning in result.warnings:
                log.warning("spend: %s", warning)

        return [self._run("spend", "all", body)]

    # -- all ---------------------------------------------------------------------------------

    def run_once(
        self, sources: Iterable[str] = SOURCES, backfill_days: float | None = None
    ) -> list[RunReport]:
        backfill = timedelta(days=backfill_days) if backfill_days is not None else None
        chosen = list(sources)
        reports: list[RunReport] = []
        if "inventory" in chosen or not self.known_resources():
            reports += self.collect_inventory()  # metrics need to know the resources
        if "metrics" in chosen:
            reports += self.collect_metrics(backfill)
        if "logs" in chosen:
            reports += self.collect_logs(backfill)
        if "costs" in chosen:
            reports += self.collect_costs(
                None if backfill_days is None else max(1, round(backfill_days))
            )
        if "spend" in chosen or {"costs", "metrics"} & set(chosen):
            reports += self.refresh_spend()
        return reports


# -- store writes (pure mapping from typed rows to table rows) ------------------------------------


def _chunks(items: list[Any], size: int = WRITE_BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_metric_points(conn: Connection, points: list[metrics.MetricPoint]) -> int:
    """Metric points as ``metric_minute`` rows; a labelled point (the cache metrics'
    ``ContextLength``) keeps its label's ``metric_label`` id in ``status_code``."""
    ids = deployment_ids(conn, {(p.resource_id, p.deployment) for p in points})
    labels = label_ids(conn, metric_names.CONTEXT_LENGTH, {p.label for p in points})
    rows = [
        {
            "ts": p.ts,
            "deployment_id": ids[(p.resource_id, p.deployment)],
            "metric": p.metric,
            "status_code": labels[p.label] if p.label else p.status_code,
            "total": p.total,
            "count": p.count,
            "minimum": p.minimum,
            "maximum": p.maximum,
            "average": p.average,
        }
        for p in points
    ]
    return sum(writer.upsert(conn, "metric_minute", chunk) for chunk in _chunks(rows))


def write_requests(conn: Connection, requests: list[Any]) -> int:
    """Request rows, one per correlation id (a call's duplicate rows collapse first)."""
    import json

    requests = logs.collapse(requests)
    ids = deployment_ids(conn, {(r.resource_id, r.deployment) for r in requests})
    rows = [
        {
            "ts": r.ts,
            "correlation_id": r.correlation_id,
            "deployment_id": ids[(r.resource_id, r.deployment)],
            "operation": r.operation,
            "api_name": r.api_name,
            "stream_type": r.stream_type,
            "status_code": r.status_code,
            "duration_ms": r.duration_ms,
            "request_bytes": r.request_bytes,
            "response_bytes": r.response_bytes,
            "caller_ip": r.caller_ip,
            "properties": json.dumps(
                {
                    key: value
                    for key, value in (
                        ("model", r.model),
                        ("model_version", r.model_version),
                        ("caller_object_id", r.caller_object_id),
                        ("prompt_tokens", r.prompt_tokens),
                        ("completion_tokens", r.completion_tokens),
                    )
                    if value is not None or key in ("model", "model_version")
                },
                separators=(",", ":"),
            ),
        }
        for r in requests
    ]
    _drop_moved_requests(conn, {r.correlation_id: r.ts for r in requests})
    return sum(writer.upsert(conn, "request_log", chunk) for chunk in _chunks(rows))


def _drop_moved_requests(conn: Connection, times: dict[str, datetime]) -> None:
    """Delete stored rows of these correlation ids at another time than the one being written.

    ``request_log``'s key is (``ts``, ``correlation_id``) because Postgres needs the partition
    column in it; when Azure's two rows of a call tie on completeness and a later read picks the
    other one (another ``TimeGenerated``), this keeps one row per call."""
    from collector.store.types import to_utc

    t = TABLES["request_log"]
    ids = sorted(times)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stale = [
            (ts, cid)
            for ts, cid in conn.execute(
                select(t.c.ts, t.c.correlation_id).where(t.c.correlation_id.in_(chunk))
            )
            if to_utc(ts) != to_utc(times[cid])
        ]
        for ts, cid in stale:
            conn.execute(t.delete().where(t.c.ts == ts, t.c.correlation_id == cid))


def write_histogram(conn: Connection, histogram: list[Any]) -> int:
    ids = deployment_ids(conn, {(h.resource_id, h.deployment) for h in histogram})
    rows = [
        {
            "ts": h.ts,
            "deployment_id": ids[(h.resource_id, h.deployment)],
            "status_class": h.status_class,
            "bucket": h.bucket,
            "count": h.count,
        }
        for h in histogram
    ]
    return sum(writer.upsert(conn, "latency_hist", chunk) for chunk in _chunks(rows))


def write_inventory(
    conn: Connection,
    subscription: str,
    resources: list[ResourceRow],
    deployments: list[DeploymentRow],
    now: datetime,
) -> int:
    """Upsert resources and deployments, record changes, mark what disappeared as removed."""
    rtable, dtable = TABLES["resource"], TABLES["deployment"]
    old_resources = {
        r["id"]: r
        for r in conn.execute(
            select(rtable).where(rtable.c.subscription_id == subscription)
        ).mappings()
    }
    writer.upsert(
        conn,
        rtable,
        [
            {
                "id": r.id,
                "subscription_id": r.subscription_id,
                "resource_group": r.resource_group,
                "name": r.name,
                "kind": r.kind,
                "location": r.location,
                "endpoint": r.endpoint,
                "internal_id": r.internal_id,
                "first_seen": old_resources[r.id]["first_seen"] if r.id in old_resources else now,
                "last_seen": now,
                "removed_at": None,
            }
            for r in resources
        ],
    )
    seen_ids = {r.id for r in resources}
    gone = [
        rid
        for rid, row in old_resources.items()
        if rid not in seen_ids and row["removed_at"] is None
    ]
    if gone:
        conn.execute(rtable.update().where(rtable.c.id.in_(gone)).values(removed_at=now))

    resource_ids = set(old_resources) | seen_ids
    old = {
        (d["resource_id"], d["name"]): d
        for d in conn.execute(
            select(dtable).where(dtable.c.resource_id.in_(sorted(resource_ids)))
        ).mappings()
    }
    rows = []
    for d in deployments:
        before = old.get((d.resource_id, d.name))
        rows.append(
            {
                "resource_id": d.resource_id,
                "name": d.name,
                "model": d.model,
                "model_version": d.model_version,
                "model_format": d.model_format,
                "sku": d.sku,
                "capacity": d.capacity,
                "provisioning_state": d.provisioning_state,
                "first_seen": before["first_seen"] if before and before["first_seen"] else now,
                "last_seen": now,
                "removed_at": None,
            }
        )
    writer.upsert(conn, dtable, rows)
    ids = deployment_ids(conn, {(d.resource_id, d.name) for d in deployments})
    changes: list[tuple[int, str, str | None, str | None]] = []
    for d in deployments:
        before = old.get((d.resource_id, d.name))
        deployment_id = ids[(d.resource_id, d.name)]
        if before is None or before["model"] is None:
            changes.append(
                (deployment_id, "created", None, f"{d.model} {d.model_version or ''}".strip())
            )
            continue
        for name in TRACKED_FIELDS:
            old_value, new_value = before[name], getattr(d, name)
            if old_value != new_value:
                changes.append((deployment_id, name, _text(old_value), _text(new_value)))
    seen = {(d.resource_id, d.name) for d in deployments}
    for key, before in old.items():
        if key not in seen and before["removed_at"] is None and before["model"] is not None:
            conn.execute(dtable.update().where(dtable.c.id == before["id"]).values(removed_at=now))
            changes.append((before["id"], "removed", before["model"], None))
    writer.upsert(
        conn,
        TABLES["deployment_change"],
        [
            {"deployment_id": i, "changed_at": now, "field": f, "old_value": o, "new_value": n}
            for i, f, o, n in changes
        ],
    )
    return len(resources) + len(deployments)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def replace_costs(
    conn: Connection, scope: str, first: date, last: date, rows: list[Any], now: datetime
) -> int:
    """Replace the stored cost rows of ``scope`` for ``[first, last]`` with ``rows``.

    A row whose amount changed gets ``revision + 1`` and keeps its ``first_cost``; rows that the
    answer no longer has are deleted; unchanged rows keep their ``changed_at``.
    """
    table = TABLES["cost_daily"]
    key_cols = ("day", "resource_id", "meter", "publisher_type", "charge_type", "currency")
    existing = {
        tuple(r[c] for c in key_cols): r
        for r in conn.execute(
            select(table).where(table.c.scope == scope, table.c.day >= first, table.c.day <= last)
        ).mappings()
    }
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (
            row.day,
            row.resource_id,
            row.meter,
            row.publisher_type,
            row.charge_type,
            row.currency,
        )
        if key in merged:  # the same key twice in one answer: add them up
            merged[key]["cost"] += row.cost
            continue
        merged[key] = {
            "day": row.day,
            "scope": scope,
            "resource_id": row.resource_id,
            "meter": row.meter,
            "publisher_type": row.publisher_type,
            "charge_type": row.charge_type,
            "currency": row.currency,
            "cost": row.cost,
            "quantity": row.quantity,
        }
    out = []
    for key, row in merged.items():
        before = existing.get(key)
        if before is None:
            row.update(first_cost=row["cost"], revision=0, fetched_at=now, changed_at=now)
        elif before["cost"] != row["cost"]:
            row.update(
                first_cost=before["first_cost"],
                revision=before["revision"] + 1,
                fetched_at=now,
                changed_at=now,
            )
        else:
            row.update(
                first_cost=before["first_cost"],
                revision=before["revision"],
                fetched_at=now,
                changed_at=before["changed_at"],
            )
        out.append(row)
    stale = [k for k in existing if k not in merged]
    for key in stale:
        conn.execute(
            table.delete().where(
                table.c.scope == scope,
                *(table.c[c] == v for c, v in zip(key_cols, key, strict=True)),
            )
        )
    writer.upsert(conn, table, out)
    return len(out)
