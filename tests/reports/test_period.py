"""Pure parts of reports: periods, option parsing, redaction, retries (no database, no network)."""

from __future__ import annotations

from datetime import date

import pytest

from collector.config import check_webhook_url
from collector.errors import ConfigError
from collector.reports.config import parse_choices
from collector.reports.deliver import DeliveryError, redact, with_retries
from collector.reports.period import Period, parse_end, period_before


@pytest.mark.parametrize(
    ("kind", "end", "start", "last"),
    [
        ("day", date(2026, 11, 2), date(2026, 11, 1), date(2026, 11, 1)),
        ("week", date(2026, 11, 2), date(2026, 10, 26), date(2026, 11, 1)),  # a Monday
        ("week", date(2026, 11, 4), date(2026, 10, 26), date(2026, 11, 1)),  # mid-week
        ("month", date(2026, 11, 1), date(2026, 10, 1), date(2026, 10, 31)),
        ("month", date(2026, 3, 15), date(2026, 2, 1), date(2026, 2, 28)),
        ("month", date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_a_report_covers_the_last_complete_period_before_end(
    kind: str, end: date, start: date, last: date
) -> None:
    period = period_before(kind, end)
    assert (period.start, period.last_day) == (start, last)
    assert period.previous().end == period.start


def test_period_labels_and_file_names() -> None:
    assert Period("week", date(2026, 10, 26), date(2026, 11, 2)).label == (
        "week 2026-10-26 to 2026-11-01"
    )
    assert period_before("month", date(2026, 11, 1)).slug == "month-2026-10"
    assert period_before("day", date(2026, 11, 2)).slug == "day-2026-11-01"


def test_end_must_be_an_iso_date_not_in_the_future() -> None:
    today = date(2026, 11, 28)
    assert parse_end(None, today) == today
    assert parse_end(" 2026-11-02 ", today) == date(2026, 11, 2)
    with pytest.raises(ConfigError, match="is not a date"):
        parse_end("02/11/2026", today)
    with pytest.raises(ConfigError, match="is in the future"):
        parse_end("2026-11-29", today)


def test_choices_are_known_deduplicated_and_ordered() -> None:
    assert parse_choices("csv, html,csv", ("html", "csv"), "--format") == ("csv", "html")
    assert parse_choices(["HTML"], ("html", "csv"), "--format") == ("html",)


def test_webhook_urls_must_be_https_except_on_loopback() -> None:
    assert check_webhook_url("https://hooks.slack.com/services/T/B/X", "S")
    assert check_webhook_url("http://127.0.0.1:8080/hook", "S")
    with pytest.raises(ConfigError) as error:
        check_webhook_url(
            "http://hooks.example.com/secret-token", "FOUNDRY_MONITOR_SLACK_WEBHOOK_URL"
        )
    assert "secret-token" not in str(error.value)


def test_redact_removes_secrets_and_their_url_paths() -> None:
    url = "https://hooks.slack.com/services/T0/B0/abc123"
    text = f"failed for {url} and /services/T0/B0/abc123 with pw hunter2\n  again"
    assert redact(text, [url, "hunter2", None]) == (
        "failed for [redacted] and /[redacted] with pw [redacted] again"
    )


def test_retries_stop_at_the_first_success_or_fatal_error() -> None:
    sleeps: list[float] = []
    outcomes = [DeliveryError("busy", retriable=True, retry_after=30), None]

    def flaky() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    assert with_retries(flaky, 5, 2.0, sleeps.append) == (2, None)
    assert sleeps == [30]
    fatal = DeliveryError("gone", retriable=False)

    def broken() -> None:
        raise fatal

    assert with_retries(broken, 5, 2.0, sleeps.append) == (1, fatal)
    always = DeliveryError("down", retriable=True, retry_after=999)

    def down() -> None:
        raise always

    sleeps.clear()
    assert with_retries(down, 3, 2.0, sleeps.append) == (3, always)
    assert sleeps == [60.0, 60.0]  # capped
