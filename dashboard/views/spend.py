"""Spend: daily spend per deployment, estimated (tokens x list price) vs billed (the Marketplace
bill allocated over deployments), variance and provisional/final status; CSV download."""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard import common as c

view = c.page_view("Spend")
c.show_freshness(view)

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

left, right = st.columns(2)
left.altair_chart(
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
    right.info("Nothing billed yet for these days: the bill arrives about a day late.")
else:
    right.altair_chart(
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
st.caption(
    "Claude is billed through the Azure Marketplace in one meter, so Cost Management cannot split "
    "it by deployment: the bill is allocated in proportion to the estimates. Marketplace charges "
    "are not covered by Azure credits."
)
