"""``foundry-monitor run``: APScheduler jobs per source, the daily prune, the alert evaluation
after each collection, one active collector.

Each job runs in the scheduler's thread pool with ``max_instances=1`` (a job never overlaps itself)
and ``coalesce=True`` (missed runs collapse into one). A failing source is recorded in the run log
by the runner and never stops the other jobs. On Postgres a session-level advisory lock makes the
process the only active collector: replicas wait as hot standbys and take over when it goes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, text

from collector.alerts.config import AlertSettings
from collector.alerts.run import scheduled_evaluation
from collector.config import Settings, cron_trigger
from collector.runner import Collector
from collector.store import retention

log = logging.getLogger("foundry_monitor.scheduler")

#: pg_advisory_lock key: "foundry-monitor collector" folded into a bigint.
ADVISORY_KEY = 0x464D_4F4E_434F_4C4C


class SingleCollectorLock:
    """Postgres advisory lock held on a dedicated connection (no-op on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Any = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is None:
            self._conn = self.engine.connect()
        got = bool(
            self._conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar()
        )
        self._conn.commit()
        return got

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None


def build_scheduler(
    settings: Settings,
    collector: Collector,
    *,
    scheduler: BackgroundScheduler | None = None,
    extra_jobs: Callable[[BackgroundScheduler], object] | None = None,
    start_now: bool = True,
) -> BackgroundScheduler:
    """A scheduler with the collection and prune jobs (not started)."""
    scheduler = scheduler or BackgroundScheduler(timezone=UTC)
    first = datetime.now(UTC) + timedelta(seconds=1) if start_now else None
    jobs: list[tuple[str, Callable[[], Any], int]] = [
        ("inventory", collector.collect_inventory, settings.inventory_interval_s),
        ("metrics", collector.collect_metrics, settings.metrics_interval_s),
        ("logs", collector.collect_logs, settings.logs_interval_s),
        ("costs", collector.collect_costs, settings.costs_interval_s),
        ("spend", collector.refresh_spend, settings.spend_interval_s),
    ]
    evaluate = alert_evaluation(settings, collector.engine)
    for name, func, seconds in jobs:
        scheduler.add_job(
            func if evaluate is None else _then(func, evaluate),
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=name,
            name=f"collect {name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=seconds,
            next_run_time=first,
        )
    prune_trigger = cron_trigger(settings.prune_cron)  # validated by Settings
    scheduler.add_job(
        lambda: retention.prune(
            collector.engine, settings.retention_days, settings.rollup_retention_days
        ),
        prune_trigger,
        id="prune",
        name="prune",
        max_instances=1,
        coalesce=True,
    )
    if evaluate is not None:
        add_alert_job(scheduler, settings, evaluate)
    if extra_jobs is not None:
        extra_jobs(scheduler)
    return scheduler


ALERT_JOB = "alerts"


class AlertEvaluation:
    """The alert evaluation of this process, one at a time: a call while one runs returns at
    once (the running one, or the next, reads the new data). Called at the end of each
    collection job, in its thread, and by its own interval job."""

    def __init__(self, engine: Engine, alerts: AlertSettings) -> None:
        self.engine = engine
        self.alerts = alerts
        self._running = threading.Lock()

    def __call__(self) -> None:
        if not self._running.acquire(blocking=False):
            return
        try:
            scheduled_evaluation(self.engine, self.alerts)
        finally:
            self._running.release()


def alert_evaluation(settings: Settings, engine: Engine) -> AlertEvaluation | None:
    """The evaluation for ``run`` (None without rules); a rule notifying a target without its
    settings fails here, at start-up."""
    alerts = settings.alerts
    alerts.check_targets()
    return AlertEvaluation(engine, alerts) if alerts.rules else None


def _then(collect: Callable[[], Any], evaluate: AlertEvaluation) -> Callable[[], Any]:
    """A collection job that evaluates the alerts when it ends (even when it failed). Not a
    scheduler listener re-timing a job: a listener runs in the finishing job's thread, and any
    scheduler call from there waits for the lock ``shutdown(wait=True)`` holds while it waits
    for that very job, a deadlock at every stop."""

    def job() -> Any:
        try:
            return collect()
        finally:
            evaluate()

    job.__name__ = getattr(collect, "__name__", "collect")
    return job


def add_alert_job(
    scheduler: BackgroundScheduler, settings: Settings, evaluate: AlertEvaluation
) -> None:
    """The evaluation every metrics interval besides, so stale-collector rules fire when
    collections stop (``max_instances=1``, ``coalesce``)."""
    scheduler.add_job(
        evaluate,
        IntervalTrigger(seconds=settings.metrics_interval_s, timezone=UTC),
        id=ALERT_JOB,
        name="evaluate alerts",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=settings.metrics_interval_s,
        replace_existing=True,
    )


def run_forever(
    settings: Settings,
    collector: Collector,
    stop: threading.Event,
    standby_poll_s: float = 15.0,
    extra_jobs: Callable[[BackgroundScheduler], object] | None = None,
) -> None:
    """Run until ``stop`` is set, as the single active collector of the store."""
    lock = SingleCollectorLock(collector.engine)
    waiting_logged = False
    while not lock.try_acquire():
        if not waiting_logged:
            log.info("another collector holds the lock: standing by")
            waiting_logged = True
        if stop.wait(standby_poll_s):
            return
    scheduler = build_scheduler(settings, collector, extra_jobs=extra_jobs)
    scheduler.start()
    log.info("collector running: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        lock.release()
