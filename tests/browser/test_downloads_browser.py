"""Every table page in headless Chromium: each table has its CSV and Parquet download buttons,
and the downloaded files hold the table's rows (as many as the grid has, the same first
column as far as the grid draws it)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from collector.store.schema import TABLES
from dashboard.downloads import CSV_LABEL, PARQUET_LABEL
from tests.browser.conftest import BrowserPage, DemoStore
from tests.browser.test_dashboard_browser import PAGES, open_page, wait_for_run

pytestmark = pytest.mark.browser

#: Pages without a table (the errors page explains each status code as text); every other page
#: of the dashboard is tested, new ones included.
NO_TABLES = {"errors"}
TABLE_PAGES = [p.path for p in PAGES if p.name not in NO_TABLES]


def _failed_id(store: DemoStore) -> str:
    log = TABLES["request_log"]
    with store.engine.connect() as conn:
        return str(
            conn.execute(
                select(log.c.correlation_id).where(log.c.status_code >= 400).limit(1)
            ).scalar_one()
        )


def _download(page: Page, button: Locator, folder: Path) -> Path:
    with page.expect_download() as info:
        button.click()
    download = info.value
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def _grid(table: Locator) -> tuple[int, list[list[str]]]:
    """The grid's row count (without its header) and the cells of the rows it has drawn (a data
    grid draws on a canvas; its accessible table holds the rows in view)."""
    grid = table.get_by_role("grid", include_hidden=True)
    rows = int(grid.get_attribute("aria-rowcount") or 0) - 1
    cells = grid.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.querySelectorAll('td'), td => td.textContent || ''))"
    )
    return rows, [[str(c) for c in row] for row in cells]


def _named(cells: list[str]) -> set[str]:
    """The cells holding a name (a letter): what a file keeps as the table shows it (numbers,
    money and times are formatted on screen)."""
    return {c for c in cells if any(ch.isalpha() for ch in c)}


@pytest.mark.parametrize("path", TABLE_PAGES, ids=[p or "overview" for p in TABLE_PAGES])
def test_each_table_downloads_its_own_rows_as_csv_and_parquet(
    path: str, dashboard: str, demo_store: DemoStore, tab: BrowserPage, tmp_path: Path
) -> None:
    page = tab.page
    query = f"?id={_failed_id(demo_store)}" if path == "lookup" else ""
    open_page(page, f"{dashboard}/{path}{query}")
    wait_for_run(page)
    tables = page.get_by_test_id("stDataFrame")
    count = tables.count()
    assert count > 0
    buttons = page.get_by_test_id("stDownloadButton")
    expect(buttons).to_have_count(2 * count)
    for i in range(count):
        csv_button, parquet_button = buttons.nth(2 * i), buttons.nth(2 * i + 1)
        expect(csv_button).to_have_text(CSV_LABEL)
        expect(parquet_button).to_have_text(PARQUET_LABEL)
        table = tables.nth(i)
        table.scroll_into_view_if_needed()
        rows, drawn = _grid(table)
        csv_file = _download(page, csv_button, tmp_path)
        parquet_file = _download(page, parquet_button, tmp_path)
        assert csv_file.suffix == ".csv" and parquet_file.suffix == ".parquet"
        assert csv_file.stem == parquet_file.stem
        with csv_file.open(newline="", encoding="utf-8") as f:
            from_csv = list(csv.reader(f))
        header, body = from_csv[0], from_csv[1:]
        from_parquet = pq.read_table(io.BytesIO(parquet_file.read_bytes()))
        assert len(body) == rows == from_parquet.num_rows, (path, i, csv_file.name)
        assert header == from_parquet.column_names
        assert drawn, (path, i)
        for k, cells in enumerate(drawn):  # row by row, in the table's order
            assert _named(cells) & set(body[k]), (path, i, k, cells, body[k])
