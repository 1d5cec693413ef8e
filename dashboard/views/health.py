"""Collector health: the last run of every source and scope, and how fresh each source is."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from collector.store.queries import RUN_SUCCEEDED
from dashboard import columns as cols
from dashboard import common as c
from dashboard import downloads

view = c.page_view("Collector health", caption="The collector's own record; not filtered.")
st.caption(f"As of {c.fmt_time(view.now)} UTC")


def _time(value: datetime | None) -> str:
    return c.fmt_time(value) if value else c.DASH


sources = c.load_freshness(view.url, view.now)
if downloads.titled_table(
    "Freshness per source",
    "health_freshness",
    [
        {
            "source": s.source,
            "data complete up to (UTC)": _time(s.watermark_oldest),
            "data age": c.fmt_age(s.data_age),
            "last success": c.fmt_age(s.last_success_age) + " ago"
            if s.last_success_age is not None
            else "never",
            "last run": s.last_run_status or c.DASH,
            "scopes": s.scopes,
        }
        for s in sources
    ],
    "No collection has run yet: start the collector (`foundry-monitor collect`).",
):
    st.caption(
        "Data age: now minus the stalest scope's watermark. Metrics arrive 1 to 3 minutes late, "
        "request logs usually 2 to 5 minutes (sometimes more than 10), costs a day or more."
    )

lags = c.load_log_lag(view.url, view.now)
if downloads.titled_table(
    "Request-log lag",
    "health_log_lag",
    [
        {
            "resource": x.resource,
            "newest metric minute (UTC)": _time(x.newest_metric),
            "newest request-log minute (UTC)": _time(x.newest_log),
            "log lag": c.fmt_age(x.lag),
        }
        for x in lags
    ],
    "No metrics or request logs in the last two days.",
):
    worst = max((x.lag for x in lags if x.lag is not None), default=None)
    st.caption(
        "Observed log lag: the newest minute with a ModelRequests point (Azure Monitor) minus the "
        "newest minute with a request-log row (Log Analytics), per resource, as stored; it "
        "includes the time between collections. Azure's request logs can take more than 10 "
        "minutes to arrive, so the collector re-reads the last "
        f"{c.settings().logs_overlap_minutes} minutes of logs on every run."
        + (f" Largest now: {c.fmt_age(worst)}." if worst is not None else "")
    )
    missing = [x.resource for x in lags if x.newest_log is None]
    if missing:
        st.warning(
            "Metrics but no request-log row in two days from: "
            + ", ".join(c.escape_markdown(m) for m in missing)
            + ". Check the diagnostic settings (RequestResponse to the workspace)."
        )

runs = c.load_health(view.url)
st.subheader("Last run per source and scope")
if not runs:
    st.info("No collection run is recorded yet.")
    st.stop()
failed = [r for r in runs if r.status != RUN_SUCCEEDED]
for run in failed:
    st.warning(
        c.escape_markdown(
            f"{run.source} · {run.scope}: last run {run.status}: {run.error or 'no message'}"
        )
    )
table = c.frame(runs)
table["age"] = [c.fmt_age(view.now - r.started_at) for r in runs]
downloads.show_table(
    "health_runs",
    table[
        [
            "source",
            "scope",
            "status",
            "started_at",
            "age",
            "window_start",
            "window_end",
            "rows",
            "azure_calls",
            "throttled_calls",
            "duration_s",
            "error",
        ]
    ],
    column_config={
        "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm"),
        "age": st.column_config.TextColumn("Age"),
        "window_start": st.column_config.DatetimeColumn("Window from", format="YYYY-MM-DD HH:mm"),
        "window_end": st.column_config.DatetimeColumn("Window to", format="YYYY-MM-DD HH:mm"),
        "rows": cols.count("Rows"),
        "azure_calls": st.column_config.NumberColumn("Azure calls"),
        "throttled_calls": st.column_config.NumberColumn("Throttled"),
        "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
        "error": st.column_config.TextColumn("Error", width="large"),
    },
)
