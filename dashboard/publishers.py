"""Deployments of other publishers (e.g. an OpenAI model on a Claude resource), shown by the
overview and spend pages: they are marked "not Claude" in the deployment tables, and their cost,
billed under Azure meters, is shown apart per resource, never allocated Claude's bill.

Figures come from :func:`collector.store.queries.spend_resource_days` (``other_billed``) and
:func:`collector.store.queries.summary` (``claude``); this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
import streamlit as st

from collector.store import queries
from dashboard import columns as cols
from dashboard import common as c
from dashboard import downloads

TITLE = "Other publishers"
CAPTION = (
    "Deployments of other publishers (marked not Claude) are billed under their own Azure "
    "meters, not the Claude Marketplace meter: their cost is shown here per resource over the "
    "UTC days the window touches, and never allocated Claude's bill."
)


def other_publishers(view: c.View, summary: Sequence[queries.DeploymentSummary]) -> pd.DataFrame:
    """Per resource of the view: the other publishers' deployments and their billed cost."""
    wanted = {s.resource_id.lower() for s in summary if view.keep(s.deployment_id)}
    cost: dict[str, Decimal | None] = {}
    names: dict[str, str] = {}
    for r in c.load_spend_resources(view.url, view.since, view.until):
        if view.deployment_ids is not None and r.resource_id.lower() not in wanted:
            continue
        names[r.resource_id.lower()] = r.resource
        if r.other_billed is not None:
            cost[r.resource_id.lower()] = (cost.get(r.resource_id.lower()) or Decimal(0)) + (
                r.other_billed
            )
    deployments: dict[str, list[str]] = {}
    for s in summary:
        if not s.claude and view.keep(s.deployment_id):
            names.setdefault(s.resource_id.lower(), s.resource)
            deployments.setdefault(s.resource_id.lower(), []).append(s.deployment)
    keys = sorted(set(cost) | set(deployments), key=lambda k: (names.get(k, k), k))
    return pd.DataFrame(
        {
            "resource": [names.get(k, k) for k in keys],
            "other_billed": [float(v) if (v := cost.get(k)) is not None else None for k in keys],
            "deployments": [", ".join(deployments.get(k, [])) for k in keys],
        },
        columns=["resource", "other_billed", "deployments"],
    )


def show_other_publishers(view: c.View, summary: Sequence[queries.DeploymentSummary]) -> None:
    """The other publishers' cost per resource (nothing when there is none)."""
    table = other_publishers(view, summary)
    if table.empty:
        return
    st.markdown(f"**{TITLE}**")
    downloads.show_table(
        "other_publishers",
        table,
        column_config={
            "resource": st.column_config.TextColumn("Resource"),
            "other_billed": cols.usd(
                "Other publishers, billed (USD)",
                "Cost under other meters (e.g. Azure OpenAI); — when not billed yet.",
            ),
            "deployments": st.column_config.TextColumn("Deployments not Claude"),
        },
    )
    st.caption(CAPTION)
