"""Column settings that several of the dashboard's tables share (``st.column_config``).

A table's own columns stay with its page; the ones here read the same on every page.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: The prompt-cache token columns, in the order the tables show them.
CACHE_TOKENS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


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
        "cache_read_tokens": st.column_config.NumberColumn("Cache reads", format="localized"),
        "cache_write_5m_tokens": st.column_config.NumberColumn(
            "Cache writes, 5 min", format="localized"
        ),
        "cache_write_1h_tokens": st.column_config.NumberColumn(
            "Cache writes, 1 h", format="localized"
        ),
    }


def spend() -> dict[str, Any]:
    """A deployment's estimate and its allocated bill (USD)."""
    return {
        "estimated": st.column_config.NumberColumn("Estimated (USD)", format="dollar"),
        "billed_allocated": st.column_config.NumberColumn(
            "Billed, allocated (USD)", format="dollar"
        ),
    }
