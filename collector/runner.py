"""Runs the sources: plans windows from watermarks, writes rows and watermark in one transaction,
records every run in ``collection_run``. The writes themselves are the store's
(:mod:`collector.store.ingest`, ``inventory``, ``costs``, ``state``): the runner hands them the
sources' typed rows as plain dicts.

The runner is the only place that knows both a source and the store. A failing chunk stops that
scope for this run (its watermark stays before the chunk, so the next run re-reads it) and is
recorded; other scopes and sources go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from sqlalchemy import Connection, Engine

from collector.azure import AzureClients, CallCounter
from collector.config import Settings
from collector.rows import ResourceRow
from collector.sources import costs, inventory, logs, metrics
from collector.store import costs as cost_rows
from collector.store import ingest, state
from collector.store import inventory as inventory_rows
from collector.text import visible
from collector.windows import Clock, Plan, cost_days, plan, utc_now

log = logging.getLogger("foundry_monitor.collector")

SOURCES = ("inventory", "metrics", "logs", "costs", "spend")
METRICS_OVERLAP = timedelta(minutes=15)
METRICS_LAG = timedelta(minutes=1)
LOGS_LAG = timedelta(minutes=0)
METRICS_CHUNK = timedelta(hours=3)
LOGS_CHUNK = timedelta(hours=1)  # histogram answers grow with deployments x buckets

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
        now: Clock = utc_now,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clients_factory = clients_factory
        self.now = now
        self.progress = progress

    # -- bookkeeping -------------------------------------------------------------------------

    def _watermark(self, source: str, scope: str) -> datetime | None:
        with self.engine.connect() as conn:
            return state.watermark(conn, source, scope)

    def _record(self, report: RunReport, started: datetime) -> None:
        with self.engine.begin() as conn:
            state.record_run(
                conn,
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
            f" error={visible(report.error)}" if report.error else "",  # Azure's text: inert
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
        # quota pools: one usages call per location with accounts (issue 17)
        locations = sorted({r.location for r in resources if r.location})
        usages = list(inventory.list_usages(client, subscription, locations))
        now = self.now()
        with self.engine.begin() as conn:
            report.rows = inventory_rows.write_inventory(
                conn, subscription, _plain(resources), _plain(deployments), now
            )
            report.rows += inventory_rows.write_usages(
                conn, subscription, locations, _plain(usages), now
            )

    def known_resources(self) -> list[ResourceRow]:
        with self.engine.connect() as conn:
            return [ResourceRow(**r) for r in inventory_rows.active_resources(conn)]

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
                report.rows += ingest.write_metrics(conn, _plain(points), start, end)
                if window.moves_watermark:
                    state.set_watermark(conn, "metrics", scope, end)
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
                report.rows += ingest.write_logs(
                    conn, _plain(logs.collapse(requests)), _plain(histogram), start, end
                )
                if window.moves_watermark:
                    state.set_watermark(conn, "logs", workspace, end)
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
            report.rows = cost_rows.replace_costs(conn, scope, first, last, _plain(rows), now)
            state.set_watermark(conn, "costs", scope, now)

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


# -- typed rows to the store ---------------------------------------------------------------------


def _plain(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The sources' typed rows as the plain mappings the store takes (it never imports the
    sources): each frozen dataclass's own field dict, not copied."""
    return [vars(row) for row in rows]


def write_requests(conn: Connection, requests: list[Any]) -> int:
    """Request rows, one per correlation id (a call's duplicate rows collapse first)."""
    return ingest.write_requests(conn, _plain(logs.collapse(requests)))
