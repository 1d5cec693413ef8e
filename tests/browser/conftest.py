"""The dashboard as a user starts it, over a store the real collector filled from the Foundry
emulator (as ``foundry-monitor demo`` does), and one headless Chromium for the session.

Chromium is Debian's (``apt-get install -y chromium``; ``scripts/test.sh`` installs it where
missing), driven by Playwright with ``executable_path``: no browser is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect
from sqlalchemy import Engine

from collector.store.queries import RUN_SUCCEEDED
from tests import workload_store
from tests.ports import free_port, streamlit_healthy

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach hosts this machine
# cannot, and stalls. Playwright refuses --user-data-dir in args: the profile directory is the
# persistent context's first argument, a fresh temporary directory.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 30_000

#: Where the screenshots go: a pytest temporary folder unless this names one (relative paths
#: are taken from the repository root), e.g. FOUNDRY_MONITOR_SCREENSHOTS=docs/screenshots.
SCREENSHOTS_ENV = "FOUNDRY_MONITOR_SCREENSHOTS"

SEED = 1  # `foundry-monitor demo`'s default
#: The suite needs a few hours of traffic; the docs' screenshots show a whole day, the default
#: "last 24 hours" range of every page.
HOURS = 24 if os.environ.get(SCREENSHOTS_ENV) else 6
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class DemoStore:
    url: str
    engine: Engine
    #: End of the simulated traffic: the wall clock's minute when the store was built, so the
    #: dashboard's default range (the last 24 hours) covers it.
    end: datetime


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStore]:
    """A SQLite store filled by the real collector from the emulator over HTTPS."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.db'}"
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    built = workload_store.build(
        url,
        seed=SEED,
        days=HOURS / 24,
        end=end,
        backfill_days=(HOURS + 1) / 24,
        now=lambda: datetime.now(UTC),
    )
    engine = built.engine
    failed = [r for r in built.reports if r.status != RUN_SUCCEEDED]
    assert not failed, failed
    try:
        yield DemoStore(url=url, engine=engine, end=end)
    finally:
        engine.dispose()


@contextmanager
def serve_dashboard(store_url: str, log: Path) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free port, as a user starts it; yields its URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["FOUNDRY_MONITOR_DATABASE_URL"] = store_url
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("w") as out:  # a file, not a PIPE: a full pipe would block the server
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not streamlit_healthy(base_url):
            if process.poll() is not None:
                pytest.fail(
                    f"the dashboard exited with code {process.returncode}:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the dashboard was not healthy after {START_TIMEOUT_S} s:\n{log.read_text()}"
                )
            time.sleep(0.2)  # polling interval of the health check
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"dashboard output ({log}):\n{log.read_text()}")


@pytest.fixture(scope="session")
def dashboard(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard of the session."""
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    with serve_dashboard(demo_store.url, log) as base_url:
        yield base_url


@contextmanager
def launched_chromium(
    driver: Playwright, profile: Path, **options: Any
) -> Iterator[BrowserContext]:
    """Debian's headless Chromium with a fresh ``profile`` (``options``: Playwright's context
    options), closed at the end."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)")
    context = driver.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def chromium(
    tmp_path_factory: pytest.TempPathFactory, playwright_driver: Playwright
) -> Iterator[BrowserContext]:
    """Debian's headless Chromium with a fresh profile, for the whole session."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with launched_chromium(playwright_driver, profile, viewport=VIEWPORT) as context:
        expect.set_options(timeout=TIMEOUT_MS)
        yield context


@dataclass
class BrowserPage:
    """A fresh tab (a new Streamlit session) and the JavaScript errors it raised."""

    page: Page
    js_errors: list[str]


@pytest.fixture
def tab(chromium: BrowserContext) -> Iterator[BrowserPage]:
    page = chromium.new_page()
    opened = BrowserPage(page=page, js_errors=[])
    page.on("pageerror", lambda error: opened.js_errors.append(str(error)))
    try:
        yield opened
    finally:
        page.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get(SCREENSHOTS_ENV)
    if not wanted:
        return tmp_path_factory.mktemp("screenshots")
    folder = Path(wanted) if Path(wanted).is_absolute() else ROOT / wanted
    folder.mkdir(parents=True, exist_ok=True)
    return folder
