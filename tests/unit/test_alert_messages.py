"""Alert messages: hostile names (Azure's, or a rule's description) are inert in every format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from collector.alerts.message import (
    FIRING,
    RESOLVED,
    Alert,
    email_parts,
    markdown_escape,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from collector.alerts.rules import Rule

HOSTILE = "evil<script>alert(1)</script>[click](https://x.test)*bold*_i_\n<!channel>&amp;\u202e"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULE = Rule("throttled", "rate_429", ">", 0.1, description="429s [see](https://y.test)")


AZURE_ERROR = "Azure answered 403 AuthorizationFailed: <b>no</b> [fix](https://evil.test) *now*"


def alert(kind: str = FIRING, link: str | None = "https://monitor.example.com") -> Alert:
    return Alert(
        kind, RULE, f"res/{HOSTILE}", (("deployment", HOSTILE), ("resource", "res")),
        T0, T0, None if kind != RESOLVED else T0.replace(hour=10), 0.42, 0.3, link, AZURE_ERROR,
    )  # fmt: skip


def _texts(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


def test_slack_shows_names_only_as_plain_text() -> None:
    payload = slack_payload(alert())
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert all(f["type"] == "plain_text" for f in block["fields"])
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
    mrkdwn = [e["text"] for b in payload["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert mrkdwn == ["<https://monitor.example.com/rate_limits?" + mrkdwn[0].split("?", 1)[1]]
    assert "<!channel>" not in payload["text"] and "&lt;!channel&gt;" in payload["text"]
    fields = [f["text"] for b in payload["blocks"] if b["type"] == "section" for f in b["fields"]]
    assert f"Last error: {AZURE_ERROR}" in fields  # a plain_text field: shown, never parsed
    assert "<script>" not in payload["text"]
    assert all("\n" not in t and "\u202e" not in t for t in _texts(payload))


def test_teams_escapes_every_markdown_character_in_names() -> None:
    card = teams_payload(alert())["attachments"][0]["content"]
    texts = [card["body"][0]["text"]] + [
        f"{f['title']} {f['value']}" for f in card["body"][1]["facts"]
    ]
    joined = " ".join(texts)
    assert "[click](https://x.test)" not in joined and r"\[click\]\(https://x\.test\)" in joined
    assert r"\*bold\*" in joined and r"\_i\_" in joined
    assert "[see](https://y.test)" not in joined
    assert "[fix](https://evil.test)" not in joined and r"\*now\*" in joined
    assert markdown_escape("a_b") == r"a\_b"
    assert [a["title"] for a in card["actions"]] == ["Open the dashboard", "Look up a request"]


def test_the_email_html_is_escaped_and_its_subject_is_one_line() -> None:
    subject, text, html = email_parts(alert())
    assert "\n" not in subject and "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>no</b>" not in html and "&lt;b&gt;no&lt;/b&gt;" in html
    assert "<!channel>" not in html
    assert HOSTILE.split("\n")[0] in text  # the plain part is plain: shown as written


def test_the_webhook_body_has_alertmanagers_shape_and_json_keeps_names_as_data() -> None:
    body = webhook_payload(alert())
    assert body["version"] == "4" and body["status"] == "firing"
    assert set(body) >= {"groupKey", "truncatedAlerts", "receiver", "groupLabels", "commonLabels"}
    (item,) = body["alerts"]
    assert item["labels"]["alertname"] == "throttled" and item["labels"]["signal"] == "rate_429"
    assert item["endsAt"] == "0001-01-01T00:00:00Z" and item["startsAt"] == "2026-11-02T09:00:00Z"
    assert "\n" not in item["labels"]["deployment"]
    assert item["annotations"]["error"] == AZURE_ERROR
    assert json.loads(json.dumps(body)) == body
    resolved = webhook_payload(alert(RESOLVED))
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2026-11-02T10:00:00Z"
    assert resolved["alerts"][0]["fingerprint"] == item["fingerprint"]


def test_links_carry_the_window_and_the_scope_url_encoded() -> None:
    link = alert().link()
    assert link is not None
    parts = urlsplit(link)
    assert parts.path == "/rate_limits"
    query = parse_qs(parts.query)
    assert query["range"] == ["custom"] and query["resource"] == ["res"]
    assert query["deployment"] == [HOSTILE]
    assert alert(link=None).link() is None
