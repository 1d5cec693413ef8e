"""An alert by email through the report delivery's SMTP code, to a loopback SMTP server: one-line
subject, the hostile name escaped in the HTML part."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from collector.alerts.deliver import OK, send
from collector.alerts.message import FIRING, Alert
from collector.config import Settings

HOSTILE = "bot<img src=x onerror=alert(1)>\r\nBcc: victim@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Box:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def test_an_alert_email_is_sent_with_names_escaped() -> None:
    port = _free_port()
    box = _Box()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings(
            alert_rules=[
                {"name": "errors", "signal": "error_rate", "op": ">", "threshold": 0.2,
                 "notify": ["email"]},
            ],
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
            smtp_from="monitor@example.com", smtp_to=["oncall@example.com"],
            alert_link_base="https://monitor.example.com",
        ).alerts  # fmt: skip
        settings.check_targets()
        (rule,) = settings.rules
        at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        alert = Alert(
            FIRING, rule, f"res/{HOSTILE}", (("deployment", HOSTILE), ("resource", "res")),
            at, at, None, 0.5, 0.4, settings.link_base,
        )  # fmt: skip
        result = send(alert, "email", settings, sleep=lambda _: None)
    finally:
        controller.stop()
    assert result.status == OK, result.error
    (message,) = box.messages
    assert "\n" not in message["Subject"] and message["Bcc"] is None
    assert message["Subject"].startswith("[FIRING] errors (warning): res/bot<img")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<img" not in html and "&lt;img src=x" in html
    assert "https://monitor.example.com/errors?range=custom" in html
