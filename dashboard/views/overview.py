"""Overview: one row per deployment over the window, with the freshness of every source; then
the month so far: spend to date, forecast to month end and budgets."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, month
from dashboard import common as c

view = c.page_view("Overview")
c.show_freshness(view)

rows = [s for s in c.load_summary(view.url, view.since, view.until) if view.keep(s.deployment_id)]
if not rows:
    st.info("No deployment had traffic or spend in this window: widen the time range.")
    st.stop()

spark_step = c.sparkline_step(view.until - view.since)
points = c.load_timeseries(view.url, view.since, view.until, spark_step, view.deployment_ids)
trend: dict[int, list[int]] = {}
if not points.empty:
    filled = charts.fill_steps(
        points, view.since, view.until, spark_step, "deployment_id", ["requests"]
    )
    trend = {k: g["requests"].tolist() for k, g in filled.groupby("deployment_id")}

table = c.frame(rows)
table["trend"] = [trend.get(s.deployment_id, []) for s in rows]
columns = [
    "resource",
    "deployment",
    "model",
    "requests",
    "rate_429",
    "error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "input_tokens",
    "output_tokens",
    "spend_estimated",
    "spend_billed",
    "trend",
]
st.dataframe(
    table[columns],
    hide_index=True,
    placeholder=c.DASH,
    column_config={
        "resource": st.column_config.TextColumn("Resource"),
        "deployment": st.column_config.TextColumn("Deployment", pinned=True),
        "model": st.column_config.TextColumn("Model"),
        "requests": st.column_config.NumberColumn("Requests", format="localized"),
        "rate_429": st.column_config.NumberColumn(
            "429 rate", format="percent", help="Share of requests answered 429 (throttled)."
        ),
        "error_rate": st.column_config.NumberColumn(
            "Error rate",
            format="percent",
            help="Share of requests answered 4xx (429 included) or 5xx.",
        ),
        "p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.0f"),
        "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.0f"),
        "p99_ms": st.column_config.NumberColumn(
            "p99 (ms)",
            format="%.0f",
            help="Successful requests; upper bound of the histogram bucket (about 12 % wide).",
        ),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
        "spend_estimated": st.column_config.NumberColumn(
            "Spend est. (USD)", format="dollar", help="Tokens x list price."
        ),
        "spend_billed": st.column_config.NumberColumn(
            "Spend billed (USD)",
            format="dollar",
            help="The Marketplace bill allocated by the estimates; arrives about a day late.",
        ),
        "trend": st.column_config.LineChartColumn(f"Requests per {spark_step}"),
    },
)
st.caption(
    "Latency: successful requests, from the log-spaced histograms. Spend covers the UTC days "
    "the window touches; — means not known yet (never zero)."
)

month.show_month(view)
