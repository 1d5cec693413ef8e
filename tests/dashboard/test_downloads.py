"""Every table on every page carries a CSV and a Parquet download (AppTest over the seeded store),
and the helper's files hold the table's rows: names inert in CSV, values typed in Parquet."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dashboard import common, downloads
from tests.dashboard.conftest import SeededStore
from tests.dashboard.test_pages import PAGES, run

#: Pages drawing tables (the errors page lists each status code and its fix as text).
TABLE_PAGES = [p for p in PAGES if p != "views/errors.py"]


@pytest.mark.parametrize("page", TABLE_PAGES)
def test_every_table_has_a_csv_and_a_parquet_download(seeded: SeededStore, page: str) -> None:
    if page == "views/lookup.py":  # its tables appear once a request is looked up
        failed = next(r for r in seeded.seed.logged() if r.status == 429)
        at = run(page, id=failed.correlation_id)
    else:
        at = run(page)
    assert len(at.dataframe) > 0
    buttons = at.get("download_button")
    labels = [getattr(b, "label", None) for b in buttons]
    assert labels == [downloads.CSV_LABEL, downloads.PARQUET_LABEL] * len(at.dataframe)
    keys = [getattr(b, "proto").id.rsplit("-download-", 1)[-1] for b in buttons]  # noqa: B009
    assert all(k.startswith("csv-") for k in keys[::2])
    assert [k.removeprefix("parquet-") for k in keys[1::2]] == [
        k.removeprefix("csv-") for k in keys[::2]
    ]


def _view(**filters: tuple[str, ...]) -> common.View:
    return common.View(
        url="sqlite://",
        now=datetime(2026, 11, 2, 12, tzinfo=UTC),
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 11, 2, 12, 30, tzinfo=UTC),
        range_key="custom",
        retention_days=30,
        **filters,  # type: ignore[arg-type]
    )


def test_the_file_name_holds_the_table_the_window_and_the_filters() -> None:
    assert downloads.file_stem("overview", _view()) == (
        "overview_2026-11-01T0000Z_2026-11-02T1230Z"
    )
    stem = downloads.file_stem(
        "spend_days",
        _view(resources=("ai-weu",), deployments=("chat", "x/../y"), models=("claude-sonnet-4-5",)),
        {"id": "0f8fad5b"},
    )
    assert stem == (
        "spend_days_2026-11-01T0000Z_2026-11-02T1230Z_resource-ai-weu_deployment-chat+x-..-y"
        "_model-claude-sonnet-4-5_id-0f8fad5b"
    )
    assert "/" not in stem


def test_csv_and_parquet_hold_the_same_rows_without_the_chart_cells() -> None:
    table = pd.DataFrame(
        {
            "deployment": ['=HYPERLINK("x")', "chat"],
            "requests": [3, 4],
            "spend": [1.25, None],
            "day": [datetime(2026, 11, 1).date(), datetime(2026, 11, 2).date()],
            "trend": [[1, 2], [3]],
            "mixed": ["—", 1.5],
        }
    )
    from_csv = pd.read_csv(io.BytesIO(downloads.csv_bytes(table)))
    from_parquet = pq.read_table(io.BytesIO(downloads.parquet_bytes(table))).to_pandas()
    assert (
        list(from_csv.columns)
        == list(from_parquet.columns)
        == ["deployment", "requests", "spend", "day", "mixed"]
    )
    assert len(from_csv) == len(from_parquet) == 2
    assert from_csv["deployment"].tolist() == ['\'=HYPERLINK("x")', "chat"]  # inert
    assert from_parquet["deployment"].tolist() == ['=HYPERLINK("x")', "chat"]
    assert from_csv["requests"].tolist() == from_parquet["requests"].tolist() == [3, 4]
    assert from_parquet["spend"].tolist()[0] == 1.25 and pd.isna(from_parquet["spend"][1])
    assert from_parquet["mixed"].tolist() == ["—", "1.5"]  # text where a column mixes kinds


def test_a_column_parquet_cannot_type_is_written_as_text() -> None:
    table = pd.DataFrame({"name": ["a", "b"], "odd": [1 + 2j, 3j]})
    back = pq.read_table(io.BytesIO(downloads.parquet_bytes(table))).to_pandas()
    assert back["name"].tolist() == ["a", "b"]
    assert back["odd"].tolist() == ["(1+2j)", "3j"]
