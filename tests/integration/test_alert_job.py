"""The evaluation in ``run``: each collection job ends with one, besides its own interval job,
and stopping the scheduler while jobs finish never hangs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from collector.config import Settings
from collector.scheduler import ALERT_JOB, build_scheduler
from collector.store import migrate, queries
from collector.store.engine import make_engine
from tests.runs import record_run

RULES = [{"name": "stale", "signal": "stale_source", "op": ">", "threshold": 60, "scope": "source"}]


class FakeCollector:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> object:
        return lambda: None  # collect_metrics, collect_logs, ...: nothing to collect


def _store(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    record_run(engine, "s", now - timedelta(minutes=5), "ok", took=timedelta(0), window=None)
    return url, engine


def test_a_collection_job_ends_with_an_evaluation(tmp_path: Path) -> None:
    url, engine = _store(tmp_path)
    settings = Settings(
        data_dir=tmp_path, database_url=url, metrics_interval_s=3600, alert_rules=RULES
    )
    scheduler = BackgroundScheduler(timezone=UTC)
    build_scheduler(settings, FakeCollector(engine), scheduler=scheduler, start_now=False)  # type: ignore[arg-type]
    alerts_job = scheduler.get_job(ALERT_JOB)
    assert alerts_job is not None and alerts_job.max_instances == 1 and alerts_job.coalesce
    collected = threading.Event()

    def seen(event: JobExecutionEvent) -> None:
        if event.job_id == "metrics":
            collected.set()

    scheduler.add_listener(seen, EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        assert queries.alert_states(engine) == []
        scheduler.modify_job("metrics", next_run_time=datetime.now(UTC))
        assert collected.wait(timeout=60)
        # the job's evaluation ran before the job ended
        assert [(s.rule, s.scope) for s in queries.alert_states(engine)] == [("stale", "metrics:s")]
    finally:
        scheduler.shutdown(wait=True)
        engine.dispose()


class BlockingCollector(FakeCollector):
    """Its metrics job runs until the test lets it finish."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.running = threading.Event()
        self.release = threading.Event()

    def collect_metrics(self) -> None:
        self.running.set()
        assert self.release.wait(timeout=60)


def test_stopping_while_a_collection_job_finishes_does_not_hang(tmp_path: Path) -> None:
    """``shutdown(wait=True)`` holds the scheduler's locks while it waits for running jobs: the
    evaluation that ends a job must not call the scheduler (it did once, through a listener
    re-timing the evaluation job, and every stop hung)."""
    url, engine = _store(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=url, alert_rules=RULES)
    collector = BlockingCollector(engine)
    scheduler = build_scheduler(settings, collector, start_now=True)  # type: ignore[arg-type]
    scheduler.start()
    assert collector.running.wait(timeout=60)
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True})
    stopper.start()
    lock = scheduler._jobstores_lock  # the lock shutdown holds while it waits for the job
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    while lock.acquire(blocking=False):  # free: shutdown has not taken it yet
        lock.release()
        assert datetime.now(UTC) < deadline
        stopper.join(timeout=0.01)
    collector.release.set()
    stopper.join(timeout=60)
    assert not stopper.is_alive(), "shutdown(wait=True) hung"
    engine.dispose()


def test_no_rules_no_evaluation(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    settings = Settings(data_dir=tmp_path, alert_rules=[])
    scheduler = build_scheduler(settings, FakeCollector(engine), start_now=False)  # type: ignore[arg-type]
    assert scheduler.get_job(ALERT_JOB) is None
    assert scheduler.get_job("metrics").func.__name__ == "<lambda>"
    engine.dispose()
