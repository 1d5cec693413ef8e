"""The month so far, shown by the overview and spend pages: spend to date (estimated and billed)
and the forecast to month end per deployment, budget states, and the Marketplace credits warning.

Every figure comes from :func:`collector.store.months.spend_month` and
:func:`collector.store.months.budgets`; this module only lays them out.
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from collector.spend import month as months
from collector.spend.budgets import OK, OVER, WARNING
from collector.spend.estimate import sum_known
from dashboard import columns as cols
from dashboard import common as c
from dashboard import downloads

STATE_LABELS = {OK: "🟢 ok", WARNING: "🟠 warning", OVER: "🔴 over"}
_RANK = {OK: 0, WARNING: 1, OVER: 2}

NO_BUDGETS = (
    "No budgets configured: add [[foundry_monitor.budgets]] tables (deployment or resource, "
    "monthly_usd) to the config file, or FOUNDRY_MONITOR_BUDGETS as JSON."
)


def _deployment_states(statuses: list[months.BudgetStatus]) -> dict[int, str]:
    """The worst state of the deployment budgets covering each deployment."""
    worst: dict[int, str] = {}
    for b in statuses:
        if b.scope != "deployment":
            continue
        for dep_id in b.deployment_ids:
            current = worst.get(dep_id)
            if current is None or _RANK[b.state] > _RANK[current]:
                worst[dep_id] = b.state
    return worst


def show_month(view: c.View) -> months.MonthSpend:
    """Lay out the month's spend, forecast and budgets for the view's deployments."""
    options = c.spend_options()
    now = c.floor_minute(view.now)
    month = c.load_spend_month(view.url, now, options)
    statuses = c.load_budgets(view.url, now, options)
    st.subheader(f"This month: {month.month_start:%B %Y} to date (UTC)")
    if month.credits_warning:
        st.warning(month.credits_warning, icon="💳")
    rows = [d for d in month.deployments if view.keep(d.deployment_id)]
    if view.deployment_ids is None:
        spent, estimated, billed = month.spent, month.estimated, month.billed
        forecast: Decimal = month.forecast_total
    else:
        spent = sum((r.spent for r in rows), Decimal(0))
        estimated = sum_known([r.estimated for r in rows]) or Decimal(0)
        billed = sum_known([r.billed_allocated for r in rows]) or Decimal(0)
        forecast = sum((r.forecast_total for r in rows), Decimal(0))
    if not rows and not month.spent:
        st.info(
            "No spend recorded this month yet: the spend step runs after each collection, and "
            "bills arrive about a day late."
        )
    else:
        spent_tile, estimated_tile, billed_tile, forecast_tile = st.columns(4)
        spent_tile.metric(
            "Spent to date (USD)",
            c.fmt_usd(spent),
            help="Each day's allocated bill when it is in, else its estimate.",
        )
        estimated_tile.metric("Estimated (USD)", c.fmt_usd(estimated), help="Tokens x list price.")
        billed_tile.metric(
            "Billed (USD)",
            c.fmt_usd(billed),
            help="The Claude Marketplace bill so far (about a day late).",
        )
        forecast_tile.metric(
            "Forecast to month end (USD)",
            c.fmt_usd(forecast),
            help="The month's spend so far plus the forecast of its remaining days.",
        )
        _deployment_table(rows, statuses)
        scope = (
            "all deployments, unallocated bills included"
            if view.deployment_ids is None
            else "the selected deployments (unallocated bills left out)"
        )
        st.caption(
            f"Totals over {scope}. Forecast: {month.forecast_method}. Days up to "
            f"{month.today} (UTC); provisional days may still change."
        )
        if month.unpriced:
            st.caption(
                "⚠️ Some deployments use a model missing from the price sheet: their estimate "
                "is unknown (never $0)."
            )
    _budget_table(view, statuses, bool(options.budgets))
    return month


def _deployment_table(
    rows: list[months.DeploymentMonthSpend], statuses: list[months.BudgetStatus]
) -> None:
    if not rows:
        return
    states = _deployment_states(statuses)
    table = c.frame(rows)
    table["budget"] = [STATE_LABELS.get(states.get(r.deployment_id, ""), c.DASH) for r in rows]
    downloads.show_table(
        "month_deployments",
        table[
            [
                "resource",
                "deployment",
                "spent",
                "forecast_total",
                "estimated",
                "billed_allocated",
                "variance",
                "budget",
                "provisional",
                "unpriced",
                "model_label",
            ]
        ],
        column_config={
            **cols.names(),
            "model_label": st.column_config.TextColumn("Model"),
            **cols.spend(),
            "variance": cols.usd("Variance (USD)", "Billed minus estimated, billed days."),
            "spent": cols.usd("Spent (USD)", "Allocated bill when in, else estimate."),
            "forecast_total": cols.usd("Forecast (USD)", "The month's total at its end, forecast."),
            "budget": st.column_config.TextColumn("Budget", help="Its deployment budget's state."),
            "provisional": st.column_config.CheckboxColumn(
                "Provisional", help="Some of its days may still change."
            ),
            "unpriced": st.column_config.CheckboxColumn("Unpriced"),
        },
    )


def _budget_table(view: c.View, statuses: list[months.BudgetStatus], configured: bool) -> None:
    st.markdown("**Budgets**")
    if not configured:
        st.caption(NO_BUDGETS)
        return
    shown = [
        b
        for b in statuses
        if view.deployment_ids is None or set(b.deployment_ids) & set(view.deployment_ids)
    ]
    if not shown:
        st.caption("No budget covers the selected deployments.")
        return
    downloads.show_table(
        "month_budgets",
        [
            {
                "budget": b.label,
                "scope": b.scope,
                "state": STATE_LABELS[b.state],
                "monthly": float(b.monthly_usd),
                "spent": float(b.spent),
                "forecast": float(b.forecast_total),
                "used": float(b.spent / b.monthly_usd),
            }
            for b in shown
        ],
        column_config={
            "budget": st.column_config.TextColumn("Budget"),
            "scope": st.column_config.TextColumn("Scope"),
            "state": st.column_config.TextColumn(
                "State",
                help="over: spent beyond the budget; warning: spent or forecast reaches the "
                "warning share of it; ok: otherwise.",
            ),
            "monthly": cols.usd("Monthly budget (USD)"),
            "spent": cols.usd("Spent (USD)", "Allocated bill when in, else estimate."),
            "forecast": cols.usd("Forecast month end (USD)"),
            "used": st.column_config.ProgressColumn(
                "Used", format="percent", min_value=0, max_value=1
            ),
        },
    )
