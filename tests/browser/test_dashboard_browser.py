"""Every page of the dashboard in headless Chromium, over the demo's data: no Streamlit exception,
no error box, no JavaScript error, the page's own content on screen, and a screenshot of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from collector.alerts.rules import DEFAULT_RULES
from collector.store.queries import status_fix
from collector.store.schema import TABLES
from tests.browser.conftest import ROOT, VIEWPORT, BrowserPage, DemoStore, serve_dashboard

pytestmark = pytest.mark.browser


def open_page(page: Page, url: str) -> None:
    """Load a page and wait until its script run is over and every element has rendered."""
    page.goto(url)
    wait_for_run(page)


def wait_for_run(page: Page) -> None:
    """The page's title is drawn (its run has started), then the run is over, then no element
    is still loading."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(page.get_by_test_id("stMain").get_by_role("heading", level=1)).to_be_visible()
    expect(app).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)


def heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", name=text)).to_be_visible()


def tables(page: Page) -> Locator:
    """The data grids' accessible tables (their cells are drawn on a canvas)."""
    return page.get_by_test_id("stDataFrame").get_by_role("grid", include_hidden=True)


def charts_drawn(page: Page, at_least: int) -> None:
    """At least ``at_least`` Vega-Lite charts on screen, and every one on screen drawn."""
    shown = page.get_by_test_id("stVegaLiteChart").filter(visible=True)
    expect(shown.nth(at_least - 1)).to_be_visible()
    for chart in shown.all():
        expect(chart.locator("svg.marks")).to_be_visible()


def axis_title(page: Page, title: str) -> Locator:
    return page.get_by_test_id("stVegaLiteChart").get_by_text(title, exact=True)


# Page checks: what each page shows on the demo's data -------------------------------------------
def check_overview(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Overview")
    expect(page.get_by_text("Freshness: ")).to_be_visible()
    expect(tables(page).first).to_contain_text("support-bot")
    expect(tables(page).first).to_contain_text("gpt-4o-mini")  # another publisher's deployment
    month_to_date(page)
    return []


def month_to_date(page: Page) -> None:
    """The month's heading and its tiles: spend to date and the forecast to month end."""
    expect(page.get_by_role("heading", name=re.compile(r"^This month: .* to date"))).to_be_visible()
    for label in ("Spent to date (USD)", "Forecast to month end (USD)"):
        tile = page.get_by_test_id("stMetric").filter(has_text=label)
        expect(tile.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))


def check_latency(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Latency")
    heading(page, "Time to first token (Azure Monitor)")
    expect(axis_title(page, "Average time to first token (ms)")).to_be_visible()
    expect(axis_title(page, "Maximum time to first token (ms)")).to_be_visible()
    expect(page.get_by_text("Azure gives no TTFT percentiles", exact=False)).to_be_visible()
    heading(page, "Time to last byte (Azure Monitor)")
    charts_drawn(page, at_least=7)  # p50, p95, p99; TTFT and time to last byte: average, max
    for title in ("p50 latency (ms)", "p95 latency (ms)", "p99 latency (ms)"):
        expect(axis_title(page, title)).to_be_visible()
    return []


def check_rate_limits(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Rate limits")
    heading(page, "Per quota pool (subscription × model × version × Global / Data Zone)")
    heading(page, "Likely cause and what to do")
    charts_drawn(page, at_least=3)
    expect(axis_title(page, "429 responses per 15m")).to_have_count(2)  # deployments and pools
    expect(axis_title(page, "429 rate (% of requests)")).to_be_visible()
    long_percentages = re.compile(r"\.\d{3,}%$")  # d3's "%" alone means six decimals
    expect(page.get_by_test_id("stVegaLiteChart").get_by_text(long_percentages)).to_have_count(0)
    return []


def check_capacity(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Capacity")
    heading(page, "Quota pools")
    heading(page, "Utilization over time")
    grid = tables(page).first
    # the Global sonnet pool spans both regions; haiku has one Data Zone pool per zone
    for text in ("eastus2, swedencentral", "DataZone US", "DataZone EU"):
        expect(grid).to_contain_text(text)
    charts_drawn(page, at_least=1)
    expect(axis_title(page, "Peak minute per 15m / limit")).to_be_visible()
    return []


def check_errors(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Errors")
    metric = TABLES["metric_minute"]
    with store.engine.connect() as conn:
        failing = conn.execute(
            select(metric.c.status_code)
            .where(metric.c.metric == "ModelRequests", metric.c.status_code >= 400)
            .distinct()
        ).scalars()
        codes = sorted(failing)
    assert codes, "the demo's workload has failures"
    for code in codes:
        expect(page.get_by_text(status_fix(code))).to_be_visible()
    charts_drawn(page, at_least=1)
    return []


def check_spend(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Spend")
    with store.engine.connect() as conn:
        days = conn.execute(select(func.count()).select_from(TABLES["spend_daily"])).scalar()
    assert days, "the collector's run_once refreshes spend"
    month_to_date(page)
    heading(page, "Per day and deployment")
    charts_drawn(page, at_least=1)
    expect(axis_title(page, "Estimated spend (USD)")).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV", exact=True).first).to_be_visible()
    heading(page, "Reconciliation per resource and day")
    heading(page, "Prompt cache")
    expect(axis_title(page, "Prompt-cache tokens per day")).to_be_visible()
    expect(axis_title(page, "Cache savings per day (USD)")).to_be_visible()
    return []


def check_lookup(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Request look-up")
    log, deployment = TABLES["request_log"], TABLES["deployment"]
    with store.engine.connect() as conn:
        failed = conn.execute(
            select(log.c.correlation_id, log.c.status_code, deployment.c.name)
            .join(deployment, deployment.c.id == log.c.deployment_id)
            .where(log.c.status_code >= 400)
            .order_by(log.c.ts)
            .limit(1)
        ).one()
    box = page.get_by_role("textbox", name="apim-request-id or request-id")
    box.fill(failed.correlation_id)  # the apim-request-id
    box.press("Enter")
    heading(page, f"❌ {failed.status_code} on {failed.name}")
    wait_for_run(page)
    expect(tables(page).first).to_contain_text(failed.correlation_id)
    return [f"What to do: {status_fix(failed.status_code)}"]  # the failed request's fix, in red


def check_health(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Collector health")
    heading(page, "Freshness per source")
    heading(page, "Last run per source and scope")
    for source in ("inventory", "metrics", "logs", "costs"):
        expect(tables(page).first).to_contain_text(source)
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)  # no failed run
    return []


def check_alerts(page: Page, store: DemoStore) -> list[str]:
    heading(page, "Alerts")
    for title in ("Firing now", "History", "Silences in force", "Rules"):
        heading(page, title)
    rules = tables(page).last
    for rule in DEFAULT_RULES:
        expect(rules).to_contain_text(rule["name"])
    return []


@dataclass(frozen=True)
class DashboardPage:
    name: str  # the file in dashboard/views/ and the screenshot's name
    path: str  # its URL path (st.navigation serves the default page at "/")
    check: Callable[[Page, DemoStore], list[str]]  # returns the error boxes it expects


PAGES = [
    DashboardPage("overview", "", check_overview),
    DashboardPage("latency", "latency", check_latency),
    DashboardPage("rate_limits", "rate_limits", check_rate_limits),
    DashboardPage("capacity", "capacity", check_capacity),
    DashboardPage("errors", "errors", check_errors),
    DashboardPage("spend", "spend", check_spend),
    DashboardPage("lookup", "lookup", check_lookup),
    DashboardPage("health", "health", check_health),
    DashboardPage("alerts", "alerts", check_alerts),
]


def full_page_screenshot(page: Page, path: Path) -> None:
    """Streamlit scrolls inside its main container, not the document: grow the viewport to the
    content's height for the shot, then put it back."""
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    try:
        page.screenshot(path=path, full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]


def test_the_sidebar_links_every_page(dashboard: str, tab: BrowserPage) -> None:
    open_page(tab.page, dashboard)
    links = tab.page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links).to_have_count(len(PAGES))
    hrefs = [link.get_attribute("href") for link in links.all()]
    assert hrefs == [f"{dashboard}/{p.path}" for p in PAGES]
    files = sorted(f.stem for f in (ROOT / "dashboard" / "views").glob("*.py"))
    assert files == sorted(p.name for p in PAGES), "a page without a browser test"


@pytest.mark.parametrize("target", PAGES, ids=[p.name for p in PAGES])
def test_page_renders_the_demo_data_without_errors(
    target: DashboardPage,
    dashboard: str,
    demo_store: DemoStore,
    tab: BrowserPage,
    screenshot_dir: Path,
) -> None:
    page = tab.page
    open_page(page, f"{dashboard}/{target.path}")
    expected_errors = target.check(page, demo_store)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert page.get_by_test_id("stAlertContentError").all_inner_texts() == expected_errors
    assert "Traceback" not in page.get_by_test_id("stMain").inner_text()
    assert not tab.js_errors
    full_page_screenshot(page, screenshot_dir / f"{target.name}.png")


def test_a_deep_link_works_as_the_first_visit_after_start(
    demo_store: DemoStore, tab: BrowserPage, tmp_path: Path
) -> None:
    """A shared link (the view lives in the URL) opened right after the dashboard (re)starts."""
    with serve_dashboard(demo_store.url, tmp_path / "streamlit.log") as base_url:
        page = tab.page
        page.goto(f"{base_url}/rate_limits?range=24h")
        title = page.get_by_test_id("stMain").get_by_role("heading", level=1)
        expect(title.or_(page.get_by_test_id("stAlert")).first).to_be_visible()
        expect(page.get_by_test_id("stApp")).to_have_attribute(
            "data-test-script-state", "notRunning"
        )
        assert title.all_inner_texts() == ["Rate limits"]
        links = page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()
        assert links[0].endswith("Overview"), links  # titles, not file names
