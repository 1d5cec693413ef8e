"""The inert-text helpers of collector/text.py for terminals, Teams cards and Slack messages."""

from __future__ import annotations

import pytest
from rich.console import Console

from collector.text import card_text, slack_text, terminal, visible


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("support-bot", "support-bot"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        (
            "\x1b]8;;https://evil.example\x07x\x1b]8;;\x07",
            "\\x1b]8;;https://evil.example\\x07x\\x1b]8;;\\x07",
        ),
        ("gpt\u202etxt.exe", "gpt\\u202etxt.exe"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("\x9bc", "\\x9bc"),
        ("ünïcödé € 名前", "ünïcödé € 名前"),
        (None, ""),
    ],
)
def test_visible_shows_control_and_bidi_characters_as_escapes(raw: str | None, shown: str) -> None:
    assert visible(raw) == shown


def test_a_terminal_never_receives_a_names_escape_sequence() -> None:
    console = Console(width=200, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(terminal("red\x1b[31m [/x] [link=https://evil.example]y"))
    out = captured.get()
    assert "\x1b" not in out
    assert "red\\x1b[31m [/x] [link=https://evil.example]y" in out


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[re-auth](https://evil.example)", "\\[re-auth\\](https://evil.example)"),
        ("![b](https://evil.example/p.png)", "\\!\\[b\\](https://evil.example/p.png)"),
        ("**bold** _it_ ~~s~~ `c`", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~ \\`c\\`"),
        ("{{DATE(2017-02-14T06:08:00Z, SHORT)}}", "\\{\\{DATE(2017-02-14T06:08:00Z, SHORT)\\}\\}"),
        ("<https://evil.example>", "\\<https://evil.example\\>"),
        ("- item", "\\- item"),
        ("12. item", "12\\. item"),
        ("# head\nline", "\\# head line"),
        (
            "claude-opus-4-5 warning; contoso-eastus2 over",
            "claude-opus-4-5 warning; contoso-eastus2 over",
        ),
        ("$1,234.56 (UTC)", "$1,234.56 (UTC)"),
    ],
)
def test_card_text_escapes_what_adaptive_cards_render(raw: str, shown: str) -> None:
    assert card_text(raw) == shown


def test_slack_text_escapes_links_and_mentions() -> None:
    assert slack_text("<!channel> <https://evil.example|x> & co") == (
        "&lt;!channel&gt; &lt;https://evil.example|x&gt; &amp; co"
    )
