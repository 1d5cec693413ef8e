"""Overview: one row per deployment over the window (traffic, latency, tokens, prompt-cache hit
rate and savings, spend; other publishers' deployments marked "not Claude"), with the freshness
of every source; the other publishers' cost per resource; then the month so far: spend to date,
forecast to month end and budgets. Firing alerts are flagged first."""

from __future__ import annotations

import streamlit as st

from collector.store.queries import REQUESTS
from dashboard import alerting, charts, downloads, month, publishers
from dashboard import columns as cols
from dashboard import common as c

view = c.page_view("Overview")
c.show_freshness(view)
alerting.flag_firing(view)

rows = [s for s in c.load_summary(view.url, view.since, view.until) if view.keep(s.deployment_id)]
if not rows:
    st.info("No deployment had traffic or spend in this window: widen the time range.")
    st.stop()

spark_step = c.sparkline_step(view.until - view.since)
points = c.load_timeseries(
    view.url, view.since, view.until, spark_step, view.deployment_ids, (REQUESTS,)
)
trend: dict[int, list[int]] = {}
if not points.empty:
    filled = charts.fill_steps(
        points, view.since, view.until, spark_step, "deployment_id", ["requests"]
    )
    trend = {k: g["requests"].tolist() for k, g in filled.groupby("deployment_id")}

table = c.frame(rows)
table["trend"] = [trend.get(s.deployment_id, []) for s in rows]
# the peak utilization of each deployment's quota pool (its tightest limit): marked at 80 %
pool_peak: dict[int, float] = {}
for pool in c.load_headroom(view.url, view.since, view.until):
    peaks = [h.utilization for h in pool.by_limit.values() if h.utilization is not None]
    for member in pool.deployments:
        if peaks:
            pool_peak[member.deployment_id] = max(peaks)
table["pool_peak"] = [pool_peak.get(s.deployment_id) for s in rows]
table["pool_mark"] = [
    "⚠ pool ≥ 80 %" if pool_peak.get(s.deployment_id, 0.0) >= 0.8 else "" for s in rows
]
table["publisher"] = [c.publisher(s.claude) for s in rows]
columns = [
    "resource",
    "deployment",
    "model_label",
    "requests",
    "rate_429",
    "error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "input_tokens",
    "output_tokens",
    "cache_hit_rate",
    "cache_savings",
    "spend_estimated",
    "spend_billed",
    "pool_peak",
    "pool_mark",
    "trend",
    "publisher",
]
downloads.show_table(
    "overview",
    table[columns],
    column_config={
        **cols.names(),
        "model_label": st.column_config.TextColumn(
            "Model",
            help="With its version and hosting when the model is deployed in more than one "
            "version.",
        ),
        "requests": cols.count("Requests"),
        "rate_429": cols.percent("429 rate", "Share of requests answered 429 (throttled)."),
        "error_rate": cols.percent(
            "Error rate", "Share of requests answered 4xx (429 included) or 5xx."
        ),
        "p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.0f"),
        "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.0f"),
        "p99_ms": st.column_config.NumberColumn(
            "p99 (ms)",
            format="%.0f",
            help="Successful requests; upper bound of the histogram bucket (about 12 % wide).",
        ),
        "input_tokens": cols.count("Input tokens"),
        "output_tokens": cols.count("Output tokens"),
        "cache_hit_rate": cols.percent(
            "Cache hit rate", "Prompt-cache reads / (uncached input + cache writes + cache reads)."
        ),
        "cache_savings": cols.usd(
            "Cache savings (USD)",
            "What the cache reads saved over plain input, less the cache-write premiums "
            "(estimated, over the UTC days the window touches).",
        ),
        "spend_estimated": cols.usd("Spend est. (USD)", "Tokens x list price."),
        "spend_billed": cols.usd(
            "Spend billed (USD)",
            "The Marketplace bill allocated by the estimates; arrives about a day late.",
        ),
        "pool_peak": cols.percent(
            "Pool peak",
            "Peak minute of the deployment's quota pool against its tightest limit "
            "(Capacity page).",
        ),
        "pool_mark": st.column_config.TextColumn(
            "Quota", help="Marked when the deployment's quota pool peaked at 80 % or more."
        ),
        "trend": st.column_config.LineChartColumn(f"Requests per {spark_step}"),
        "publisher": st.column_config.TextColumn(
            "Publisher",
            help="not Claude: another publisher's model (e.g. OpenAI) on the resource; no "
            "estimate, never a share of the Claude bill.",
        ),
    },
)
st.caption(
    "Latency: successful requests, from the log-spaced histograms. Spend covers the UTC days "
    "the window touches; — means not known yet (never zero)."
)
publishers.show_other_publishers(view, rows)

month.show_month(view)
