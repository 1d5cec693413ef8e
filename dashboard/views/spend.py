"""Spend: the month so far with its forecast and budgets; daily spend per deployment, estimated
(tokens x list price) vs billed (the Marketplace bill allocated over deployments), variance and
provisional/final status; the reconciliation per resource and day; CSV downloads of both."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, month
from dashboard import common as c

view = c.page_view("Spend")
c.show_freshness(view)
month.show_month(view)

st.subheader("Per day and deployment")
days = c.load_spend(view.url, view.since, view.until, view.deployment_ids)
if not days:
    st.info(
        "No spend for these days yet. Cost data arrives about a day late (Cost Management "
        "refreshes every few hours and revises recent days), and the spend step must have run "
        "after a cost collection. Try a longer range, or check Collector health."
    )
    st.stop()

table = c.frame(days)
table["deployment_label"] = table["resource"] + "/" + table["deployment"]
st.caption(f"UTC days {days[0].day} to {days[-1].day}, as computed by the spend step.")

st.altair_chart(
    charts.daily_bars(
        table,
        "estimated",
        "Estimated spend (USD)",
        color="deployment_label",
        color_title="Deployment",
    ),
    width="stretch",
)
billed = table.dropna(subset=["billed_allocated"])
if billed.empty:
    st.info("Nothing billed yet for these days: the bill arrives about a day late.")
else:
    st.altair_chart(
        charts.daily_bars(
            billed,
            "billed_allocated",
            "Billed spend, allocated (USD)",
            color="deployment_label",
            color_title="Deployment",
        ),
        width="stretch",
    )

if table["unpriced"].any():
    st.warning(
        "Some deployments use a model missing from the price sheet: their estimate is unknown "
        "(never $0). Add the model's prices to the price sheet."
    )

columns = [
    "day",
    "resource",
    "deployment",
    "model",
    "estimated",
    "billed_allocated",
    "variance",
    "status",
    "unpriced",
]
shown = table[columns]
st.dataframe(
    shown,
    hide_index=True,
    placeholder=c.DASH,
    column_config={
        "day": st.column_config.DateColumn("Day (UTC)"),
        "resource": st.column_config.TextColumn("Resource"),
        "deployment": st.column_config.TextColumn("Deployment"),
        "model": st.column_config.TextColumn("Model"),
        "estimated": st.column_config.NumberColumn("Estimated (USD)", format="dollar"),
        "billed_allocated": st.column_config.NumberColumn(
            "Billed, allocated (USD)", format="dollar"
        ),
        "variance": st.column_config.NumberColumn(
            "Variance (USD)", format="dollar", help="Billed minus estimated."
        ),
        "status": st.column_config.TextColumn(
            "Status", help="provisional: the bill for the day may still change; final: settled."
        ),
        "unpriced": st.column_config.CheckboxColumn("Unpriced"),
    },
)
st.download_button(
    "Download CSV",
    shown.to_csv(index=False).encode(),
    file_name=f"spend_{days[0].day}_{days[-1].day}.csv",
    mime="text/csv",
)

st.subheader("Reconciliation per resource and day")
wanted = {d.resource_id.lower() for d in c.load_inventory(view.url) if view.keep(d.deployment_id)}
resources = [
    r
    for r in c.load_spend_resources(view.url, view.since, view.until)
    if view.deployment_ids is None or r.resource_id.lower() in wanted
]
if not resources:
    st.info("No bill to reconcile for these days yet: the bill arrives about a day late.")
else:
    reconciliation = c.frame(resources)[
        [
            "day",
            "resource",
            "billed",
            "estimated",
            "unallocated",
            "variance",
            "variance_ratio",
            "drift_flagged",
            "status",
        ]
    ]
    drifting = sum(r.drift_flagged for r in resources)
    if drifting:
        st.caption(
            f"⚠️ {drifting} resource-day(s) where the bill and the estimate differ by more than "
            "the drift threshold: check the price sheet (discounts, new prices) and the "
            "deployments' models."
        )
    st.dataframe(
        reconciliation,
        hide_index=True,
        placeholder=c.DASH,
        column_config={
            "day": st.column_config.DateColumn("Day (UTC)"),
            "resource": st.column_config.TextColumn("Resource"),
            "billed": st.column_config.NumberColumn("Billed (USD)", format="dollar"),
            "estimated": st.column_config.NumberColumn("Estimated (USD)", format="dollar"),
            "unallocated": st.column_config.NumberColumn(
                "Unallocated (USD)",
                format="dollar",
                help="Billed with no estimate to allocate it to (e.g. no token metrics).",
            ),
            "variance": st.column_config.NumberColumn(
                "Variance (USD)", format="dollar", help="Billed minus estimated."
            ),
            "variance_ratio": st.column_config.NumberColumn(
                "Variance (% of estimate)", format="percent"
            ),
            "drift_flagged": st.column_config.CheckboxColumn("Drift"),
            "status": st.column_config.TextColumn("Status"),
        },
    )
    st.download_button(
        "Download reconciliation CSV",
        reconciliation.to_csv(index=False).encode(),
        file_name=f"reconciliation_{resources[0].day}_{resources[-1].day}.csv",
        mime="text/csv",
    )

st.caption(
    "Claude is billed through the Azure Marketplace in one meter, so Cost Management cannot split "
    "it by deployment: the bill is allocated in proportion to the estimates. Marketplace charges "
    "are not covered by Azure credits."
)
