"""The HTML report in Debian's headless Chromium (launched as tests/browser does): it opens from
a file with no network, draws its charts, raises no console or page error; and a screenshot of a
report over the seeded data (docs/screenshots/report.png with FOUNDRY_MONITOR_SCREENSHOTS set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Playwright, expect

from collector.reports import build_report, period_before
from collector.reports.deliver import write_files
from tests.browser.conftest import ROOT, SCREENSHOTS_ENV, launched_chromium
from tests.reports.conftest import open_seeded, report_config

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def offline_chromium(
    tmp_path_factory: pytest.TempPathFactory, playwright_driver: Playwright
) -> Iterator[BrowserContext]:
    with launched_chromium(
        playwright_driver,
        tmp_path_factory.mktemp("report-chromium"),
        viewport={"width": 1440, "height": 900},
        offline=True,  # the report must need nothing from the network
    ) as context:
        yield context


def _screenshot_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get(SCREENSHOTS_ENV)
    if not wanted:
        return tmp_path
    folder = Path(wanted) if Path(wanted).is_absolute() else ROOT / wanted
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_html_report_renders_offline_without_errors(
    offline_chromium: BrowserContext, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_seeded("sqlite", tmp_path, request)
    try:
        period = period_before("week", date(2026, 11, 2))
        config = report_config(tmp_path / "reports")
        report = build_report(store.engine, period, config)
        files = write_files(report, config.out_dir, ["html"])
    finally:
        store.engine.dispose()
    assert files.html is not None
    page = offline_chromium.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda r: problems.append(f"request {r.url}") if not r.url.startswith("file:") else None,
    )
    try:
        page.goto(files.html.as_uri())
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Claude cost report: week 2026-10-26 to 2026-11-01 (UTC)"
        )
        for name in (
            "Deployments",
            "Daily spend per deployment",
            "Top movers against the previous period",
            "Month and budgets",
            "Days flagged by reconciliation (drift)",
        ):
            expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
        charts = page.get_by_role("img", name="Daily spend of", exact=False)
        expect(charts).to_have_count(len(report.daily))
        for chart in charts.all():
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            assert chart.locator("rect").count() > 0
        table = page.get_by_role("table").first
        expect(table).to_contain_text("support-bot")
        expect(table.get_by_role("row").last).to_contain_text(f"{report.totals.requests:,}")
        page.screenshot(path=str(_screenshot_dir(tmp_path) / "report.png"), full_page=True)
    finally:
        page.close()
    assert problems == []
