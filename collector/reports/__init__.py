"""Scheduled cost reports: HTML with charts and CSV, delivered to a folder, email, Teams or Slack.

Modules, one job each: :mod:`~collector.reports.period` (which days a report covers),
:mod:`~collector.reports.config` (the report settings, validated), :mod:`~collector.reports.build`
(the report model, read through :mod:`collector.store.queries`), :mod:`~collector.reports.charts`
(inline SVG), :mod:`~collector.reports.render` (HTML and CSV), :mod:`~collector.reports.deliver`
(files, SMTP, webhooks, retries) and :mod:`~collector.reports.run` (end to end, ``report_run``,
the scheduler's jobs).
"""

from collector.reports.build import Report, build_report
from collector.reports.config import ReportConfig
from collector.reports.period import Period, period_before
from collector.reports.run import ReportRun, add_report_jobs, run_report, scheduled_report

__all__ = [
    "Period",
    "Report",
    "ReportConfig",
    "ReportRun",
    "add_report_jobs",
    "build_report",
    "period_before",
    "run_report",
    "scheduled_report",
]
