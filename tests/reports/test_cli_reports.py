"""``foundry-monitor report`` as a user runs it, through ``collector.cli.main()``: one-line errors
with exit code 2 for bad options (before the store is touched), files and outcomes on success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from collector.cli.reports import register
from tests.cli_run import CliRun
from tests.reports.conftest import Seeded


def _register(app: typer.Typer) -> None:
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "report" a sub-command, as in the real app
        pass


class Run(CliRun):
    """Runs ``collector.cli.main()`` (the console script) with the report command registered."""

    register = staticmethod(_register)


@pytest.fixture
def offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Run:
    """No store behind it: bad options must fail before any database is opened."""
    return Run(monkeypatch, capsys, f"sqlite:///{tmp_path / 'absent' / 'never-created.db'}")


@pytest.fixture
def online(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """On the seeded store of each database."""
    return Run(monkeypatch, capsys, seeded.url)


TOMORROW = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "year"], "--period 'year' is not a period: choose day, week or month"),
        (
            ["--end", "2026-13-01"],
            "--end '2026-13-01' is not a date: use an ISO date such as 2026-11-02",
        ),
        (
            ["--end", TOMORROW],
            f"--end {TOMORROW} is in the future (today is "
            f"{datetime.now(UTC).date().isoformat()} UTC): a report covers complete periods "
            "before --end",
        ),
        (
            ["--format", "html,pdf"],
            "--format 'pdf' is not one of html, csv (give a comma-separated list, e.g. "
            "--format html,csv)",
        ),
        (["--format", ","], "--format is empty: choose from html, csv"),
        (
            ["--deliver", "pigeon"],
            "--deliver 'pigeon' is not one of folder, email, teams, slack (give a "
            "comma-separated list, e.g. --deliver folder,email)",
        ),
        (
            ["--deliver", "email"],
            "email delivery needs FOUNDRY_MONITOR_SMTP_HOST, FOUNDRY_MONITOR_SMTP_FROM, "
            "FOUNDRY_MONITOR_SMTP_TO",
        ),
    ],
)
def test_bad_options_are_one_line_errors_with_exit_code_2(
    offline: Run, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = offline("report", *args)
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert not (tmp_path / "absent").exists()


def test_report_writes_the_files_and_prints_each_outcome(online: Run, tmp_path: Path) -> None:
    code, out, err = online(
        "report",
        "--period",
        "week",
        "--end",
        "2026-11-04",
        "--out",
        str(tmp_path),
        "--format",
        "csv",
    )
    assert (code, err) == (0, "")
    csv_path = tmp_path / "claude-cost-week-2026-10-26.csv"
    assert out.splitlines() == [
        "week 2026-10-26 to 2026-11-01 (UTC)",
        f"wrote {csv_path}",
        "folder: ok (1 attempt(s))",
    ]
    assert csv_path.read_text().startswith("period,period_start,period_end,resource,")


def test_a_failed_delivery_exits_1_after_writing_the_files(
    online: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_REPORT_RETRY_BACKOFF_S", "0")
    monkeypatch.setenv("FOUNDRY_MONITOR_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # no one
    monkeypatch.setenv("FOUNDRY_MONITOR_REPORT_RETRIES", "1")
    code, out, err = online(
        "report",
        "--period",
        "day",
        "--end",
        "2026-11-02",
        "--out",
        str(tmp_path),
        "--deliver",
        "slack",
    )
    assert (code, err) == (1, "")
    assert out.splitlines()[-1] == (
        "slack: failed (1 attempt(s)): could not connect to the Slack webhook's host"
    )
    assert (tmp_path / "claude-cost-day-2026-11-01.html").exists()
