"""The scheduled reports: cron triggers fire at their time (checked with APScheduler's own
``get_next_fire_time`` against a fixed clock), and the job run at that time makes the previous
period's report; a failing job is logged and recorded, never raised."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from collector.config import Settings, load_settings
from collector.errors import ConfigError
from collector.reports import add_report_jobs, scheduled_report
from collector.reports.config import ReportConfig
from collector.store.engine import make_engine
from collector.store.schema import TABLES
from tests.reports.conftest import Seeded, report_config
from tests.reports.history import BUDGETS


def _settings(tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "budgets": BUDGETS,
        "report_retry_backoff_s": 1.0,
    }
    return load_settings(**{**values, **extra})


def test_default_schedule_is_weekly_monday_and_monthly_first_at_seven_utc(tmp_path: Path) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    assert add_report_jobs(scheduler, _settings(tmp_path), engine) == [
        "report-week",
        "report-month",
    ]
    now = datetime(2026, 10, 28, 9, 30, tzinfo=UTC)  # a Wednesday
    week = scheduler.get_job("report-week").trigger
    month = scheduler.get_job("report-month").trigger
    assert week.get_next_fire_time(None, now) == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert month.get_next_fire_time(None, now) == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    fired = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert week.get_next_fire_time(fired, fired) == datetime(2026, 11, 9, 7, 0, tzinfo=UTC)
    job = scheduler.get_job("report-week")
    assert (job.max_instances, job.coalesce) == (1, True)
    engine.dispose()


def test_a_bad_cron_or_a_target_without_settings_fails_at_start_up(tmp_path: Path) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    with pytest.raises(ConfigError, match=r"^FOUNDRY_MONITOR_REPORT_WEEK_CRON='0 7 \* \* funday'"):
        add_report_jobs(scheduler, _settings(tmp_path, report_week_cron="0 7 * * funday"), engine)
    with pytest.raises(ConfigError, match=r"^email delivery needs FOUNDRY_MONITOR_SMTP_HOST"):
        add_report_jobs(scheduler, _settings(tmp_path, report_deliver="folder,email"), engine)
    assert (
        add_report_jobs(
            scheduler, _settings(tmp_path, report_week_cron="", report_month_cron=""), engine
        )
        == []
    )
    engine.dispose()


def test_the_weekly_job_at_its_fire_time_reports_the_week_before(
    seeded: Seeded, tmp_path: Path
) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    fire = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    settings = _settings(tmp_path, report_dir=tmp_path / "out")
    add_report_jobs(scheduler, settings, seeded.engine, clock=lambda: fire)
    job = scheduler.get_job("report-week")
    assert job.trigger.get_next_fire_time(None, datetime(2026, 11, 1, 23, tzinfo=UTC)) == fire
    made = job.func(*job.args, **job.kwargs)  # what the scheduler's executor runs at ``fire``
    assert made is not None and made.ok
    assert (made.report.period.start, made.report.period.last_day) == (
        date(2026, 10, 26),
        date(2026, 11, 1),
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "claude-cost-week-2026-10-26.csv",
        "claude-cost-week-2026-10-26.html",
    ]
    t = TABLES["report_run"]
    with seeded.engine.connect() as conn:
        row = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).mappings().one()
    assert (row["period"], row["period_start"], row["status"], row["created_at"]) == (
        "week",
        date(2026, 10, 26),
        "ok",
        fire,
    )


def test_the_monthly_job_on_the_first_reports_the_month_before(
    seeded: Seeded, tmp_path: Path
) -> None:
    config = report_config(tmp_path / "out")
    made = scheduled_report(
        seeded.engine, config, "month", clock=lambda: datetime(2026, 11, 1, 7, tzinfo=UTC)
    )
    assert made is not None
    assert made.report.period.label == "month 2026-10"
    assert made.report.month.complete


def test_a_failing_job_is_logged_and_recorded_never_raised(
    seeded: Seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    config = report_config(blocked / "reports")
    caplog.set_level(logging.INFO)
    clock = datetime(2026, 11, 3, 7, tzinfo=UTC)
    assert scheduled_report(seeded.engine, config, "day", clock=lambda: clock) is None
    assert "report period=day failed: NotADirectoryError" in caplog.text
    t = TABLES["report_run"]
    with seeded.engine.connect() as conn:
        row = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).mappings().one()
    assert (row["destination"], row["status"], row["period_start"]) == (
        "build",
        "failed",
        date(2026, 11, 2),
    )
    assert row["error"].startswith("NotADirectoryError")


def test_a_job_whose_store_is_gone_only_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'store.db'}")
    config: ReportConfig = report_config(tmp_path / "out")
    clock = datetime(2026, 11, 2, 7, tzinfo=UTC)
    assert scheduled_report(engine, config, "week", clock=lambda: clock) is None
    assert "report period=week failed: OperationalError" in caplog.text
    assert "report period=week not recorded: OperationalError" in caplog.text
    engine.dispose()
