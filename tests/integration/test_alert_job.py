"""The evaluation job of ``run``: it follows each collection (not only its own interval)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from collector.config import Settings
from collector.scheduler import ALERT_JOB, build_scheduler
from collector.store import migrate
from collector.store.engine import make_engine


class FakeCollector:
    def __init__(self, engine: object) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> object:
        return lambda: None  # collect_metrics, collect_logs, ...: nothing to collect


def test_a_finished_collection_starts_an_evaluation_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(data_dir=tmp_path, database_url=url, metrics_interval_s=3600)
    scheduler = BackgroundScheduler(timezone=UTC)
    build_scheduler(settings, FakeCollector(engine), scheduler=scheduler, start_now=False)  # type: ignore[arg-type]
    alerts_job = scheduler.get_job(ALERT_JOB)
    assert alerts_job is not None and alerts_job.max_instances == 1 and alerts_job.coalesce
    evaluated = threading.Event()

    def seen(event: JobExecutionEvent) -> None:
        if event.job_id == ALERT_JOB:
            evaluated.set()

    scheduler.add_listener(seen, EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        first = scheduler.get_job(ALERT_JOB).next_run_time
        assert first > datetime.now(UTC) + timedelta(minutes=30)  # its own interval: an hour
        scheduler.modify_job("metrics", next_run_time=datetime.now(UTC))
        assert evaluated.wait(timeout=60), "the evaluation did not follow the collection"
    finally:
        scheduler.shutdown(wait=True)
        engine.dispose()


def test_no_rules_no_evaluation_job(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    settings = Settings(data_dir=tmp_path, alert_rules=[])
    scheduler = build_scheduler(settings, FakeCollector(engine), start_now=False)  # type: ignore[arg-type]
    assert scheduler.get_job(ALERT_JOB) is None
    engine.dispose()
