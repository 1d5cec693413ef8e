"""Sending one alert message to one target, through the report delivery code
(:mod:`collector.reports.deliver`): its webhook POST (no redirects), SMTP, retries with back-off
and secret redaction. The payloads are :mod:`collector.alerts.message`'s."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

from collector.alerts.config import AlertSettings
from collector.alerts.message import (
    Alert,
    email_parts,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from collector.reports.deliver import (
    DeliveryError,
    DeliveryResult,
    Sleep,
    post_json,
    redact,
    send_email,
    with_retries,
)

OK, FAILED = "ok", "failed"


def _secrets(settings: AlertSettings) -> list[str | None]:
    config = settings.delivery
    return [
        s.get_secret_value() if s is not None else None
        for s in (
            config.smtp_password,
            config.teams_webhook_url,
            config.slack_webhook_url,
            settings.webhook_url,
        )
    ]


def email_message(alert: Alert, settings: AlertSettings) -> EmailMessage:
    config = settings.delivery
    subject, text, html_body = email_parts(alert)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = str(config.smtp_from)
    message["To"] = ", ".join(config.smtp_to)
    domain = str(config.smtp_from).rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("foundry-monitor-alert", domain=domain)
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    return message


def action(alert: Alert, target: str, settings: AlertSettings) -> Callable[[], None]:
    """The one attempt at sending ``alert`` to ``target`` (raises DeliveryError)."""
    config = settings.delivery
    if target == "email":
        return lambda: send_email(email_message(alert, settings), config)
    if target == "webhook":
        secret, payload, service = settings.webhook_url, webhook_payload(alert), "alert"
    elif target == "teams":
        secret, payload, service = config.teams_webhook_url, teams_payload(alert), "Teams"
    elif target == "slack":
        secret, payload, service = config.slack_webhook_url, slack_payload(alert), "Slack"
    else:
        raise ValueError(f"unknown alert target {target!r}")
    url = secret.get_secret_value() if secret is not None else ""

    def post() -> None:
        if not url:
            raise DeliveryError(f"no {service} webhook URL is set", retriable=False)
        post_json(service, url, payload, config.timeout_s)

    return post


def send(
    alert: Alert, target: str, settings: AlertSettings, *, sleep: Sleep = time.sleep
) -> DeliveryResult:
    """Send with the report delivery's retries; never raises for a failed delivery."""
    config = settings.delivery
    try:
        attempts, error = with_retries(
            action(alert, target, settings), config.retries, config.retry_backoff_s, sleep
        )
    except Exception as exc:  # a bug or a broken message: recorded, never raised
        attempts, error = 1, DeliveryError(f"{type(exc).__name__}: {exc}", retriable=False)
    return DeliveryResult(
        target,
        OK if error is None else FAILED,
        attempts,
        None if error is None else redact(str(error), _secrets(settings)),
    )
