"""Make a report end to end (build, write, deliver, record in ``report_run``) and schedule it.

:func:`run_report` is what ``foundry-monitor report`` calls; :func:`scheduled_report` is the job
that :func:`add_report_jobs` puts on the collector's scheduler, one ``CronTrigger`` per configured
period. The job catches everything: a failing report is logged (one line, no secrets) and
recorded, and never stops or delays collection (it runs in the scheduler's thread pool, with
bounded retries and timeouts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from collector.config import Settings, cron_trigger
from collector.reports.build import Report, build_report
from collector.reports.config import ReportConfig
from collector.reports.deliver import (
    FAILED,
    OK,
    DeliveryResult,
    ReportFiles,
    Sleep,
    deliver,
    redact,
    write_files,
)
from collector.reports.period import PERIODS, Period, period_before
from collector.store.schema import TABLES
from collector.text import visible
from collector.windows import Clock, utc_now

log = logging.getLogger("foundry_monitor.reports")

#: A scheduled report that missed its time (process down) still runs within this many seconds.
MISFIRE_GRACE_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class ReportRun:
    """A made report: its files and how each delivery went."""

    report: Report
    files: ReportFiles
    results: tuple[DeliveryResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status == OK for r in self.results)


def record(
    engine: Engine,
    period: Period,
    formats: Sequence[str],
    results: Sequence[DeliveryResult],
    path: Path | None,
    created_at: datetime,
) -> None:
    """One ``report_run`` row per target (the run log; an id-keyed table like ``collection_run``,
    so plain inserts rather than an upsert on a natural key)."""
    with engine.begin() as conn:
        conn.execute(
            TABLES["report_run"].insert(),
            [
                {
                    "period": period.kind,
                    "period_start": period.start,
                    "period_end": period.last_day,
                    "created_at": created_at,
                    "formats": ",".join(formats),
                    "destination": r.target,
                    "status": r.status,
                    "attempts": r.attempts,
                    "path": str(path) if path is not None else None,
                    "error": r.error,
                }
                for r in results
            ],
        )


def run_report(
    engine: Engine,
    config: ReportConfig,
    period: Period,
    *,
    formats: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    out_dir: Path | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = utc_now,
) -> ReportRun:
    """Build ``period``'s report, write its files, deliver it and record every target's outcome.

    Store and configuration errors raise (before anything is delivered); delivery failures do
    not: they are in the result and in ``report_run``.
    """
    formats = tuple(formats or config.formats)
    targets = tuple(targets or config.deliver)
    config.check_targets(targets)
    report = build_report(engine, period, config)
    files = write_files(report, out_dir or config.out_dir, formats)
    results = tuple(deliver(report, files, targets, config, sleep=sleep))
    record(engine, period, formats, results, files.main, clock())
    log.info(
        "report period=%s files=%s %s",
        period.label.replace(" ", "_"),
        ",".join(p.name for p in files.paths),
        " ".join(
            f"{r.target}={r.status}"
            + (f"({r.attempts} attempts: {visible(r.error)})" if r.error else "")
            for r in results
        ),
    )
    return ReportRun(report, files, results)


def scheduled_report(
    engine: Engine,
    config: ReportConfig,
    kind: str,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
) -> ReportRun | None:
    """The scheduler's job: the last complete ``kind`` period before ``clock()``'s day.

    Never raises: a failure is logged and recorded (destination ``build``) and None returned.
    """
    period: Period | None = None
    try:
        period = period_before(kind, clock().date())
        return run_report(engine, config, period, sleep=sleep, clock=clock)
    except Exception as exc:  # the job must never take the scheduler down
        secrets = [
            s.get_secret_value() if s is not None else None
            for s in (config.smtp_password, config.teams_webhook_url, config.slack_webhook_url)
        ]
        error = redact(f"{type(exc).__name__}: {exc}", secrets)
        log.error("report period=%s failed: %s", kind, error)
        if period is not None:
            try:
                record(
                    engine,
                    period,
                    config.formats,
                    [DeliveryResult("build", FAILED, 1, error)],
                    None,
                    clock(),
                )
            except Exception as again:  # the store itself is down: the log line is all we have
                log.error("report period=%s not recorded: %s", kind, type(again).__name__)
        return None


def add_report_jobs(
    scheduler: BaseScheduler,
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
) -> list[str]:
    """Add a cron job per period whose ``report_<period>_cron`` setting is set (UTC); returns
    the job ids (``report-week``, ...). Settings validated the crons when they were loaded (a bad
    one is a ConfigError at start-up, not at 07:00 on a Monday); a chosen delivery target that
    lacks its settings raises ConfigError here."""
    config = ReportConfig.from_settings(settings)
    config.check_targets(config.deliver)
    added = []
    for kind in PERIODS:
        expression = config.crons.get(kind, "")
        if not expression:
            continue
        trigger = cron_trigger(expression)  # validated by Settings
        job_id = f"report-{kind}"
        scheduler.add_job(
            scheduled_report,
            trigger,
            args=(engine, config, kind),
            kwargs={"clock": clock, "sleep": sleep},
            id=job_id,
            name=f"{kind} cost report",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_S,
            replace_existing=True,
        )
        added.append(job_id)
    return added
