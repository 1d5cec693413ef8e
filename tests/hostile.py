"""Hostile names and Azure error text for the hostile-input suite, and a seeded store carrying them.

Whoever controls a tenant names its deployments and resources, and Azure's error messages quote
what they were given: every output that interprets text (console markup, Markdown, HTML,
spreadsheets, terminals, chat cards) must show these as themselves. Each name fits the store's
columns (64 characters for deployment and resource names).

``hostile_store(engine, start)`` fills a store with the one seeded data builder
(:func:`tests.seed.build`), then renames its deployments and resources to the names below and
records a failed collection run whose error is :data:`MESSAGE`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, update

from collector.emulator.catalog import Catalog, default_catalog
from collector.store.schema import TABLES
from tests import seed as seeding

#: Seed deployment name -> hostile name (Rich markup, Markdown link and image, HTML, a spreadsheet
#: formula, ANSI and OSC 8 escapes, a right-to-left override, quotes, printf and format fields,
#: KQL metacharacters, newlines).
DEPLOYMENTS: dict[str, str] = {
    "claude-opus-4-5": "=cmd|' /C calc'!A0",
    "support-bot": "[re-auth](https://evil.example/a) ![b](https://evil.example/p)",
    "claude-haiku-4-5": "\x1b[31mred\x1b]8;;https://evil.example\x07ln\u202etxt.exe %s {0}",
    "claude-opus-4-1": "<script>alert(1)</script>[/x][link=https://evil.example]y",
    "gpt-4o-mini": 'x\' or 1==1 | take 1; "q" `t` $a$ :red[b] @SUM(1)\nsecond line',
    "old-bot": "+" + "ß" * 40 + "\u202e" + "é" * 22,
}
#: Seed resource name -> hostile name (a long unicode one, with Markdown and a newline).
RESOURCES: dict[str, str] = {
    "contoso-eastus2": "-[ok](javascript:alert(1))\n<b>" + "ü" * 30,
    "contoso-swedencentral": "[bold]r[/bold]_*x*_ ~~s~~ # h" + "€" * 30,
}
#: An Azure error message as a failed run records it.
MESSAGE = (
    "AuthorizationFailed: [re-authenticate](https://evil.example/login) "
    "![](https://evil.example/beacon.png) <img src=x onerror=alert(1)> [/bold] "
    '[link=https://evil.example]here[/link] \x1b[2J =HYPERLINK("https://evil.example") %s'
    "\n2026-12-02 00:00:00,000 foundry_monitor.collector source=metrics status=ok (forged)"
)
ALL_NAMES: tuple[str, ...] = (*DEPLOYMENTS.values(), *RESOURCES.values())

#: Fragments that only appear when an output interprets a hostile name instead of escaping it:
#: raw Markdown links and images, HTML tags, console markup, ANSI/OSC escapes, bidi overrides.
RAW_FRAGMENTS: tuple[str, ...] = (
    "](https://",
    "](javascript:",
    "![",
    "<script>",
    "<img",
    "<b>",
    "[/x]",
    "[/bold]",
    "[link=",
    "\x1b",
    "\x07",
    "\u202e",
    ":red[",
)


@dataclass(frozen=True)
class HostileStore:
    engine: Engine
    seed: seeding.Seed
    #: hostile deployment name -> deployment id
    ids: dict[str, int]


def hostile_store(engine: Engine, start: datetime, minutes: int = 150) -> HostileStore:
    """The seeded store (other publisher included) under hostile names, and a failed run."""
    built = seeding.build(engine, start=start, minutes=minutes, other_publisher=True)
    d, r = TABLES["deployment"], TABLES["resource"]
    with engine.begin() as conn:
        for old, new in DEPLOYMENTS.items():
            conn.execute(update(d).where(d.c.name == old).values(name=new))
        for old, new in RESOURCES.items():
            conn.execute(update(r).where(r.c.name == old).values(name=new))
        conn.execute(
            insert(TABLES["collection_run"]),
            [
                {
                    "source": "metrics",
                    "scope": seeding.resource_id("contoso-eastus2"),
                    "window_start": built.end - timedelta(minutes=10),
                    "window_end": built.end,
                    "started_at": built.end,
                    "finished_at": built.end,
                    "status": "failed",
                    "rows": 0,
                    "azure_calls": 1,
                    "throttled_calls": 0,
                    "duration_s": 0.2,
                    "error": MESSAGE,
                }
            ],
        )
    ids = {DEPLOYMENTS[name]: dep_id for name, dep_id in built.deployment_ids.items()}
    return HostileStore(engine, built, ids)


def one_line(text: str) -> str:
    """A name as a one-line output shows it: line breaks become spaces."""
    return " ".join(text.splitlines())


def visible(text: str) -> str:
    """A name as the terminal helpers show it: control and bidi characters as escapes."""
    return "".join(
        ch.encode("unicode_escape").decode()
        if unicodedata.category(ch) == "Cc" or ch in "\u202a\u202b\u202c\u202d\u202e"
        else ch
        for ch in text
    )


def interpreted(text: str) -> list[str]:
    """The raw fragments of hostile names present in ``text`` (none: nothing interpretable)."""
    return [f for f in RAW_FRAGMENTS if f in text]


def unescape_markdown(text: str) -> str:
    """Markdown backslash escapes removed: what a Markdown renderer shows of escaped text."""
    return re.sub(r"\\(.)", r"\1", text)


def hostile_catalog(change_at: datetime | None = None) -> Catalog:
    """The emulator's default tenant with its deployments renamed to the hostile names (account
    names stay ARM-valid: Azure allows only letters, digits and hyphens in them)."""
    base = default_catalog(change_at=change_at)
    renames = {
        "claude-opus-4-5": DEPLOYMENTS["claude-opus-4-5"],
        "support-bot": DEPLOYMENTS["support-bot"],
        "claude-haiku-4-5": DEPLOYMENTS["claude-haiku-4-5"],
        "claude-opus-4-1": DEPLOYMENTS["claude-opus-4-1"],
        "gpt-4o-mini": DEPLOYMENTS["gpt-4o-mini"],
    }
    accounts = tuple(
        replace(
            account,
            deployments=tuple(
                replace(d, name=renames.get(d.name, d.name)) for d in account.deployments
            ),
        )
        for account in base.accounts
    )
    return replace(base, accounts=accounts)
