"""Reads what the FOCUS export maps, through the store's query API, and hands it to the pure
:func:`collector.export.focus.focus_rows`.

Figures are the reconciled spend (``spend_daily``, ``spend_resource_daily``, written by
:func:`collector.spend.refresh_spend`); ``cost_daily`` adds the resources Azure booked each
account's Claude charges on (attributed as the refresh attributes them:
:func:`collector.spend.attribution.attribute`) and their currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import Engine

from collector.export.focus import (
    AccountInfo,
    DeploymentDay,
    FocusRow,
    UnallocatedDay,
    focus_rows,
)
from collector.records import project
from collector.spend.attribution import AccountRef, attribute
from collector.spend.credits import is_claude_charge
from collector.store import queries
from collector.versions import is_claude_deployment


def _charges(
    engine: Engine,
    since: datetime,
    until: datetime,
    refs: list[AccountRef],
    overrides: Mapping[str, str],
) -> tuple[dict[tuple[date, str], list[str]], dict[tuple[date, str], str]]:
    """Per (day, account or unattributed charge resource): the Claude charge resources and the
    bill's currency."""
    charge_ids: dict[tuple[date, str], set[str]] = {}
    currencies: dict[tuple[date, str], str] = {}
    how: dict[str, tuple[str, ...]] = {}
    for row in queries.cost_rows(engine, since, until):
        if not is_claude_charge(row.publisher_type, row.meter, row.resource_id):
            continue
        if row.resource_id not in how:
            how[row.resource_id] = attribute(row.resource_id, refs, overrides).accounts
        for target in how[row.resource_id] or (row.resource_id,):
            charge_ids.setdefault((row.day, target), set()).add(row.resource_id)
            currencies[(row.day, target)] = row.currency
    return {k: sorted(v) for k, v in charge_ids.items()}, currencies


def read_focus(
    engine: Engine,
    since: datetime,
    until: datetime,
    overrides: Mapping[str, str] | None = None,
) -> list[FocusRow]:
    """The FOCUS rows of the UTC days ``[since, until)`` touches (``overrides``: the
    ``FOUNDRY_MONITOR_BILL_ATTRIBUTION`` setting, as the spend refresh used it)."""
    days = [d for d in queries.spend_days(engine, since, until) if d.claude]
    resource_days = queries.spend_resource_days(engine, since, until)
    accounts = queries.accounts(engine)
    models: dict[str, set[str]] = {}
    for d in queries.deployments(engine, include_removed=True):
        if d.model and is_claude_deployment(d.model_format, d.model):
            models.setdefault(d.resource_id.lower(), set()).add(d.model)
    refs = [
        AccountRef.of(
            a.resource_id,
            a.subscription_id,
            a.resource_group,
            a.name,
            a.internal_id,
            models.get(a.resource_id, ()),
        )
        for a in accounts
    ]
    charge_ids, currencies = _charges(engine, since, until, refs, overrides or {})
    info = {
        a.resource_id: AccountInfo(
            a.resource_id, a.name, a.subscription_id, a.resource_group, a.location
        )
        for a in accounts
    }
    return focus_rows(
        (
            project(DeploymentDay, d, billed=d.billed_allocated, provisional=d.status != "final")
            for d in days
        ),
        (
            UnallocatedDay(r.day, r.resource_id, r.unallocated, r.status != "final")
            for r in resource_days
            if r.unallocated
        ),
        info,
        charge_ids,
        currencies,
    )
