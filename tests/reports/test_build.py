"""The report model over the seeded store, on SQLite and Postgres: its figures are ``summary``'s
and the spend reads', and a past period's report is the same when made again."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.reports import build_report, period_before, run_report
from collector.reports.config import ReportConfig
from collector.reports.deliver import write_files
from collector.reports.period import Period
from collector.reports.render import CSV_COLUMNS, render_csv, render_html
from collector.spend import month as months
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
            "spend_estimated", "spend_billed", "spend_variance", "cache_read_tokens",
            "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_hit_rate", "cache_savings",
            "ttft_avg_ms", "claude",
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
    assert t.cache_read_tokens == sum(r.cache_read_tokens for r in rows)
    assert t.cache_write_5m_tokens == sum(r.cache_write_5m_tokens for r in rows)
    assert t.cache_write_1h_tokens == sum(r.cache_write_1h_tokens for r in rows)
    assert t.cache_savings == _sum([r.cache_savings for r in rows])
    claude_input = sum(r.input_tokens for r in rows if r.claude)
    assert t.cache_hit_rate == queries.cache_hit_rate(
        claude_input, t.cache_read_tokens, t.cache_write_5m_tokens, t.cache_write_1h_tokens
    )
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
    month = months.spend_month(seeded.engine, noon)
    assert report.month.forecast_total == month.forecast_total
    assert not report.month.complete
    states = [b.state for b in months.budgets(seeded.engine, noon, list(config.budgets))]
    assert [b.state for b in report.budgets] == states == ["ok", "warning", "over"]
    by_name = {x.deployment: x for x in report.lines}
    assert by_name["support-bot"].budget_state == "ok"
    assert by_name["claude-opus-4-5"].budget_state == "warning"
    # A complete month: the "forecast" is what the month spent.
    october = build_report(seeded.engine, period_before("month", date(2026, 11, 1)), config)
    assert october.month.complete
    assert october.month.forecast_total == october.month.spent
    assert "the month is complete" in render_html(october)


#: The CSV's columns before the prompt cache and TTFT were added: consumers read them by position.
FIRST_COLUMNS = (
    "period", "period_start", "period_end", "resource", "deployment", "model", "requests",
    "status_2xx", "status_429", "status_4xx_other", "status_5xx", "rate_429", "error_rate",
    "p95_ms", "input_tokens", "output_tokens", "spend_estimated_usd", "spend_billed_usd",
    "spend_variance_usd", "spend_status", "forecast_month_end_usd", "budget_state",
)  # fmt: skip
CACHE_COLUMNS = (
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_hit_rate",
    "cache_savings_usd", "ttft_avg_ms",
)  # fmt: skip


def test_csv_has_the_documented_columns(seeded: Seeded, config: ReportConfig) -> None:
    report = build_report(seeded.engine, period_before("day", date(2026, 11, 2)), config)
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS == FIRST_COLUMNS + CACHE_COLUMNS
    assert len(rows) == 1 + len(report.lines)
    assert {r[0] for r in rows[1:]} == {"day"}


@pytest.mark.parametrize(
    "period",
    [period_before("day", date(2026, 11, 2)), period_before("week", date(2026, 11, 9))],
    ids=lambda p: p.slug,
)
def test_csv_and_html_carry_the_cache_and_ttft_of_each_deployment(
    seeded: Seeded, config: ReportConfig, period: Period
) -> None:
    report = build_report(seeded.engine, period, config)
    rows = queries.summary(seeded.engine, period.since, period.until)
    parsed = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["deployment"] for r in parsed] == [s.deployment for s in rows]
    for got, want in zip(parsed, rows, strict=True):
        assert int(got["cache_read_tokens"]) == want.cache_read_tokens
        assert int(got["cache_write_5m_tokens"]) == want.cache_write_5m_tokens
        assert int(got["cache_write_1h_tokens"]) == want.cache_write_1h_tokens
        if want.cache_hit_rate is None:
            assert got["cache_hit_rate"] == ""
        else:
            assert float(got["cache_hit_rate"]) == pytest.approx(want.cache_hit_rate, abs=1e-6)
        if want.cache_savings is None:
            assert got["cache_savings_usd"] == ""
        else:
            assert Decimal(got["cache_savings_usd"]) == want.cache_savings
        if want.ttft_avg_ms is None:
            assert got["ttft_avg_ms"] == ""
        else:
            assert float(got["ttft_avg_ms"]) == pytest.approx(want.ttft_avg_ms, abs=1e-3)
    support = next(r for r in rows if r.deployment == "support-bot")
    assert support.cache_read_tokens and support.cache_savings and support.ttft_avg_ms
    other = next(r for r in rows if not r.claude)
    assert other.deployment == "gpt-4o-mini" and other.cache_hit_rate is None
    html = render_html(report)
    for header in ("cache reads", "cache writes 5 min", "cache writes 1 h", "cache hit rate"):
        assert f">{header}</th>" in html
    assert ">TTFT avg (ms)</th>" in html
    assert f"<td>{support.cache_read_tokens:,}</td>" in html
    assert f"<td>{support.ttft_avg_ms:,.0f}</td>" in html
    assert '<td class="l">gpt-4o-mini (not Claude)</td>' in html
    assert '<td class="l">claude-sonnet-4-5</td>' in html
    # no daily chart for the other publisher: it has no estimate and no share of the bill
    assert [s.deployment for s in report.daily if s.deployment == other.deployment] == []


def _window(period: Period) -> tuple[datetime, datetime]:
    return period.since, period.until


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_names_are_never_spreadsheet_formulas(
    seeded: Seeded, config: ReportConfig, name: str
) -> None:
    report = build_report(seeded.engine, period_before("day", date(2026, 11, 2)), config)
    hostile = replace(report.lines[0], deployment=name, resource=name, model=name)
    report = replace(report, lines=(hostile, *report.lines[1:]))
    parsed = list(csv.DictReader(io.StringIO(render_csv(report))))
    first = parsed[0]
    assert first["deployment"] == first["resource"] == first["model"] == "'" + name
    assert all(not v.startswith(("=", "+", "@")) for row in parsed for v in row.values())
