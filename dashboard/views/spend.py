"""Spend: the month so far with its forecast and budgets; daily spend per deployment, estimated
(tokens x list price) vs billed (the Marketplace bill allocated over Claude deployments),
variance, prompt-cache hit rate and savings, provisional/final status, other publishers'
deployments marked "not Claude"; the prompt cache over the window; the reconciliation per
resource and day with the other publishers' cost apart; CSV and Parquet downloads of each
table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from collector.store import queries
from dashboard import cache, charts, downloads, month, publishers
from dashboard import columns as cols
from dashboard import common as c

view = c.page_view("Spend")
c.show_freshness(view)
cache.show_unmapped_labels(view)
month.show_month(view)
summary = c.load_summary(view.url, view.since, view.until)

st.subheader("Per day and deployment")
days = c.load_spend(view.url, view.since, view.until, view.deployment_ids)
table = c.frame(days)
if not days:
    st.info(
        "No spend for these days yet. Cost data arrives about a day late (Cost Management "
        "refreshes every few hours and revises recent days), and the spend step must have run "
        "after a cost collection. Try a longer range, or check Collector health."
    )
else:
    table["deployment_label"] = table["resource"] + "/" + table["deployment"]
    table["cache_hit_rate"] = [  # other publishers report no prompt-cache metrics
        queries.cache_hit_rate(
            d.input_tokens, d.cache_read_tokens, d.cache_write_5m_tokens, d.cache_write_1h_tokens
        )
        if d.claude
        else None
        for d in days
    ]
    table["publisher"] = [c.publisher(d.claude) for d in days]
    st.caption(f"UTC days {days[0].day} to {days[-1].day}, as computed by the spend step.")


def _daily(table: pd.DataFrame, days: list[queries.SpendDay]) -> None:
    """Charts, table and CSV of the spend per day and deployment."""
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
        # appended: the CSV's earlier columns keep their order
        *cols.CACHE_TOKENS,
        "cache_hit_rate",
        "cache_savings",
        "publisher",
        "model_version",
    ]
    shown = table[columns]
    # on screen the model carries its version when the model has several (the files keep the
    # model and its version in two columns)
    downloads.show_table(
        "spend_days",
        shown.drop(columns=["model_version"]).assign(model=table["model_label"]),
        download=shown,
        column_config={
            "day": st.column_config.DateColumn("Day (UTC)"),
            **cols.names(pinned=False),
            "model": st.column_config.TextColumn("Model"),
            **cols.spend(),
            "variance": cols.usd("Variance (USD)", "Billed minus estimated."),
            "status": st.column_config.TextColumn(
                "Status", help="provisional: the bill for the day may still change; final: settled."
            ),
            "unpriced": st.column_config.CheckboxColumn("Unpriced"),
            **cols.cache_tokens(),
            "cache_hit_rate": cols.percent(
                "Cache hit rate", "Cache reads / (uncached input + cache writes + cache reads)."
            ),
            "cache_savings": cols.usd("Cache savings (USD)", "Estimated, at list price."),
            "publisher": st.column_config.TextColumn(
                "Publisher",
                help="not Claude: another publisher's model; no estimate, never a share of the "
                "Claude bill (its cost: Other publishers, below).",
            ),
        },
    )


if days:
    _daily(table, days)
cache.show_prompt_cache(view, summary, table)

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
            "other_billed",
        ]
    ]
    drifting = sum(r.drift_flagged for r in resources)
    if drifting:
        st.caption(
            f"⚠️ {drifting} resource-day(s) where the bill and the estimate differ by more than "
            "the drift threshold: check the price sheet (discounts, new prices) and the "
            "deployments' models."
        )
    downloads.show_table(
        "spend_reconciliation",
        reconciliation,
        column_config={
            "day": st.column_config.DateColumn("Day (UTC)"),
            "resource": st.column_config.TextColumn("Resource"),
            "billed": cols.usd("Billed (USD)"),
            "estimated": cols.usd("Estimated (USD)"),
            "unallocated": cols.usd(
                "Unallocated (USD)",
                "Billed with no estimate to allocate it to (e.g. no token metrics).",
            ),
            "variance": cols.usd("Variance (USD)", "Billed minus estimated."),
            "variance_ratio": cols.percent("Variance (% of estimate)"),
            "drift_flagged": st.column_config.CheckboxColumn("Drift"),
            "status": st.column_config.TextColumn("Status"),
            "other_billed": cols.usd(
                "Other publishers (USD)",
                "Cost under other meters (e.g. Azure OpenAI): not part of the Claude bill "
                "above, never allocated.",
            ),
        },
    )

publishers.show_other_publishers(view, summary)

st.caption(
    "Claude is billed through the Azure Marketplace in one meter, so Cost Management cannot split "
    "it by deployment: the bill is allocated over the Claude deployments in proportion to their "
    "estimates (other publishers' deployments get none). Marketplace charges are not covered by "
    "Azure credits."
)
