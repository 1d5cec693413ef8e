"""Inert text for every output that interprets what it is given (pure).

Deployment, resource and model names, ContextLength labels and Azure's error text are chosen by
whoever controls a tenant: shown raw, a name starting with ``=`` becomes a spreadsheet formula
(CSV injection, OWASP "CSV Injection"). Each output has one helper here, used wherever such text
is written.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP: = + - @, and tab
#: and carriage return, which some spreadsheets skip before the formula).
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula gets a leading
    ``'`` (numbers, negative ones included, and non-text values are left alone)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


#: Bidirectional embeddings, overrides and isolates: they reorder what a terminal shows ("Trojan
#: Source", CVE-2021-42574), so a name could display as another.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(ch: str) -> str:
    if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS:
        return ch.encode("unicode_escape").decode("ascii")
    return ch


def visible(value: object) -> str:
    """``value`` with every control character (ANSI and OSC escapes, bell, line breaks) and bidi
    override shown as a Python escape (``\\x1b``, ``\\n``, ``\\u202e``): a terminal never
    executes a name's escape sequence, and one name stays on one line."""
    text = "" if value is None else str(value)
    if text.isprintable() and not BIDI_CONTROLS.intersection(text):
        return text
    return "".join(map(_visible, text))


def terminal(value: object) -> Any:
    """A ``rich`` Text of ``value`` shown as itself: never parsed as console markup (a name or an
    Azure message holding ``[/...]`` would crash the print, ``[link=...]`` would become a link),
    its control characters shown as escapes (:func:`visible`; rich keeps ESC as it is)."""
    from rich.text import Text

    return Text(visible(value))


def terminal_markup_free(value: object) -> str:
    """``value`` as a string with console markup escaped and control characters shown as escapes,
    for APIs that take markup strings (progress bar labels)."""
    from rich.markup import escape

    return escape(visible(value))


#: What CommonMark (Adaptive Cards' Markdown subset: bold, italic, lists, links) and Adaptive
#: Cards' ``{{DATE(...)}}`` / ``{{TIME(...)}}`` functions interpret inside a line; see
#: https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features
_CARD_SPECIAL = frozenset("\\`*_[]<>!~{}|")
#: A list item or heading at the start of a text ("- x", "+ x", "# x", "1. x", "1) x").
_CARD_BLOCK_START = re.compile(r"^([-+#])|^(\d+)([.)])")


def card_text(value: object) -> str:
    """``value`` as itself in a Teams Adaptive Card ``TextBlock`` or ``Fact`` (they render a
    Markdown subset): inline Markdown punctuation backslash-escaped (CommonMark), a list or
    heading marker at the start escaped, line breaks made spaces, so a name like
    ``[re-auth](https://...)`` is never a link."""
    text = " ".join(("" if value is None else str(value)).splitlines())
    text = "".join("\\" + ch if ch in _CARD_SPECIAL else ch for ch in text)
    return _CARD_BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def slack_text(value: object) -> str:
    """``value`` for Slack ``mrkdwn`` and a message's ``text``: ``&``, ``<`` and ``>`` escaped as
    Slack asks (https://api.slack.com/reference/surfaces/formatting#escaping), so no name becomes
    a link (``<https://...|x>``) or a mention (``<!channel>``)."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """An Adaptive Card as the message a Teams incoming webhook (or Workflows) posts: one
    attachment of content type ``application/vnd.microsoft.card.adaptive``
    (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook)."""
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}
