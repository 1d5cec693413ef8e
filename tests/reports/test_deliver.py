"""Delivery against real servers on loopback: SMTP (aiosmtpd) and webhooks (``http.server``).

Retries wait through an injected ``sleep`` that only records, so nothing here sleeps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, select

from collector.reports import period_before, run_report
from collector.reports.config import ReportConfig
from collector.reports.run import ReportRun
from collector.store.schema import TABLES
from tests.ports import QuietHandler, free_port, serving
from tests.reports.conftest import Seeded, report_config

WEEK = period_before("week", date(2026, 11, 2))
SMTP_PASSWORD = "s3cret-smtp-pw"
WEBHOOK_SECRET = "T000/B000/XXXXsecretXXXX"


# Servers ----------------------------------------------------------------------------------------
@dataclass
class Webhook:
    """A loopback HTTP server answering POSTs with scripted (status, headers), then 200."""

    url: str
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    state = Webhook(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.received.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            status, headers = state.answers.pop(0) if state.answers else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with serving(Handler) as base:
        state.url = f"{base}/webhook/{WEBHOOK_SECRET}"
        yield state


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        box.logins.append((user, password))
        return AuthResult(success=password == SMTP_PASSWORD, handled=False)

    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# Helpers ----------------------------------------------------------------------------------------
def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def last_runs(engine: Engine, count: int) -> list[dict[str, Any]]:
    t = TABLES["report_run"]
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(count)).mappings().all()
    return [dict(r) for r in reversed(rows)]


def make(seeded: Seeded, config: ReportConfig, targets: list[str], sleeps: Sleeps) -> ReportRun:
    return run_report(seeded.engine, config, WEEK, targets=targets, sleep=sleeps)


def email_config(tmp_path: Path, port: int, **extra: object) -> ReportConfig:
    return report_config(
        tmp_path / "reports",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="finops-bot@example.com",
        smtp_to="lead@example.com, finops@example.com",
        smtp_starttls=False,
        report_retry_backoff_s=2.0,
        **extra,
    )


# SMTP -------------------------------------------------------------------------------------------
def test_email_has_the_html_report_as_body_and_the_csv_attached(
    seeded: Seeded, smtp_server: Mailbox, tmp_path: Path
) -> None:
    config = email_config(tmp_path, smtp_server.port)
    made = make(seeded, config, ["folder", "email"], Sleeps())
    assert [(r.target, r.status, r.attempts) for r in made.results] == [
        ("folder", "ok", 1),
        ("email", "ok", 1),
    ]
    [(sender, recipients, message)] = smtp_server.messages
    assert sender == "finops-bot@example.com"
    assert recipients == ["lead@example.com", "finops@example.com"]
    assert message["Subject"] == "Claude cost report: week 2026-10-26 to 2026-11-01 (UTC)"
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    assert made.files.html is not None and made.files.csv is not None
    assert lf(body.get_content()) == made.files.html.read_text()  # SMTP sends CRLF line ends
    assert "<svg" in body.get_content()
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "Spend:" in plain.get_content()
    attachments = {a.get_filename(): a for a in message.iter_attachments()}
    assert set(attachments) == {made.files.csv.name, made.files.html.name}
    assert lf(attachments[made.files.csv.name].get_content()) == lf(made.files.csv.read_text())
    assert smtp_server.logins == []  # no user configured: no login
    runs = last_runs(seeded.engine, 2)
    assert [(r["destination"], r["status"], r["attempts"], r["error"]) for r in runs] == [
        ("folder", "ok", 1, None),
        ("email", "ok", 1, None),
    ]
    assert {(r["period"], r["period_start"], r["period_end"]) for r in runs} == {
        ("week", date(2026, 10, 26), date(2026, 11, 1))
    }
    assert runs[0]["path"] == str(made.files.html)
    assert runs[0]["formats"] == "html,csv"


def test_smtp_logs_in_and_a_refused_login_fails_at_once_without_the_password(
    seeded: Seeded, smtp_server: Mailbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = email_config(tmp_path, smtp_server.port, smtp_user="bot", smtp_password=SMTP_PASSWORD)
    assert make(seeded, good, ["email"], Sleeps()).ok
    assert smtp_server.logins == [("bot", SMTP_PASSWORD)]
    caplog.set_level(logging.INFO)
    bad = email_config(tmp_path, smtp_server.port, smtp_user="bot", smtp_password="wrong-pw-123")
    sleeps = Sleeps()
    made = make(seeded, bad, ["email"], sleeps)
    [_, email] = made.results
    assert (email.status, email.attempts, sleeps) == ("failed", 1, [])  # fatal: not retried
    assert email.error == (
        "the SMTP server refused the login (535): check FOUNDRY_MONITOR_SMTP_USER and "
        "FOUNDRY_MONITOR_SMTP_PASSWORD"
    )
    assert "wrong-pw-123" not in caplog.text and SMTP_PASSWORD not in caplog.text
    assert last_runs(seeded.engine, 1)[0]["status"] == "failed"


def test_a_login_without_tls_beyond_loopback_is_refused_before_connecting(
    seeded: Seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    plain = report_config(
        tmp_path / "reports",
        smtp_host="mail.invalid",  # never resolved: the refusal comes first
        smtp_from="finops-bot@example.com",
        smtp_to="lead@example.com",
        smtp_starttls=False,
        smtp_user="bot",
        smtp_password=SMTP_PASSWORD,
    )
    sleeps = Sleeps()
    made = make(seeded, plain, ["email"], sleeps)
    [_, email] = made.results
    assert (email.status, email.attempts, sleeps) == ("failed", 1, [])
    assert email.error is not None
    assert email.error.startswith("refusing to log in to mail.invalid without TLS")
    assert "FOUNDRY_MONITOR_SMTP_STARTTLS=true" in email.error
    assert SMTP_PASSWORD not in caplog.text


def test_an_unreachable_smtp_server_is_retried_with_backoff_then_recorded(
    seeded: Seeded, tmp_path: Path
) -> None:
    config = email_config(tmp_path, free_port())  # nothing listens there
    sleeps = Sleeps()
    made = make(seeded, config, ["email"], sleeps)
    assert not made.ok
    [_, email] = made.results
    assert (email.status, email.attempts) == ("failed", 3)
    assert sleeps == [2.0, 4.0]
    assert email.error == "the SMTP connection failed (ConnectionRefusedError)"
    assert last_runs(seeded.engine, 1)[0]["attempts"] == 3


# Webhooks ---------------------------------------------------------------------------------------
def test_teams_gets_an_adaptive_card_with_the_summary_and_the_report_link(
    seeded: Seeded, webhook: Webhook, tmp_path: Path
) -> None:
    config = report_config(
        tmp_path / "reports",
        teams_webhook_url=webhook.url,
        report_link_base="https://reports.example.com/claude/",
    )
    made = make(seeded, config, ["teams"], Sleeps())
    assert made.ok
    [request] = webhook.received
    assert request["path"] == f"/webhook/{WEBHOOK_SECRET}"
    assert request["content_type"] == "application/json"
    payload = request["json"]
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "Claude cost report: week 2026-10-26 to 2026-11-01 (UTC)"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Spend estimated"].startswith("$")
    assert facts["Requests"] == f"{made.report.totals.requests:,}"
    assert facts["Budgets"] == "claude-opus-4-5 warning; contoso-eastus2 over"
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the report",
            "url": "https://reports.example.com/claude/claude-cost-week-2026-10-26.html",
        }
    ]


def test_slack_gets_text_and_blocks_with_the_file_path(
    seeded: Seeded, webhook: Webhook, tmp_path: Path
) -> None:
    config = report_config(tmp_path / "reports", slack_webhook_url=webhook.url)
    made = make(seeded, config, ["slack"], Sleeps())
    assert made.ok
    payload = webhook.received[0]["json"]
    assert payload["text"].startswith(
        "Claude cost report: week 2026-10-26 to 2026-11-01 (UTC): Spend:"
    )
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "context"]
    assert payload["blocks"][0]["text"]["type"] == "plain_text"
    fields = payload["blocks"][1]["fields"]
    assert 1 <= len(fields) <= 10 and all(f["type"] == "mrkdwn" for f in fields)
    assert fields[0]["text"].startswith("*Spend estimated*\n$")
    assert made.files.html is not None
    assert payload["blocks"][3]["elements"][0]["text"] == f"Report: `{made.files.html.resolve()}`"


def test_a_failing_webhook_is_retried_and_recorded_as_failed_without_raising(
    seeded: Seeded, webhook: Webhook, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    webhook.answers = [(503, {})] * 3
    config = report_config(
        tmp_path / "reports", slack_webhook_url=webhook.url, report_retry_backoff_s=1.5
    )
    sleeps = Sleeps()
    made = make(seeded, config, ["folder", "slack"], sleeps)
    assert [(r.target, r.status, r.attempts) for r in made.results] == [
        ("folder", "ok", 1),
        ("slack", "failed", 3),
    ]
    assert len(webhook.received) == 3
    assert sleeps == [1.5, 3.0]
    assert made.results[1].error == "the Slack webhook answered 503"
    run = last_runs(seeded.engine, 1)[0]
    assert (run["destination"], run["status"], run["attempts"]) == ("slack", "failed", 3)
    assert run["error"] == "the Slack webhook answered 503"
    assert WEBHOOK_SECRET not in caplog.text
    assert "slack=failed(3 attempts: the Slack webhook answered 503)" in caplog.text


def test_a_throttled_webhook_is_retried_after_its_retry_after(
    seeded: Seeded, webhook: Webhook, tmp_path: Path
) -> None:
    webhook.answers = [(429, {"Retry-After": "7"})]
    config = report_config(tmp_path / "reports", teams_webhook_url=webhook.url)
    sleeps = Sleeps()
    made = make(seeded, config, ["teams"], sleeps)
    assert made.ok and made.results[1].attempts == 2
    assert sleeps == [7.0]


def test_a_webhook_that_is_gone_is_not_retried(
    seeded: Seeded, webhook: Webhook, tmp_path: Path
) -> None:
    webhook.answers = [(404, {})]
    config = report_config(tmp_path / "reports", teams_webhook_url=webhook.url)
    sleeps = Sleeps()
    made = make(seeded, config, ["teams"], sleeps)
    assert (made.results[1].status, made.results[1].attempts, sleeps) == ("failed", 1, [])
    assert made.results[1].error == (
        "the Teams webhook answered 404: the webhook URL is wrong or the webhook was removed"
    )


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_webhook_redirect_is_not_followed(
    seeded: Seeded, webhook: Webhook, tmp_path: Path, status: int
) -> None:
    # the redirect names another path of the same server: a followed redirect would show there
    webhook.answers = [(status, {"Location": webhook.url.rsplit("/", 1)[0] + "/elsewhere"})]
    config = report_config(tmp_path / "reports", teams_webhook_url=webhook.url)
    sleeps = Sleeps()
    made = make(seeded, config, ["teams"], sleeps)
    assert (made.results[1].status, made.results[1].attempts, sleeps) == ("failed", 1, [])
    assert [r["path"] for r in webhook.received] == [f"/webhook/{WEBHOOK_SECRET}"]
    assert made.results[1].error.startswith(f"the Teams webhook answered {status} (a redirect)")


def test_one_failing_target_does_not_stop_the_others(
    seeded: Seeded, webhook: Webhook, tmp_path: Path
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/hook/{WEBHOOK_SECRET}"
    config = report_config(
        tmp_path / "reports", teams_webhook_url=unreachable, slack_webhook_url=webhook.url
    )
    made = make(seeded, config, ["teams", "slack"], Sleeps())
    assert [(r.target, r.status) for r in made.results] == [
        ("folder", "ok"),
        ("teams", "failed"),
        ("slack", "ok"),
    ]
    assert made.results[1].error == "could not connect to the Teams webhook's host"
