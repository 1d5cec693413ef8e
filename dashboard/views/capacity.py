"""Capacity: headroom per Claude quota pool (issue 17). Foundry sends no rate-limit headers for
Claude; this page rebuilds them from Azure Monitor: per pool (subscription, model, version,
Global or Data Zone), each limit's utilization over time against the 100 % line with the pool's
429 minutes marked, then the table of peaks, p99, minutes near the limit, binding limit, what is
left and the forecast, and where each limit comes from."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from collector.headroom import PoolHeadroom
from collector.quota_limits import LIMITS
from dashboard import charts, downloads
from dashboard import columns as cols
from dashboard import common as c

view = c.page_view(
    "Capacity",
    "Usage per minute of each quota pool, summed over its deployments in every region, "
    "against its limits (RPM, ITPM = uncached input + cache writes, OTPM).",
)
c.show_freshness(view)

#: up to a week, each 429 minute is traced to the pool or a deployment (every deployment's
#: minutes are read); beyond, the pool figures alone keep a 30-day page fast
DETAIL = view.until - view.since <= timedelta(days=7)
pools = c.load_headroom(view.url, view.since, view.until, DETAIL)
if not pools:
    st.info("No Claude deployment is stored yet: run the collector (foundry-monitor run).")
    st.stop()
if not any(p.by_limit["rpm"].peak for p in pools):
    st.info("No accepted request in this window: widen the time range.")
    st.stop()


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _row(p: PoolHeadroom) -> dict[str, object]:
    bind = p.by_limit[p.binding_limit] if p.binding_limit else None
    return {
        "pool": p.key.label,
        "kind": f"{p.key.kind} {p.key.zone}".strip(),
        "deployments": len(p.deployments),
        "regions": ", ".join(sorted({d.region for d in p.deployments})),
        **{f"limit_{k}": p.by_limit[k].value for k in LIMITS},
        **{f"peak_{k}": _pct(p.by_limit[k].utilization) for k in LIMITS},
        "binding": p.binding_limit.upper() if p.binding_limit else "unknown",
        "minutes_over_80": p.minutes_over_80,
        "throttled_minutes": p.throttled_minutes,
        "level": (p.binding_level or "") if DETAIL else "—",
        "forecast": bind.forecast if bind else "",
        "source": p.limits.source,
    }


st.subheader("Quota pools")
table = pd.DataFrame([_row(p) for p in pools])
downloads.show_table(
    "capacity_pools",
    table,
    column_config={
        "pool": st.column_config.TextColumn("Pool", pinned=True),
        "kind": st.column_config.TextColumn(
            "Kind", help="Global: one pool across regions; DataZone: one per data zone."
        ),
        **{f"limit_{k}": cols.count(f"{k.upper()} limit") for k in LIMITS},
        **{f"peak_{k}": cols.percent(f"{k.upper()} peak", "Peak minute / limit.") for k in LIMITS},
        "binding": st.column_config.TextColumn(
            "Binding", help="The limit closest to its ceiling at peak."
        ),
        "minutes_over_80": st.column_config.NumberColumn(
            "Minutes ≥ 80 %", help="Minutes in which any limit was at or above 80 %."
        ),
        "throttled_minutes": st.column_config.NumberColumn("429 minutes"),
        "level": st.column_config.TextColumn(
            "Throttled by",
            help="What most 429 minutes point at: the pool's limits or a deployment's own "
            "capacity (ARM sku.capacity). Windows up to 7 days.",
        ),
        "forecast": st.column_config.TextColumn(
            "Binding limit reached", help="When the daily peak reaches it at the current trend."
        ),
        "source": st.column_config.TextColumn(
            "Limits from", help="shipped default (the offer's documented default) or setting."
        ),
    },
)
for p in pools:
    if p.limits.note:
        st.warning(c.escape_markdown(f"{p.key.label}: {p.limits.note}"))
st.caption(
    "Limits are the documented defaults of the subscription's offer unless "
    "FOUNDRY_MONITOR_QUOTA_LIMITS sets the granted ones (see foundry-monitor doctor)."
)

st.subheader("Utilization over time")
series = c.load_utilization(view.url, view.since, view.until, view.step)
labels = [p.key.label for p in pools]
chosen = st.selectbox("Pool", labels, index=0)
points = series[series["pool"] == chosen] if not series.empty else series
if points.empty or points["utilization"].isna().all():
    st.info("This pool's limits are unknown or it had no traffic: nothing to compare.")
else:
    data = points.assign(ts=charts.naive_utc(points["ts"]), limit=points["limit"].str.upper())
    base = alt.Chart(data).encode(x=alt.X("ts:T", title=charts.TIME_TITLE))
    usage = base.mark_line(point=len(data) < 180).encode(
        y=alt.Y(
            "utilization:Q", title=f"Peak minute per {view.step} / limit", axis=alt.Axis(format="%")
        ),
        # no red among the limits: red is the 100 % line and the 429 marks
        color=alt.Color(
            "limit:N", title="Limit", scale=alt.Scale(range=["#1f77b4", "#9467bd", "#2ca02c"])
        ),
        tooltip=[
            alt.Tooltip("ts:T", title="Time (UTC)", format="%Y-%m-%d %H:%M"),
            "limit:N",
            alt.Tooltip("peak:Q", title="Peak minute", format=","),
            alt.Tooltip("utilization:Q", format=".1%"),
            alt.Tooltip("status_429:Q", title="429s"),
        ],
    )
    ceiling = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="red").encode(y="y:Q")
    throttled = (
        base.transform_filter("datum.status_429 > 0")
        .mark_tick(color="red", thickness=2)
        .encode(y=alt.value(0), tooltip=[alt.Tooltip("status_429:Q", title="429s")])
    )
    st.altair_chart((usage + ceiling + throttled).properties(height=300), width="stretch")
    st.caption("Red line: the limit (100 %). Red ticks along the top: steps with 429s in the pool.")
