"""The hostile-input suite, store side: a seeded store whose deployments and resources carry
markup, Markdown, HTML, formulas, ANSI escapes, bidi overrides, quotes, format fields and KQL
metacharacters (:mod:`tests.hostile`) goes through every read command (text and JSON), every report
format (HTML, CSV, the email's text) and every delivery payload (Teams, Slack, email): nothing
crashes, nothing is interpreted, and the names come back intact where they are shown."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from collector.config import load_settings
from collector.reports import build_report, period_before
from collector.reports.build import Report
from collector.reports.deliver import (
    ReportFiles,
    email_message,
    slack_payload,
    teams_payload,
    write_files,
)
from collector.reports.render import render_csv, render_html, summary_lines
from tests import hostile
from tests import seed as seeding
from tests.hostile import HostileStore

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
SINCE, UNTIL = "2026-11-01T22:00", "2026-11-02T02:00"  # the seed's window (tests.seed.START)
DAY = period_before("day", date(2026, 11, 2))  # 2026-11-01: the seed's first two hours
TRAFFIC = [
    hostile.DEPLOYMENTS[n]
    for n in ("claude-opus-4-5", "support-bot", "claude-haiku-4-5", "gpt-4o-mini")
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileStore]:
    with seeding.param_store(request, tmp_path_factory, "hostile") as engine:
        yield hostile.hostile_store(engine, seeding.START, minutes=240)


def url_of(store: HostileStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def cli(
    store: HostileStore, *args: str, tmp: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``foundry-monitor ARGS`` as a user runs it, on a wide terminal (no wrapped names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env |= {"FOUNDRY_MONITOR_DATABASE_URL": url_of(store), "COLUMNS": "2000", "TERM": "xterm"}
    if tmp is not None:
        env["FOUNDRY_MONITOR_DATA_DIR"] = str(tmp)
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


#: What a terminal acts on: escape sequences (ANSI colours, OSC 8 links, screen clears), the bell,
#: bidi overrides. Markdown and HTML mean nothing to a terminal: they are shown as they are.
TERMINAL_ACTIVE = ("\x1b", "\x07", "\u202e", "\x9b")


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not [c for c in TERMINAL_ACTIVE if c in done.stdout + done.stderr], done.stdout


# Read commands ----------------------------------------------------------------------------------
def test_summary_json_gives_every_name_back_intact(store: HostileStore) -> None:
    done = cli(store, "summary", "--since", SINCE, "--until", UNTIL, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["deployment"] for r in rows} >= set(TRAFFIC)
    assert {r["resource"] for r in rows} == set(hostile.RESOURCES.values())


def test_summary_text_shows_every_name_as_itself(store: HostileStore) -> None:
    done = cli(store, "summary", "--since", SINCE, "--until", UNTIL)
    assert_clean(done)
    for name in TRAFFIC:
        assert hostile.visible(name) in done.stdout, name


@pytest.mark.parametrize("name", TRAFFIC[:3])
def test_a_filter_by_a_hostile_name_finds_its_deployment(store: HostileStore, name: str) -> None:
    done = cli(store, "summary", "--since", SINCE, "--until", UNTIL, "--deployment", name, "--json")
    assert done.returncode == 0, done.stderr
    assert [r["deployment"] for r in json.loads(done.stdout)] == [name]


def _logged_request(store: HostileStore, name: str) -> seeding.SimRequest:
    dep_id = store.ids[name]
    return next(r for r in store.seed.requests if r.deployment_id == dep_id and r.logged)


@pytest.mark.parametrize("name", TRAFFIC[1:3])
def test_lookup_shows_a_hostile_deployment_as_itself(store: HostileStore, name: str) -> None:
    request = _logged_request(store, name)
    as_json = cli(store, "lookup", request.correlation_id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["deployment"] == name
    as_text = cli(store, "lookup", request.correlation_id)
    assert_clean(as_text)
    assert hostile.visible(name) in as_text.stdout


def test_a_hostile_typed_id_is_one_line_and_exit_2(store: HostileStore) -> None:
    for typed in ("[/x] [link=https://evil.example]x", "' or 1=1 -- %s%n", "\x1b[2J\nx", "=1+1"):
        done = cli(store, "lookup", typed)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert "\x1b" not in done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# Report formats ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report(store: HostileStore) -> Report:
    config = load_settings(database_url=url_of(store)).reports
    return build_report(store.engine, DAY, config)


def test_the_report_lists_the_hostile_deployments(report: Report) -> None:
    assert {x.deployment for x in report.lines} >= set(TRAFFIC)


def test_the_html_report_escapes_every_name(report: Report) -> None:
    page = render_html(report)
    assert not html_active(page)
    shown = html.unescape(page)
    for name in TRAFFIC:
        assert name in shown, name


def html_active(page: str) -> list[str]:
    """The hostile names' tags present as tags in ``page`` (a report has no script or image)."""
    return [tag for tag in ("<script", "<img", "<b>") if tag in page]


#: A number as the CSV writes one (a negative variance starts with "-"): stricter than
#: ``float()`` (no "-inf", "-nan", "-1_0"), so it is not the product's own test of a number.
CSV_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")


def test_the_csv_report_has_no_formula_and_every_name_intact(report: Report) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    cells = [cell for row in rows for cell in row]
    formula_like = [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert not [c for c in formula_like if not CSV_NUMBER.fullmatch(c)]
    for name in TRAFFIC:
        assert name in cells or "'" + name in cells, name


def test_the_report_command_writes_inert_files(store: HostileStore, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = cli(
        store, "report", "--period", "day", "--end", "2026-11-02", "--out", str(out), tmp=tmp_path
    )
    assert_clean(done)
    [page] = out.glob("*.html")
    assert not html_active(page.read_text(encoding="utf-8"))
    [table] = out.glob("*.csv")
    assert "\n=" not in table.read_text(encoding="utf-8")


# Delivery payloads ------------------------------------------------------------------------------
def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def test_summary_lines_carry_the_top_movers_name(report: Report) -> None:
    assert report.movers, "the day has a top mover"
    top = report.movers[0]
    assert any(top.deployment in line for line in summary_lines(report))


def test_the_teams_card_renders_names_as_text(report: Report) -> None:
    card = teams_payload(report, "https://reports.example.com/r.html")
    texts = list(_texts(card["attachments"][0]["content"]["body"]))
    joined = "\n".join(texts)
    assert "](" not in joined.replace("\\](", ""), joined
    assert not [t for t in texts if "[" in t.replace("\\[", "")], texts
    assert "{{" not in joined
    top = report.movers[0]
    shown = hostile.unescape_markdown(joined)
    assert hostile.one_line(f"{top.resource}/{top.deployment}") in shown


def test_the_slack_message_renders_names_as_text(report: Report) -> None:
    payload = slack_payload(report, "https://reports.example.com/r.html")
    link = "<https://reports.example.com/r.html|Open the report>"
    texts = [t.replace(link, "") for t in _texts(payload) if t not in ("mrkdwn", "plain_text")]
    assert not [t for t in texts if "<" in t or ">" in t], texts
    top = report.movers[0]
    shown = "\n".join(html.unescape(t) for t in texts)
    assert f"{top.resource}/{top.deployment}" in shown


def test_the_email_shows_names_as_text_and_escapes_the_html(report: Report, tmp_path: Path) -> None:
    files: ReportFiles = write_files(report, tmp_path, ["html", "csv"])
    config = load_settings(
        smtp_host="127.0.0.1", smtp_from="bot@example.com", smtp_to="lead@example.com"
    ).reports
    message: EmailMessage = email_message(report, files, config)
    assert "\n" not in str(message["Subject"])
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    top = report.movers[0]
    assert f"{top.resource}/{top.deployment}" in text_part.get_content()
    assert not html_active(html_part.get_content())
