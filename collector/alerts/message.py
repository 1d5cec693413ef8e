"""Alert messages in each format: the generic webhook (Prometheus Alertmanager's webhook body),
Slack, Teams and email. Pure: builds payloads, sends nothing.

Names come from Azure (deployments, resources) and from settings, and may hold anything: each
format escapes them its own way. Slack gets them only in ``plain_text`` objects (never parsed
for links or formatting) and ``&``, ``<``, ``>`` escaped in its fallback text; Teams (Adaptive
Card TextBlocks and facts render a Markdown subset, no HTML, per Microsoft's "Format cards in
Teams") gets every Markdown character backslash-escaped; the email's HTML part is
``html.escape``-d and its subject kept to one line; the webhook's JSON encoding is its escaping.
Control characters are dropped everywhere.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from collector.alerts.rules import Rule
from collector.text import teams_message

FIRING, REPEAT, RESOLVED = "firing", "repeat", "resolved"
#: Alertmanager's "zero time" for an alert that has not ended.
ZERO_TIME = "0001-01-01T00:00:00Z"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
#: The dashboard page that explains each signal.
PAGES = {
    "rate_429": "rate_limits",
    "error_rate": "errors",
    "p95_ms": "latency",
    "ttft_avg_ms": "latency",
    "requests": "overview",
    "pool_utilization": "rate_limits",
    "spend_day": "spend",
    "budget_forecast": "spend",
    "cost_without_traffic": "spend",
    "stale_source": "health",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One message: an episode of a rule for a scope at ``kind`` (firing, repeat, resolved)."""

    kind: str
    rule: Rule
    scope: str
    labels: tuple[tuple[str, str], ...]
    start: datetime
    fired_at: datetime
    end: datetime | None
    peak: float | None
    value: float | None
    link_base: str | None = None
    #: what explains it, e.g. the failing source's last Azure error (``stale_source``)
    detail: str | None = None

    @property
    def status(self) -> str:
        return RESOLVED if self.kind == RESOLVED else FIRING

    @property
    def fingerprint(self) -> str:
        """Stable per episode: Alertmanager's 16 hex digits."""
        text = f"{self.rule.name}\x00{self.scope}\x00{self.start.isoformat()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def title(self) -> str:
        head = {FIRING: "FIRING", REPEAT: "STILL FIRING", RESOLVED: "RESOLVED"}[self.kind]
        return plain(f"[{head}] {self.rule.name} ({self.rule.severity}): {self.scope}")[:200]

    def lines(self) -> list[tuple[str, str]]:
        """The message's facts, as (name, value) in plain text (not escaped)."""
        facts = [
            ("Rule", f"{self.rule.name}: {self.rule.describe()}"),
            ("Scope", self.scope),
            ("Since", f"{self.start:%Y-%m-%d %H:%M} UTC"),
        ]
        if self.end is not None:
            facts.append(("Until", f"{self.end:%Y-%m-%d %H:%M} UTC"))
        facts.append(("Peak", number(self.peak)))
        if self.kind != RESOLVED:
            facts.append(("Latest", number(self.value)))
        if self.detail:
            facts.append(("Last error", self.detail[:500]))
        if self.rule.description:
            facts.append(("About", self.rule.description))
        return [(k, plain(v)) for k, v in facts]

    def link(self) -> str | None:
        """The dashboard page explaining the alert, over its window, filtered to its scope."""
        if not self.link_base:
            return None
        page = PAGES.get(self.rule.base_signal, "overview")
        end = self.end or max(self.fired_at, self.start) + timedelta(minutes=1)
        params = {
            "range": "custom",
            "from": (self.start - timedelta(minutes=self.rule.window_minutes)).isoformat(
                timespec="minutes"
            ),
            "to": (end + timedelta(minutes=5)).isoformat(timespec="minutes"),
        }
        labels = dict(self.labels)
        for name in ("resource", "deployment", "model"):
            if labels.get(name):
                params[name] = labels[name]
        return f"{self.link_base.rstrip('/')}/{page}?{urlencode(params)}"

    def lookup_link(self) -> str | None:
        """The request look-up page (failed calls of the window are found there by id)."""
        return f"{self.link_base.rstrip('/')}/lookup" if self.link_base else None


def plain(text: object) -> str:
    """One line without control or bidirectional-override characters."""
    return " ".join(_CONTROL.sub(" ", str(text)).split())


def number(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if abs(value) < 10:
        return f"{value:.3g}"
    return f"{value:,.0f}"


def markdown_escape(text: str) -> str:
    """Every Markdown character backslash-escaped (Teams' TextBlocks and facts)."""
    return _MARKDOWN.sub(r"\\\1", plain(text))


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities (its mrkdwn and fallback text)."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The generic webhook's JSON body, shaped like Alertmanager's (version 4): one alert per
    message; labels name the rule, signal, severity and scope (plus deployment, resource,
    model, subscription, source or budget when the scope has them); annotations carry the
    summary, the rule's description, the values and the links."""
    labels = {
        "alertname": alert.rule.name,
        "signal": alert.rule.signal,
        "severity": alert.rule.severity,
        "scope": plain(alert.scope),
        **{k: plain(v) for k, v in alert.labels},
    }
    annotations = {
        "summary": alert.title,
        "description": plain(alert.rule.description or alert.rule.describe()),
        "condition": alert.rule.describe(),
        "peak": number(alert.peak),
        "value": number(alert.value),
        "kind": alert.kind,
    }
    if alert.detail:
        annotations["error"] = plain(alert.detail[:500])
    link = alert.link()
    if link:
        annotations["dashboard"] = link
        annotations["lookup"] = alert.lookup_link() or ""
    item = {
        "status": alert.status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(alert.start),
        "endsAt": _iso(alert.end) if alert.end else ZERO_TIME,
        "generatorURL": link or "",
        "fingerprint": alert.fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f"{alert.rule.name}:{plain(alert.scope)}",
        "truncatedAlerts": 0,
        "status": alert.status,
        "receiver": "foundry-monitor",
        "groupLabels": {"alertname": alert.rule.name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": (alert.link_base or "").rstrip("/"),
        "alerts": [item],
    }


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Block Kit message: every Azure or settings text in ``plain_text`` objects."""
    fields = [
        {"type": "plain_text", "text": f"{k}: {v}"[:2000], "emoji": False} for k, v in alert.lines()
    ][:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
        {"type": "section", "fields": fields},
    ]
    link = alert.link()
    if link:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{slack_escape(link)}|Open the dashboard>"}
                ],
            }
        )
    return {"text": slack_escape(alert.title), "blocks": blocks}


def teams_payload(alert: Alert) -> dict[str, Any]:
    """An Adaptive Card (as Teams Workflows and incoming webhooks accept it), Markdown-escaped."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": markdown_escape(alert.title),
            "wrap": True,
            "color": "Good" if alert.kind == RESOLVED else "Attention",
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": markdown_escape(k), "value": markdown_escape(v)} for k, v in alert.lines()
            ],
        },
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    link = alert.link()
    if link:
        actions = [{"type": "Action.OpenUrl", "title": "Open the dashboard", "url": link}]
        lookup = alert.lookup_link()
        if lookup:
            actions.append({"type": "Action.OpenUrl", "title": "Look up a request", "url": lookup})
        card["actions"] = actions
    return teams_message(card)


def email_parts(alert: Alert) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email."""
    lines = alert.lines()
    link = alert.link()
    text = "\n".join([alert.title, "", *(f"{k}: {v}" for k, v in lines)])
    if link:
        text += f"\n\nDashboard: {link}\nRequest look-up: {alert.lookup_link()}"
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in lines
    )
    body = f"<h2>{html.escape(alert.title)}</h2><table>{rows}</table>"
    if link:
        body += (
            f'<p><a href="{html.escape(link, quote=True)}">Open the dashboard</a> · '
            f'<a href="{html.escape(alert.lookup_link() or "", quote=True)}">'
            "Look up a request</a></p>"
        )
    return alert.title, text + "\n", f"<!doctype html><html><body>{body}</body></html>"
