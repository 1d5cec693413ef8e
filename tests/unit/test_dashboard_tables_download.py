"""Every table of the dashboard goes through the one download helper: no page calls
``st.dataframe`` itself (it would draw a table without its CSV and Parquet buttons)."""

from __future__ import annotations

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
HELPER = DASHBOARD / "downloads.py"


def _dataframe_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"dataframe", "table", "data_editor"}
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
    ]


def test_only_the_download_helper_draws_tables() -> None:
    found = {
        str(path.relative_to(DASHBOARD)): lines
        for path in sorted(DASHBOARD.rglob("*.py"))
        if path != HELPER and (lines := _dataframe_calls(path))
    }
    assert found == {}, "use dashboard.downloads.show_table for these tables"
    assert _dataframe_calls(HELPER), "the helper draws the table itself"
