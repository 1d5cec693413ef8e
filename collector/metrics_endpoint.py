"""The Prometheus ``/metrics`` endpoint of ``foundry-monitor run`` (issue #20).

A custom ``prometheus_client`` collector (:class:`StoreMetrics`) serves two kinds of series:

- the collector's own health, counted in this process from each job's run reports (runs, rows,
  Azure calls, 429s and errors per source: counters, reset when the process restarts as
  Prometheus expects) plus, from the store, the last success time per source and scope, and the
  scheduler's lag per job (how late each job started after its scheduled time);
- per deployment, read from the store after each collection (:meth:`StoreMetrics.refresh`) with
  the query module ``summary`` uses, so the two never disagree: requests by status class, the 429
  rate, p95 latency and tokens by kind over the last complete 5 minutes, and spend month to date,
  estimated and billed.

"Last complete 5 minutes": the 5-minute step ending at or before now minus 3 minutes (Azure
Monitor's metrics arrive 1 to 3 minutes late, DESIGN section 4), exposed as
``foundry_monitor_window_start_timestamp_seconds`` / ``..._end_...`` so that a reader can ask
``summary`` for the same window. Labels are bounded by the inventory: ``resource``,
``deployment``, ``model`` (plus ``status_class`` and ``kind``, fixed sets); names follow
Prometheus' conventions (https://prometheus.io/docs/practices/naming/: base units, ``_total`` on
counters, ``_seconds``, ``_timestamp_seconds``).

The per-quota-pool utilization gauge of the issue is added with the headroom work (issue #17).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from collector.quota_limits import QuotaSettings
from collector.store import queries
from collector.store.queries.headroom import pool_utilization_series
from collector.windows import Clock, utc_now

log = logging.getLogger("foundry_monitor.metrics_endpoint")

PREFIX = "foundry_monitor"
WINDOW = timedelta(minutes=5)
#: Azure Monitor's metrics arrive 1 to 3 minutes late (DESIGN section 4).
METRICS_DELAY = timedelta(minutes=3)
STATUS_CLASSES = ("2xx", "429", "4xx_other", "5xx")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
DEPLOYMENT_LABELS = ["resource", "deployment", "model"]
POOL_LABELS = ["pool", "model", "limit"]


def last_complete_window(now: datetime) -> tuple[datetime, datetime]:
    """The last complete 5-minute step ``[start, end)`` at ``now`` (metrics' delay allowed for)."""
    ready = now.astimezone(UTC) - METRICS_DELAY
    end = ready.replace(second=0, microsecond=0) - timedelta(minutes=ready.minute % 5)
    return end - WINDOW, end


@dataclass(frozen=True, slots=True)
class DeploymentFigures:
    """One deployment's series values (None: not known, the series is left out)."""

    labels: tuple[str, str, str]
    requests: dict[str, int]
    rate_429: float | None
    p95_seconds: float | None
    tokens: dict[str, int]
    spend_estimated: Decimal | None
    spend_billed: Decimal | None


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """One quota pool's one limit (rpm, itpm, otpm) over the window: its busiest minute."""

    labels: tuple[str, str, str]  # pool label, model, limit
    peak: int
    limit: int | None
    utilization: float | None


@dataclass
class Snapshot:
    """What the last refresh read from the store."""

    at: datetime
    window: tuple[datetime, datetime]
    deployments: list[DeploymentFigures] = field(default_factory=list)
    last_success: dict[tuple[str, str], datetime] = field(default_factory=dict)
    pools: list[PoolFigures] = field(default_factory=list)


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def read_snapshot(engine: Engine, now: datetime, quota: QuotaSettings | None = None) -> Snapshot:
    """The per-deployment and per-pool figures and last successes, read from the store
    (``quota``: the granted limits; None: the shipped defaults)."""
    start, end = last_complete_window(now)
    rows = queries.summary(engine, start, end)
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spend: dict[int, list[queries.SpendDay]] = {}
    for day in queries.spend_days(engine, month_start, now):
        spend.setdefault(day.deployment_id, []).append(day)
    figures = []
    for r in rows:
        days = spend.get(r.deployment_id, [])
        figures.append(
            DeploymentFigures(
                labels=(r.resource, r.deployment, r.model or ""),
                requests=dict(
                    zip(
                        STATUS_CLASSES,
                        (r.status_2xx, r.status_429, r.status_4xx_other, r.status_5xx),
                        strict=True,
                    )
                ),
                rate_429=r.rate_429,
                p95_seconds=None if r.p95_ms is None else r.p95_ms / 1000,
                tokens=dict(
                    zip(
                        TOKEN_KINDS,
                        (
                            r.input_tokens,
                            r.output_tokens,
                            r.cache_read_tokens,
                            r.cache_write_5m_tokens,
                            r.cache_write_1h_tokens,
                        ),
                        strict=True,
                    )
                ),
                spend_estimated=_sum(d.estimated for d in days),
                spend_billed=_sum(d.billed_allocated for d in days),
            )
        )
    pools = [
        PoolFigures((p.pool, p.key.model, p.limit), p.peak, p.limit_value, p.utilization)
        for p in pool_utilization_series(engine, start, end, end - start, quota)
    ]
    return Snapshot(now, (start, end), figures, queries.last_successes(engine), pools)


class StoreMetrics(Collector):
    """The endpoint's collector: this process's run counters and the store's last snapshot."""

    def __init__(
        self,
        engine: Engine,
        now: Clock = utc_now,
        quota: QuotaSettings | None = None,
    ) -> None:
        self.engine = engine
        self.now = now
        self.quota = quota
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], float] = {}
        self._lag: dict[str, float] = {}
        self._snapshot: Snapshot | None = None

    # -- updates (scheduler threads) ---------------------------------------------------------

    def record_runs(self, reports: Iterable[Any]) -> None:
        """Count a job's run reports (:class:`collector.runner.RunReport`) per source."""
        with self._lock:
            for r in reports:
                for name, value in (
                    ("runs", 1),
                    ("rows", r.rows),
                    ("calls", r.calls),
                    ("throttled", r.throttled),
                    ("errors", int(r.status != queries.RUN_SUCCEEDED)),
                ):
                    key = (name, r.source)
                    self._counts[key] = self._counts.get(key, 0) + value

    def record_lag(self, job: str, seconds: float) -> None:
        with self._lock:
            self._lag[job] = max(0.0, seconds)

    def refresh(self) -> None:
        """Re-read the store; a failing read keeps the previous snapshot (and is logged)."""
        try:
            snapshot = read_snapshot(self.engine, self.now(), self.quota)
        except Exception:  # the endpoint must never stop the collector
            log.warning("metrics endpoint: reading the store failed", exc_info=True)
            return
        with self._lock:
            self._snapshot = snapshot

    # -- exposition (HTTP server thread) -----------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, lag, snap = dict(self._counts), dict(self._lag), self._snapshot
        yield from self._health(counts, lag)
        if snap is not None:
            yield from self._store(snap)

    @staticmethod
    def _health(counts: dict[tuple[str, str], float], lag: dict[str, float]) -> Iterator[Metric]:
        for name, key, doc in (
            ("collection_runs", "runs", "Collection runs (one per source and scope) by source."),
            ("collected_rows", "rows", "Rows written by collection runs, by source."),
            ("azure_calls", "calls", "Azure calls made by collection runs, by source."),
            ("azure_throttled_calls", "throttled", "Azure calls answered 429, by source."),
            ("collection_errors", "errors", "Collection runs that failed, by source."),
        ):
            family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["source"])
            for (kind, source), value in sorted(counts.items()):
                if kind == key:
                    family.add_metric([source], value)
            yield family
        gauge = GaugeMetricFamily(
            f"{PREFIX}_scheduler_lag_seconds",
            "How late the job's last run started after its scheduled time.",
            labels=["job"],
        )
        for job, seconds in sorted(lag.items()):
            gauge.add_metric([job], seconds)
        yield gauge

    @staticmethod
    def _store(snap: Snapshot) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            f"{PREFIX}_last_success_timestamp_seconds",
            "When the source last finished a successful run for the scope (Unix time).",
            labels=["source", "scope"],
        )
        for (source, scope), at in sorted(snap.last_success.items()):
            success.add_metric([source, scope], at.timestamp())
        yield success
        for name, value, doc in (
            ("store_refresh", snap.at, "When these series were last read from the store."),
            ("window_start", snap.window[0], "Start of the window the 5-minute series cover."),
            ("window_end", snap.window[1], "End (exclusive) of that window."),
        ):
            yield GaugeMetricFamily(f"{PREFIX}_{name}_timestamp_seconds", doc, value.timestamp())
        yield from _deployment_families(snap.deployments)
        yield from _pool_families(snap.pools)


def _pool_families(pools: list[PoolFigures]) -> Iterator[Metric]:
    def gauge(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{PREFIX}_pool_{name}", doc, labels=POOL_LABELS)

    usage = gauge("peak_minute_5m", "A quota pool's busiest minute in the 5 minutes, per limit.")
    limit = gauge("limit_per_minute", "The pool's limit per minute (left out when unknown).")
    ratio = gauge("utilization_ratio_5m", "Busiest minute / limit (left out when unknown).")
    for p in pools:
        usage.add_metric(list(p.labels), p.peak)
        if p.limit is not None:
            limit.add_metric(list(p.labels), p.limit)
        if p.utilization is not None:
            ratio.add_metric(list(p.labels), p.utilization)
    yield from (usage, limit, ratio)


def _deployment_families(deps: list[DeploymentFigures]) -> Iterator[Metric]:
    def gauge(name: str, doc: str, extra: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"{PREFIX}_deployment_{name}", doc, labels=DEPLOYMENT_LABELS + (extra or [])
        )

    requests = gauge(
        "requests_5m", "Requests in the last complete 5 minutes, by status class.", ["status_class"]
    )
    rate = gauge("throttled_ratio_5m", "Share of those requests answered 429.")
    p95 = gauge("latency_p95_seconds_5m", "p95 latency of successful requests (bucket bound).")
    tokens = gauge("tokens_5m", "Tokens in the last complete 5 minutes, by kind.", ["kind"])
    spend = gauge("spend_month_to_date_usd", "Spend this UTC month to date (USD).", ["basis"])
    for d in deps:
        labels = list(d.labels)
        for status, n in d.requests.items():
            requests.add_metric([*labels, status], n)
        if d.rate_429 is not None:
            rate.add_metric(labels, d.rate_429)
        if d.p95_seconds is not None:
            p95.add_metric(labels, d.p95_seconds)
        for kind, n in d.tokens.items():
            tokens.add_metric([*labels, kind], n)
        for basis, value in (("estimated", d.spend_estimated), ("billed", d.spend_billed)):
            if value is not None:
                spend.add_metric([*labels, basis], float(value))
    yield from (requests, rate, p95, tokens, spend)


@dataclass
class MetricsServer:
    """The running endpoint: its collector, its HTTP server and the address it listens on."""

    metrics: StoreMetrics
    server: Any
    thread: threading.Thread
    address: tuple[str, int]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(
    engine: Engine, host: str, port: int, quota: QuotaSettings | None = None
) -> MetricsServer:
    """Start ``/metrics`` on ``host:port`` (a daemon thread) with a first snapshot read."""
    from prometheus_client import start_http_server

    metrics = StoreMetrics(engine, quota=quota)
    metrics.refresh()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(metrics, server, thread, (host, int(server.server_address[1])))


def attach(metrics: StoreMetrics, scheduler: Any) -> None:
    """Feed ``metrics`` from an APScheduler scheduler: each job's start lag, and after each
    collection its run reports, then a refresh from the store."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

    def submitted(event: Any) -> None:
        times = getattr(event, "scheduled_run_times", None) or []
        if times:
            metrics.record_lag(event.job_id, (datetime.now(UTC) - max(times)).total_seconds())

    def finished(event: Any) -> None:
        value = getattr(event, "retval", None)
        if isinstance(value, list) and all(hasattr(r, "source") for r in value):
            metrics.record_runs(value)
        metrics.refresh()

    scheduler.add_listener(submitted, EVENT_JOB_SUBMITTED)
    scheduler.add_listener(finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
