"""Delivery of a rendered report: the folder (always), email over SMTP, Teams and Slack webhooks.

Each target is tried up to ``retries`` times with exponential back-off (honouring a webhook's
``Retry-After``), and its outcome comes back as a :class:`DeliveryResult`; nothing here raises
for a failed delivery. What is retried is decided once, in :func:`_http_error` and
:func:`_smtp_error`: timeouts, dropped connections, HTTP 429/5xx and SMTP 4xx replies are
retriable; a refused login, an unknown webhook (4xx) or a rejected recipient are not, and say what
to fix.

Secrets (the SMTP password, the webhook URLs, which carry their token in the path) never reach a
message: errors are described from their type and status, and :func:`redact` strips any secret
that an underlying library put in its text.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from collector.reports.build import Report
from collector.reports.config import ReportConfig
from collector.reports.render import render_csv, render_html, summary_lines, title, usd
from collector.text import card_text, slack_text, teams_message

OK = "ok"
FAILED = "failed"
MAX_WAIT_S = 60.0
MAX_ERROR_CHARS = 300

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The written files (None for a format not asked for)."""

    html: Path | None
    csv: Path | None

    @property
    def main(self) -> Path:
        """The file to link to: the HTML when there is one."""
        chosen = self.html or self.csv
        assert chosen is not None, "a report has at least one format"
        return chosen

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.html, self.csv) if p is not None)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How one target went: ``ok`` or ``failed``, after how many attempts, and why."""

    target: str
    status: str
    attempts: int
    error: str | None = None


class DeliveryError(Exception):
    """A failed attempt; ``retriable`` decides whether another attempt is made."""

    def __init__(self, message: str, *, retriable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after


# Files ----------------------------------------------------------------------------------------
def file_stem(report: Report) -> str:
    return f"claude-cost-{report.period.slug}"


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the folder, then rename: readers never see half a report."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(report: Report, out_dir: Path, formats: Sequence[str]) -> ReportFiles:
    """Render the asked formats into ``out_dir`` (created), replacing an earlier run's files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(report)
    html_path = out_dir / f"{stem}.html" if "html" in formats else None
    csv_path = out_dir / f"{stem}.csv" if "csv" in formats else None
    if html_path is not None:
        _write_atomic(html_path, render_html(report))
    if csv_path is not None:
        _write_atomic(csv_path, render_csv(report))
    return ReportFiles(html_path, csv_path)


def report_link(files: ReportFiles, config: ReportConfig) -> str:
    """``{report_link_base}/{file name}`` when the folder is published, else the file's path."""
    if config.link_base:
        return f"{config.link_base.rstrip('/')}/{quote(files.main.name)}"
    return str(files.main.resolve())


# Retries --------------------------------------------------------------------------------------
def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and a URL secret's path) replaced, on one line, truncated."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "[redacted]")
        path = urlsplit(secret).path if "://" in secret else ""
        if len(path) > 1:
            text = text.replace(path, "/[redacted]")
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def with_retries(
    action: Callable[[], None], attempts: int, backoff_s: float, sleep: Sleep
) -> tuple[int, DeliveryError | None]:
    """Run ``action`` until it succeeds, fails fatally or ``attempts`` are used up; waits
    ``backoff_s * 2**n`` (at least a Retry-After, at most :data:`MAX_WAIT_S`) between tries.

    Hand-written on purpose: one policy for SMTP and HTTP with an injectable ``sleep`` (tests run
    without waiting); urllib3's ``Retry`` covers HTTP only and sleeps on its own, and the project
    has no general retry library.
    """
    for attempt in range(1, attempts + 1):
        try:
            action()
            return attempt, None
        except DeliveryError as exc:
            if not exc.retriable or attempt == attempts:
                return attempt, exc
            wait = backoff_s * 2 ** (attempt - 1)
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            sleep(min(wait, MAX_WAIT_S))
    raise AssertionError("unreachable: attempts >= 1")  # pragma: no cover


# Webhooks -------------------------------------------------------------------------------------
def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _http_error(service: str, response: requests.Response) -> DeliveryError:
    code = response.status_code
    if code == 429 or code >= 500:
        return DeliveryError(
            f"the {service} webhook answered {code}",
            retriable=True,
            retry_after=_retry_after(response),
        )
    hint = {
        400: "the service refused the message",
        401: "the webhook's secret is wrong",
        403: "the webhook is not allowed to post (check the channel's or app's permissions)",
        404: "the webhook URL is wrong or the webhook was removed",
        410: "the webhook was removed: create a new one",
    }.get(code, "check the webhook URL")
    return DeliveryError(f"the {service} webhook answered {code}: {hint}", retriable=False)


def post_json(service: str, url: str, payload: dict[str, Any], timeout_s: float) -> None:
    """POST ``payload``; a 2xx is success, anything else a :class:`DeliveryError`."""
    try:
        # Never follow a redirect: a 307/308 would replay the report to whatever host it names,
        # past the URL checks made at start-up.
        response = requests.post(url, json=payload, timeout=timeout_s, allow_redirects=False)
    except requests.Timeout:
        raise DeliveryError(
            f"the {service} webhook did not answer within {timeout_s:g} s", retriable=True
        ) from None
    except requests.ConnectionError:
        raise DeliveryError(
            f"could not connect to the {service} webhook's host", retriable=True
        ) from None
    except requests.RequestException as exc:
        raise DeliveryError(
            f"posting to the {service} webhook failed: {type(exc).__name__}", retriable=False
        ) from None
    if 300 <= response.status_code < 400:
        raise DeliveryError(
            f"the {service} webhook answered {response.status_code} (a redirect): redirects are "
            "not followed, so the report is not sent elsewhere; set the webhook URL to its final "
            "address",
            retriable=False,
        )
    if not 200 <= response.status_code < 300:
        raise _http_error(service, response)


def _facts(report: Report) -> list[tuple[str, str]]:
    t, m = report.totals, report.month
    facts = [
        ("Spend estimated", usd(t.spend_estimated)),
        ("Spend billed", usd(t.spend_billed)),
        ("Variance", usd(t.spend_variance)),
        ("Requests", f"{t.requests:,}"),
        ("429 rate", "-" if t.rate_429 is None else f"{t.rate_429:.1%}"),
        ("Error rate", "-" if t.error_rate is None else f"{t.error_rate:.1%}"),
        (
            f"Month {m.month_start:%Y-%m}",
            f"{usd(m.spent)} (complete)"
            if m.complete
            else f"{usd(m.spent)} so far, forecast {usd(m.forecast_total)}",
        ),
    ]
    flagged = [b for b in report.budgets if b.state != "ok"]
    if report.budgets:
        facts.append(
            (
                "Budgets",
                "; ".join(f"{b.label} {b.state}" for b in flagged) if flagged else "all ok",
            )
        )
    return facts


def teams_payload(report: Report, link: str) -> dict[str, Any]:
    """An Adaptive Card message, as Teams Workflows (and incoming webhooks) accept it."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": card_text(title(report)),
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [{"title": card_text(k), "value": card_text(v)} for k, v in _facts(report)],
        },
    ]
    if report.movers:
        top = report.movers[0]
        sign = "+" if top.change > 0 else ""
        body.append(
            {
                "type": "TextBlock",
                "text": card_text(
                    f"Top mover: {top.resource}/{top.deployment} {sign}{usd(top.change)}"
                ),
                "wrap": True,
            }
        )
    if report.drift_days:
        body.append(
            {
                "type": "TextBlock",
                "text": f"Drift flagged on {len(report.drift_days)} resource-day(s)",
                "wrap": True,
            }
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link.startswith(("https://", "http://")):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": link}]
    else:
        body.append(
            {
                "type": "TextBlock",
                "text": card_text(f"Report: {link}"),
                "wrap": True,
                "isSubtle": True,
            }
        )
    return teams_message(card)


def slack_payload(report: Report, link: str) -> dict[str, Any]:
    """A Block Kit message with a plain-text fallback (``text``), for a Slack incoming webhook."""
    head = title(report)
    where = (
        f"<{link}|Open the report>"
        if link.startswith(("https://", "http://"))
        else f"Report: `{slack_text(link)}`"
    )
    fields = [
        {"type": "mrkdwn", "text": f"*{slack_text(k)}*\n{slack_text(v)}"} for k, v in _facts(report)
    ][:10]  # Slack allows at most 10 fields per section
    lines = summary_lines(report)
    return {
        "text": slack_text(f"{head}: " + "; ".join(lines[:2])),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
            {"type": "section", "fields": fields},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_text("\n".join(lines))},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
        ],
    }


# Email ----------------------------------------------------------------------------------------
def email_message(report: Report, files: ReportFiles, config: ReportConfig) -> EmailMessage:
    """Plain-text summary and the HTML report as the body; the CSV (and the HTML, for mail
    clients that do not show inline SVG) attached."""
    message = EmailMessage()
    message["Subject"] = title(report)
    message["From"] = str(config.smtp_from)
    message["To"] = ", ".join(config.smtp_to)
    domain = str(config.smtp_from).rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("foundry-monitor", domain=domain)
    text = "\n".join(
        [title(report), "", *summary_lines(report), "", f"Report: {report_link(files, config)}"]
    )
    message.set_content(text + "\n")
    message.add_alternative(render_html(report), subtype="html")
    for path, subtype in ((files.csv, "csv"), (files.html, "html")):
        if path is not None:
            message.add_attachment(
                path.read_bytes(), maintype="text", subtype=subtype, filename=path.name
            )
    return message


def _smtp_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"the SMTP server refused the login ({exc.smtp_code}): check "
            "FOUNDRY_MONITOR_SMTP_USER and FOUNDRY_MONITOR_SMTP_PASSWORD",
            retriable=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            "the SMTP server does not offer STARTTLS: use its TLS port with "
            "FOUNDRY_MONITOR_SMTP_SSL=true, or FOUNDRY_MONITOR_SMTP_STARTTLS=false on a trusted "
            "relay",
            retriable=False,
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return DeliveryError(
            f"the SMTP server refused the recipients ({', '.join(map(str, codes))}): check "
            "FOUNDRY_MONITOR_SMTP_TO",
            retriable=all(400 <= c < 500 for c in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(
            f"the SMTP server answered {exc.smtp_code}", retriable=400 <= exc.smtp_code < 500
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError | ConnectionError):
        return DeliveryError(f"the SMTP connection failed ({type(exc).__name__})", retriable=True)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"the SMTP TLS handshake failed ({exc.reason})", retriable=False)
    if isinstance(exc, OSError):
        return DeliveryError(
            f"the SMTP server is unreachable ({type(exc).__name__})", retriable=True
        )
    return DeliveryError(f"sending the email failed ({type(exc).__name__})", retriable=False)


def send_email(message: EmailMessage, config: ReportConfig) -> None:
    """Send over SMTP (implicit TLS, STARTTLS or plain), logging in when a user is set."""
    host, port = str(config.smtp_host), config.smtp_port
    tls = config.smtp_ssl or config.smtp_starttls
    loopback = host.strip().lower() in {"127.0.0.1", "localhost", "::1"}
    if config.smtp_user and not tls and not loopback and not config.smtp_allow_plain_login:
        raise DeliveryError(
            f"refusing to log in to {host} without TLS: the SMTP password would travel in clear; "
            "set FOUNDRY_MONITOR_SMTP_STARTTLS=true or FOUNDRY_MONITOR_SMTP_SSL=true (or "
            "FOUNDRY_MONITOR_SMTP_ALLOW_PLAIN_LOGIN=true on a trusted network)",
            retriable=False,
        )
    try:
        smtp: smtplib.SMTP
        if config.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=config.timeout_s, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=config.timeout_s)
        with smtp:
            if config.smtp_starttls and not config.smtp_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                password = config.smtp_password.get_secret_value() if config.smtp_password else ""
                smtp.login(config.smtp_user, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc) from None


# Delivery -------------------------------------------------------------------------------------
def _secrets(config: ReportConfig) -> list[str | None]:
    return [
        s.get_secret_value() if s is not None else None
        for s in (config.smtp_password, config.teams_webhook_url, config.slack_webhook_url)
    ]


def deliver(
    report: Report,
    files: ReportFiles,
    targets: Sequence[str],
    config: ReportConfig,
    *,
    sleep: Sleep = time.sleep,
) -> list[DeliveryResult]:
    """Deliver to each target in turn; a failure of one never stops the others or raises."""
    link = report_link(files, config)
    actions: dict[str, Callable[[], None]] = {}
    for target in targets:
        if target == "folder":
            continue  # the files are written already
        if target == "email":
            actions[target] = lambda: send_email(email_message(report, files, config), config)
        elif target in ("teams", "slack"):
            secret = config.teams_webhook_url if target == "teams" else config.slack_webhook_url
            payload = (
                teams_payload(report, link) if target == "teams" else slack_payload(report, link)
            )
            url = secret.get_secret_value() if secret is not None else ""
            service = "Teams" if target == "teams" else "Slack"
            actions[target] = partial(post_json, service, url, payload, config.timeout_s)
    results = [DeliveryResult("folder", OK, 1)]
    for target, action in actions.items():
        try:
            attempts, error = with_retries(action, config.retries, config.retry_backoff_s, sleep)
        except Exception as exc:  # a bug or a broken message: recorded, never raised
            attempts, error = 1, DeliveryError(f"{type(exc).__name__}: {exc}", retriable=False)
        results.append(
            DeliveryResult(
                target,
                OK if error is None else FAILED,
                attempts,
                None if error is None else redact(str(error), _secrets(config)),
            )
        )
    return results
