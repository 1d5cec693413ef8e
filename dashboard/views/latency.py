"""Latency: p50/p95/p99 over time per deployment from the histograms, time to first token
(average and maximum: Azure gives no TTFT percentiles), time to last byte, and deployment changes
marked as vertical rules."""

from __future__ import annotations

import streamlit as st

from collector.store.queries import TTFT, TTLB
from dashboard import charts, downloads
from dashboard import columns as cols
from dashboard import common as c

TTFT_CAPTION = (
    "Time to first token is Azure Monitor's NormalizedTimeToFirstToken, per step: the average "
    "of the minutes' averages weighted by the requests they timed, and the largest maximum. "
    "Azure gives no TTFT percentiles: the metric has only Average, Minimum and Maximum."
)

view = c.page_view("Latency")
c.show_freshness(view)
c.show_unlogged(view)

names = {d.deployment_id: f"{d.resource}/{d.deployment}" for d in c.load_inventory(view.url)}
changes = c.frame(c.load_changes(view.url, view.since, view.until, view.deployment_ids))
if not changes.empty:
    changes["deployment"] = [names.get(i, "?") for i in changes["deployment_id"]]
marks = charts.rules(changes)

points = c.load_latency(view.url, view.since, view.until, view.step, view.deployment_ids)
st.subheader(f"Successful requests: percentiles per {view.step}")
if points.empty:
    st.info("No successful request in this window, so no latency to show: widen the time range.")
else:
    points["deployment"] = [names.get(i, "?") for i in points["deployment_id"]]
    for column, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        st.altair_chart(
            charts.lines(points, column, f"{label} latency (ms)", changes=marks),
            width="stretch",
        )
    st.caption(
        "Nearest-rank percentiles over the merged log-spaced histograms, shown as the upper "
        "bound of the bucket holding them (buckets are about 12 % wide)."
    )

series = c.load_timeseries(
    view.url, view.since, view.until, view.step, view.deployment_ids, (TTFT, TTLB)
)


def average_and_maximum(prefix: str, what: str, metric: str) -> bool:
    """Two charts of an Azure Monitor latency metric per step, average and maximum (``prefix``
    names the series' ``*_avg_ms``/``*_max_ms`` columns); False when it has no data here."""
    shown = series.dropna(subset=[f"{prefix}_avg_ms"]) if not series.empty else series
    if shown.empty:
        st.info(f"No {metric} metric in this window.")
        return False
    shown = shown.assign(deployment=[names.get(i, "?") for i in shown["deployment_id"]])
    left, right = st.columns(2)
    for column, kind, stat in ((left, "Average", "avg"), (right, "Maximum", "max")):
        column.altair_chart(
            charts.lines(shown, f"{prefix}_{stat}_ms", f"{kind} {what} (ms)", changes=marks),
            width="stretch",
        )
    return True


st.subheader("Time to first token (Azure Monitor)")
if average_and_maximum("ttft", "time to first token", "NormalizedTimeToFirstToken"):
    averages = [
        s
        for s in c.load_summary(view.url, view.since, view.until)
        if view.keep(s.deployment_id) and s.ttft_avg_ms is not None
    ]
    if averages:
        downloads.show_table(
            "latency_ttft",
            c.frame(averages)[["resource", "deployment", "ttft_avg_ms"]],
            column_config={
                **cols.names(pinned=False),
                "ttft_avg_ms": st.column_config.NumberColumn(
                    "Average time to first token over the window (ms)", format="%.0f"
                ),
            },
        )
st.caption(TTFT_CAPTION)

st.subheader("Time to last byte (Azure Monitor)")
average_and_maximum("ttlb", "time to last byte", "TimeToLastByte")

st.subheader("Deployment changes")
if changes.empty:
    st.caption("No deployment change in this window.")
else:
    downloads.show_table(
        "latency_changes",
        changes[["changed_at", "deployment", "field", "old_value", "new_value"]],
        column_config={
            "changed_at": st.column_config.DatetimeColumn(
                "Changed (UTC)", format="YYYY-MM-DD HH:mm"
            )
        },
    )
