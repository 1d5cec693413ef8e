"""The spend page's prompt-cache parts: cache reads, writes by TTL (5 minutes, 1 hour) and
savings per deployment and over time (per day, and per hour when the window is short), and the
warning about ``ContextLength`` labels the price sheet does not map.

Figures come from :func:`collector.store.queries.summary` (per deployment over the window),
:func:`collector.store.queries.spend_days` (per day), :func:`collector.store.hourly.spend_by_hour`
(per hour) and :func:`collector.store.queries.context_label_values` against the price sheet; this
module only lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from collector.errors import FoundryMonitorError
from collector.spend.estimate import sum_known
from collector.spend.refresh import unmapped_labels_warning
from collector.store import queries
from dashboard import charts, downloads
from dashboard import columns as cols
from dashboard import common as c

TITLE = "Prompt cache"
#: Cache token columns and how the charts name them.
KINDS: dict[str, str] = {
    "cache_read_tokens": "reads",
    "cache_write_5m_tokens": "writes, 5 min TTL",
    "cache_write_1h_tokens": "writes, 1 h TTL",
}
#: Windows up to this long also get the hourly charts.
HOURLY_UP_TO = timedelta(days=2)
#: ``charts.daily_bars`` or ``charts.stacked_bars``: (frame, y, y title, colour, colour title)
Bars = Callable[..., alt.Chart]
CAPTION = (
    "Azure Monitor's cacheReadInputTokens, ephemeral5mInputTokens and ephemeral1hInputTokens "
    "(Claude deployments only). Hit rate: cache reads / (uncached input + cache writes + cache "
    "reads). Savings: what the reads would have cost as plain input, less what they and the "
    "write premiums cost, at list price (estimated; negative when writes were not read back "
    "enough to pay off)."
)


NO_CACHE = (
    "No prompt-cache tokens in this window: Azure reports them for Claude deployments whose "
    "requests use prompt caching (cache_control), one collection after they happen."
)


def unmapped_warning(view: c.View) -> str | None:
    """The warning to show when the store has ``ContextLength`` labels the price sheet does not
    map (Markdown-escaped), else None."""
    labels = c.load_unmapped_labels(view.url, c.price_file())
    return c.escape_markdown(unmapped_labels_warning(labels)) if labels else None


def show_unmapped_labels(view: c.View) -> None:
    try:
        text = unmapped_warning(view)
    except FoundryMonitorError as exc:  # a bad price file
        st.error(c.escape_markdown(str(exc)))
        return
    if text:
        st.warning(text, icon="🏷️")


def melt_kinds(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per key and cache token kind (column ``kind``, ``tokens``)."""
    long = df.melt(id_vars=list(keys), value_vars=list(KINDS), var_name="kind", value_name="tokens")
    return long.assign(kind=long["kind"].map(KINDS))


def show_prompt_cache(
    view: c.View, summary: Sequence[queries.DeploymentSummary], days: pd.DataFrame
) -> None:
    """Tiles and a table per deployment over the window, then charts per day (``days``: the
    spend page's frame of ``spend_days``) and per hour when the window is short."""
    st.subheader(TITLE)
    rows = [s for s in summary if view.keep(s.deployment_id)]
    reads, writes_5m, writes_1h, savings = st.columns(4)
    reads.metric("Cache reads (tokens)", f"{sum(s.cache_read_tokens for s in rows):,}")
    writes_5m.metric(
        "Cache writes, 5 min (tokens)", f"{sum(s.cache_write_5m_tokens for s in rows):,}"
    )
    writes_1h.metric(
        "Cache writes, 1 h (tokens)", f"{sum(s.cache_write_1h_tokens for s in rows):,}"
    )
    savings.metric(
        "Cache savings (USD)",
        c.fmt_usd(sum_known([s.cache_savings for s in rows])),
        help="Estimated, over the UTC days the window touches.",
    )
    tokens = [s.cache_read_tokens + s.cache_write_5m_tokens + s.cache_write_1h_tokens for s in rows]
    if not any(tokens):
        st.info(NO_CACHE)
    if rows:
        table = c.frame(rows)
        table["publisher"] = [c.publisher(s.claude) for s in rows]
        downloads.show_table(
            "prompt_cache",
            table[
                [
                    "resource",
                    "deployment",
                    *cols.CACHE_TOKENS,
                    "cache_hit_rate",
                    "cache_savings",
                    "publisher",
                ]
            ],
            column_config={
                **cols.names(),
                **cols.cache_tokens(),
                "cache_hit_rate": cols.percent("Hit rate"),
                "cache_savings": cols.usd("Savings (USD)"),
                "publisher": st.column_config.TextColumn("Publisher"),
            },
        )
    if not days.empty and days[list(KINDS)].to_numpy().sum() > 0:
        _charts(days, ["day"], charts.daily_bars, "day")
    if view.until - view.since <= HOURLY_UP_TO:
        _hourly(view)
    st.caption(CAPTION)


def _hourly(view: c.View) -> None:
    try:
        hours = c.load_spend_hours(
            view.url, view.since, view.until, view.deployment_ids, c.price_file()
        )
    except FoundryMonitorError as exc:  # a bad price file
        st.error(c.escape_markdown(str(exc)))
        return
    if hours.empty or hours[list(KINDS)].to_numpy().sum() == 0:
        st.caption("No prompt-cache tokens in this window's hours.")
        return
    hours = hours.assign(deployment_label=hours["resource"] + "/" + hours["deployment"])
    _charts(hours, ["ts", "deployment_label"], charts.stacked_bars, "hour")


def _charts(table: pd.DataFrame, keys: list[str], bars: Bars, per: str) -> None:
    """Tokens by kind (left) and savings by deployment (right), a bar per ``per``."""
    left, right = st.columns(2)
    left.altair_chart(
        bars(
            melt_kinds(table, keys),
            "tokens",
            f"Prompt-cache tokens per {per}",
            color="kind",
            color_title="Cache",
        ),
        width="stretch",
    )
    saved = table.dropna(subset=["cache_savings"])
    if not saved.empty:
        right.altair_chart(
            bars(
                saved,
                "cache_savings",
                f"Cache savings per {per} (USD)",
                color="deployment_label",
                color_title="Deployment",
            ),
            width="stretch",
        )
