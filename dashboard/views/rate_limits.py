"""Rate limits: 429s over time per deployment and per quota pool, the likely cause and the fix.

Claude quota is set per subscription: the deployments of one model and version in one
subscription share a pool (Global Standard across regions, Data Zone Standard per data zone), so
a deployment can be throttled by traffic elsewhere.
"""

from __future__ import annotations

import streamlit as st

from collector.pools import PoolKey
from collector.store.queries import CAUSE_POOL, REQUESTS, ThrottleCause
from dashboard import charts, downloads
from dashboard import common as c

view = c.page_view("Rate limits")
c.show_freshness(view)

series = c.load_timeseries(
    view.url, view.since, view.until, view.step, view.deployment_ids, (REQUESTS,)
)
if series.empty or not series["requests"].sum():
    st.info("No requests in this window, so no 429s to show: widen the time range.")
    st.stop()

names = {d.deployment_id: f"{d.resource}/{d.deployment}" for d in c.load_inventory(view.url)}
changes = c.frame(c.load_changes(view.url, view.since, view.until, view.deployment_ids))
if not changes.empty:
    changes["deployment"] = [names.get(i, "?") for i in changes["deployment_id"]]
marks = charts.rules(changes)
counts = charts.fill_steps(
    series, view.since, view.until, view.step, "deployment_id", ["requests", "status_429"]
)
counts["deployment"] = [names.get(i, "?") for i in counts["deployment_id"]]
rates = series.dropna(subset=["rate_429"]).assign(
    deployment=lambda d: [names.get(i, "?") for i in d["deployment_id"]]
)

st.subheader("Per deployment")
if not series["status_429"].sum():
    st.success("No 429 in this window.")
left, right = st.columns(2)
left.altair_chart(
    charts.lines(counts, "status_429", f"429 responses per {view.step}", changes=marks),
    width="stretch",
)
right.altair_chart(
    charts.lines(rates, "rate_429", "429 rate (% of requests)", y_format=".1~%", changes=marks),
    width="stretch",
)

st.subheader("Per quota pool (subscription × model × version × Global / Data Zone)")
pools = c.load_pools(view.url, view.since, view.until, view.step, view.deployment_ids)
if pools.empty:
    st.info("No request of a deployment with a known model in this window.")
else:
    pools["pool"] = [
        PoolKey(*key).label
        for key in zip(
            pools["subscription_id"], pools["model"], pools["model_version"], pools["kind"],
            pools["zone"], strict=True,
        )
    ]  # fmt: skip
    pools = charts.fill_steps(
        pools, view.since, view.until, view.step, "pool", ["requests", "status_429"]
    )
    st.altair_chart(
        charts.lines(
            pools, "status_429", f"429 responses per {view.step}", color="pool", color_title="Pool"
        ),
        width="stretch",
    )
    st.caption(
        "A pool covers every deployment of the model and version in the subscription (Global "
        "Standard: every region; Data Zone Standard: its data zone), including ones outside the "
        "sidebar's filters: they all draw on the same quota. Headroom: the Capacity page."
    )

st.subheader("Likely cause and what to do")
causes = c.load_throttle_causes(view.url, view.since, view.until, view.deployment_ids)
if not causes:
    st.success("No deployment was throttled in this window.")
    st.stop()


def _cause(x: ThrottleCause) -> str:
    if x.cause == CAUSE_POOL:
        return (
            f"Pooled subscription quota: other {x.model} deployments of the subscription were "
            f"throttled in {x.shared_minutes} of its {x.throttled_minutes} throttled minutes"
        )
    alone = x.throttled_minutes - x.shared_minutes
    return (
        f"Its own capacity: only this deployment was throttled in {alone} of its "
        f"{x.throttled_minutes} throttled minutes"
    )


def _todo(x: ThrottleCause) -> str:
    retry = "Retry with exponential back-off and jitter, honouring Retry-After"
    if x.cause == CAUSE_POOL:
        return (
            f"{retry}; spread the pool's traffic over time, or ask for more {x.model} quota "
            "for the subscription (it is shared by all its deployments of the model)"
        )
    return f"{retry}; raise this deployment's capacity, or ask for more {x.model} quota"


downloads.show_table(
    "rate_limits_causes",
    [
        {
            "deployment": f"{x.resource}/{x.deployment}",
            "429s": x.status_429,
            "throttled minutes": x.throttled_minutes,
            "pool deployments": x.pool_deployments,
            "likely cause": _cause(x),
            "what to do": _todo(x),
        }
        for x in causes
    ],
    column_config={
        "likely cause": st.column_config.TextColumn(width="large"),
        "what to do": st.column_config.TextColumn(width="large"),
    },
)
st.caption(
    "Foundry sends no rate-limit headers for Claude: 429s are only visible in Azure Monitor and "
    "the request logs. Quota is per subscription and model (requests, input and output tokens "
    "per minute), shared across regions."
)
