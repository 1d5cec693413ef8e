"""Text made inert for spreadsheets (CSV injection)."""

from __future__ import annotations

import pytest

from collector.text import csv_cell


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("claude-opus-4-5", "claude-opus-4-5"),
        ("-12.5", "-12.5"),  # a negative number stays a number
        ("+3", "+3"),
        ("", ""),
        (-1.5, -1.5),
        (None, None),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, shown: object) -> None:
    assert csv_cell(value) == shown


def test_dashboard_csv_downloads_make_names_inert_and_keep_numbers() -> None:
    import csv
    import io

    import pandas as pd

    from dashboard.common import csv_bytes

    frame = pd.DataFrame(
        {"deployment": ["=1+1", "claude-opus-4-5"], "variance": [-0.5, 1.25], "day": ["-", "x"]}
    )
    rows = list(csv.DictReader(io.StringIO(csv_bytes(frame).decode())))
    assert [r["deployment"] for r in rows] == ["'=1+1", "claude-opus-4-5"]
    assert [r["variance"] for r in rows] == ["-0.5", "1.25"]
