"""Column settings that several of the dashboard's tables share (``st.column_config``).

A table's own columns stay with its page; the ones here read the same on every page, and the
column kinds (:func:`usd`, :func:`percent`, :func:`count`) show a number the same way on every
table.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: The prompt-cache token columns, in the order the tables show them.
CACHE_TOKENS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


def usd(label: str, help: str | None = None) -> Any:
    """A money column, shown as dollars (``$1,234.57``)."""
    return st.column_config.NumberColumn(label, format="dollar", help=help)


def percent(label: str, help: str | None = None) -> Any:
    """A share (0 to 1), shown as a percentage."""
    return st.column_config.NumberColumn(label, format="percent", help=help)


def count(label: str, help: str | None = None) -> Any:
    """A count (requests, tokens), shown with the reader's thousands separators."""
    return st.column_config.NumberColumn(label, format="localized", help=help)


def names(*, pinned: bool = True) -> dict[str, Any]:
    """``resource`` and ``deployment`` (``pinned``: the deployment stays in view on scrolling)."""
    deployment = (
        st.column_config.TextColumn("Deployment", pinned=True)
        if pinned
        else st.column_config.TextColumn("Deployment")
    )
    return {"resource": st.column_config.TextColumn("Resource"), "deployment": deployment}


def cache_tokens() -> dict[str, Any]:
    """The prompt-cache token columns (:data:`CACHE_TOKENS`)."""
    return {
        "cache_read_tokens": count("Cache reads"),
        "cache_write_5m_tokens": count("Cache writes, 5 min"),
        "cache_write_1h_tokens": count("Cache writes, 1 h"),
    }


def spend() -> dict[str, Any]:
    """A deployment's estimate and its allocated bill (USD)."""
    return {
        "estimated": usd("Estimated (USD)"),
        "billed_allocated": usd("Billed, allocated (USD)"),
    }
