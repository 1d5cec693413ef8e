"""The scheduler: jobs as configured, and one active collector per Postgres store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from collector.runner import Collector
from collector.scheduler import SingleCollectorLock, build_scheduler
from tests.integration.conftest import emulator_settings


def test_only_one_collector_holds_the_postgres_lock(pg_store: Engine) -> None:
    first, second = SingleCollectorLock(pg_store), SingleCollectorLock(pg_store)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()  # a replica stands by
        first.release()
        assert second.try_acquire()  # and takes over when the active one goes
    finally:
        first.release()
        second.release()


def test_sqlite_needs_no_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from collector.store.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    assert SingleCollectorLock(engine).try_acquire()
    engine.dispose()


def test_jobs_follow_the_settings_and_never_overlap(
    make_collector: Callable[..., Collector],
    emulator,
    db_url: str,  # type: ignore[no-untyped-def]
) -> None:
    collector = make_collector(metrics_interval_s=120, prune_cron="5 4 * * *")
    scheduler = build_scheduler(collector.settings, collector, start_now=False)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"inventory", "metrics", "logs", "costs", "spend", "prune", "alerts"}
    assert jobs["metrics"].trigger.interval.total_seconds() == 120
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    assert (
        str(jobs["prune"].trigger)
        == "cron[month='*', day='*', day_of_week='*', hour='4', minute='5']"
    )
    settings = emulator_settings(emulator, db_url)
    assert settings.logs_interval_s == 300  # the documented default
