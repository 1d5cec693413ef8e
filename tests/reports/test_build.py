"""The report model over the seeded store, on SQLite and Postgres: its figures are ``summary``'s
and the spend reads', and a past period's report is the same when made again."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.reports import build_report, period_before, run_report
from collector.reports.config import ReportConfig
from collector.reports.deliver import write_files
from collector.reports.period import Period
from collector.reports.render import CSV_COLUMNS, render_csv, render_html
from collector.store import queries
from tests.reports.conftest import Seeded

PERIODS = [
    period_before("day", date(2026, 11, 2)),
    period_before("day", date(2026, 11, 3)),
    period_before("week", date(2026, 11, 2)),
    period_before("week", date(2026, 11, 9)),
    period_before("month", date(2026, 11, 1)),
    period_before("month", date(2026, 12, 1)),
]


def _sum(values: list[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: p.slug)
def test_report_totals_equal_summary_for_the_same_period(
    seeded: Seeded, config: ReportConfig, period: Period
) -> None:
    report = build_report(seeded.engine, period, config)
    rows = queries.summary(seeded.engine, period.since, period.until)
    assert [(x.resource, x.deployment) for x in report.lines] == [
        (r.resource, r.deployment) for r in rows
    ]
    for line, row in zip(report.lines, rows, strict=True):
        for name in (
            "requests", "status_2xx", "status_429", "status_4xx_other", "status_5xx",
            "rate_429", "error_rate", "p95_ms", "input_tokens", "output_tokens",
            "spend_estimated", "spend_billed", "spend_variance",
        ):  # fmt: skip
            assert getattr(line, name) == getattr(row, name), (line.deployment, name)
    t = report.totals
    assert t.requests == sum(r.requests for r in rows)
    assert t.status_429 == sum(r.status_429 for r in rows)
    assert t.status_5xx == sum(r.status_5xx for r in rows)
    assert t.input_tokens == sum(r.input_tokens for r in rows)
    assert t.output_tokens == sum(r.output_tokens for r in rows)
    assert t.spend_estimated == _sum([r.spend_estimated for r in rows])
    assert t.spend_billed == _sum([r.spend_billed for r in rows])
    assert t.spend_variance == _sum([r.spend_variance for r in rows])
    # The CSV carries the same figures, to the micro-dollar.
    parsed = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert sum(int(r["requests"]) for r in parsed) == t.requests
    assert (
        _sum([Decimal(r["spend_estimated_usd"]) for r in parsed if r["spend_estimated_usd"]])
        == t.spend_estimated
    )


def test_the_seeded_week_has_the_seed_s_ground_truth(seeded: Seeded, config: ReportConfig) -> None:
    period = period_before("week", date(2026, 11, 9))  # 2026-11-02..08: the seed's last two hours
    report = build_report(seeded.engine, period, config)
    truth = seeded.seed.expected(period.since, period.until)
    for line in report.lines:
        expected = truth[line.deployment_id]
        assert line.requests == expected.requests
        assert line.p95_ms == expected.percentile_ms(0.95)


def test_a_past_period_is_reproducible_byte_for_byte(
    seeded: Seeded, config: ReportConfig, tmp_path: Path
) -> None:
    period = period_before("week", date(2026, 11, 2))
    first = write_files(
        build_report(seeded.engine, period, config), tmp_path / "a", ["html", "csv"]
    )
    second = run_report(
        seeded.engine, config, period, out_dir=tmp_path / "b", clock=lambda: datetime.now(UTC)
    ).files
    assert first.csv is not None and second.csv is not None
    assert first.html is not None and second.html is not None
    assert first.csv.read_bytes() == second.csv.read_bytes()
    assert first.html.read_bytes() == second.html.read_bytes()
    assert first.csv.name == "claude-cost-week-2026-10-26.csv"


def test_spend_status_drift_days_and_movers_come_from_the_spend_reads(
    seeded: Seeded, config: ReportConfig
) -> None:
    period = period_before("week", date(2026, 11, 2))  # 2026-10-26..11-01
    report = build_report(seeded.engine, period, config)
    flagged = [
        (d.day, d.resource)
        for d in queries.spend_resource_days(seeded.engine, period.since, period.until)
        if d.drift_flagged
    ]
    assert [(d.day, d.resource) for d in report.drift_days] == flagged
    assert flagged == [
        (date(2026, 10, 28), "contoso-eastus2"),
        (date(2026, 10, 28), "contoso-swedencentral"),
    ]
    by_name = {x.deployment: x for x in report.lines}
    assert by_name["claude-opus-4-5"].spend_status == "final"
    assert by_name["claude-opus-4-1"].spend_status is None  # no spend rows: unknown, not 0
    # Movers: spend (billed, else estimated) per deployment against the week before.
    before = queries.spend_days(seeded.engine, *_window(period.previous()))
    now = queries.spend_days(seeded.engine, period.since, period.until)

    def spent(days: list[queries.SpendDay], name: str) -> Decimal:
        return sum(
            (d.billed_allocated if d.billed_allocated is not None else d.estimated or Decimal(0))
            for d in days
            if d.deployment == name
        ) or Decimal(0)

    assert report.movers, "the seeded weeks differ"
    for mover in report.movers:
        assert mover.current == spent(now, mover.deployment)
        assert mover.previous == spent(before, mover.deployment)
    changes = [abs(m.change) for m in report.movers]
    assert changes == sorted(changes, reverse=True)
    # A daily series per deployment with spend, one point per day of the period.
    assert [len(s.days) for s in report.daily] == [7, 7, 7]


def test_month_outlook_and_budgets_are_as_of_the_period_s_last_day(
    seeded: Seeded, config: ReportConfig
) -> None:
    week = period_before("week", date(2026, 11, 2))
    report = build_report(seeded.engine, week, config)
    noon = datetime(2026, 11, 1, 12, tzinfo=UTC)
    month = queries.spend_month(seeded.engine, noon)
    assert report.month.forecast_total == month.forecast_total
    assert not report.month.complete
    states = [b.state for b in queries.budgets(seeded.engine, noon, list(config.budgets))]
    assert [b.state for b in report.budgets] == states == ["ok", "warning", "over"]
    by_name = {x.deployment: x for x in report.lines}
    assert by_name["support-bot"].budget_state == "ok"
    assert by_name["claude-opus-4-5"].budget_state == "warning"
    # A complete month: the "forecast" is what the month spent.
    october = build_report(seeded.engine, period_before("month", date(2026, 11, 1)), config)
    assert october.month.complete
    assert october.month.forecast_total == october.month.spent
    assert "the month is complete" in render_html(october)


def test_csv_has_the_documented_columns(seeded: Seeded, config: ReportConfig) -> None:
    report = build_report(seeded.engine, period_before("day", date(2026, 11, 2)), config)
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + len(report.lines)
    assert {r[0] for r in rows[1:]} == {"day"}


def _window(period: Period) -> tuple[datetime, datetime]:
    return period.since, period.until
