"""Every table of the dashboard with its downloads (issue #20): :func:`show_table` draws the table
and, under it, a CSV and a Parquet button holding exactly the rows and columns shown, in a file
named after the table, the window and the sidebar's filters.

Cells drawn as charts (the overview's request sparklines) are left out of the files. CSV text
cells go through :func:`collector.text.csv_cell` (no spreadsheet formulas); Parquet keeps the
values as they are, typed (numbers, dates, booleans).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import common as c

CSV_LABEL = "Download CSV"
PARQUET_LABEL = "Download Parquet"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_STEM = 180


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "x"


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H%MZ")


def file_stem(name: str, view: c.View | None, extra: Mapping[str, str] | None = None) -> str:
    """``name``, the view's window and each filter in use, e.g.
    ``overview_2026-11-01T0000Z_2026-11-02T0000Z_resource-ai-weu``."""
    parts = [_slug(name)]
    if view is not None:
        parts += [_stamp(view.since), _stamp(view.until)]
        for key, values in (
            ("subscription", view.subscriptions),
            ("resource", view.resources),
            ("deployment", view.deployments),
            ("model", view.models),
        ):
            if values:
                parts.append(f"{key}-{'+'.join(_slug(v) for v in values)}")
    for key, value in (extra or {}).items():
        parts.append(f"{key}-{_slug(value)}")
    return "_".join(parts)[:MAX_STEM]


def downloadable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the columns drawn as charts (list-valued cells)."""
    charts = [
        name
        for name in frame.columns
        if frame[name].map(lambda v: isinstance(v, list | tuple)).any()
    ]
    return frame.drop(columns=charts)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as CSV (inert for spreadsheets: :func:`dashboard.common.csv_bytes`)."""
    return c.csv_bytes(downloadable(frame))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The table as Parquet; a text column holding other values too is written as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = downloadable(frame).reset_index(drop=True)
    for name in table.columns:
        if table[name].dtype == object:
            kinds = {type(v) for v in table[name] if v is not None and v == v}
            if len(kinds) > 1:
                table[name] = [None if v is None else str(v) for v in table[name]]
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):  # a kind Parquet cannot hold: as text
        text = {n: table[n].map(lambda v: None if v is None else str(v)) for n in table.columns}
        arrow = pa.Table.from_pandas(pd.DataFrame(text), preserve_index=False)
    out = io.BytesIO()
    pq.write_table(arrow, out)
    return out.getvalue()


def download_buttons(
    frame: pd.DataFrame, name: str, extra: Mapping[str, str] | None = None
) -> None:
    """A CSV and a Parquet button for ``frame``, named after the table, window and filters."""
    stem = file_stem(name, c.current_view(), extra)
    formats = (
        (CSV_LABEL, csv_bytes, "csv", "text/csv"),
        (PARQUET_LABEL, parquet_bytes, "parquet", "application/vnd.apache.parquet"),
    )
    left, right, _ = st.columns([1, 1, 4])
    for column, (label, encode, ending, mime) in zip((left, right), formats, strict=True):
        column.download_button(
            label,
            encode(frame),
            file_name=f"{stem}.{ending}",
            mime=mime,
            key=f"download-{ending}-{name}",
            on_click="ignore",
        )


def show_table(
    name: str,
    data: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    download: pd.DataFrame | None = None,
    extra: Mapping[str, str] | None = None,
    **dataframe: Any,
) -> None:
    """``st.dataframe(data, **dataframe)`` and its downloads (``download``: the same rows with
    other columns, where the file keeps what the screen merges, e.g. a model and its version).
    Every table hides its index and shows a dash for a missing value unless told otherwise."""
    table = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    dataframe = {"hide_index": True, "placeholder": c.DASH, **dataframe}
    st.dataframe(table, **dataframe)
    download_buttons(table if download is None else download, name, extra)


def titled_table(
    title: str,
    name: str,
    rows: Sequence[Mapping[str, Any]],
    empty: str,
    **dataframe: Any,
) -> bool:
    """A subheader with its table and downloads (:func:`show_table`, files named ``name``), or
    ``empty`` as a notice; whether there were rows."""
    st.subheader(title)
    if not rows:
        st.info(empty)
        return False
    show_table(name, rows, **dataframe)
    return True
