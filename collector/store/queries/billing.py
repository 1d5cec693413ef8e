"""Billing reads for the exports (issue #20): the Foundry accounts as billing needs them and the
cost rows Cost Management returned, per day and the resource Azure booked them on.

The spend figures themselves (allocated shares, unallocated rest) are read by
:func:`collector.store.queries.spend_days` and :func:`collector.store.queries.spend_resource_days`;
these reads add what a billing export names beside them (subscription, resource group, region,
the charge resources and their currency).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from collector import rows as neutral
from collector.store.queries._sql import _RESOURCE, _money, _reading, window_days
from collector.store.schema import TABLES

_COST = TABLES["cost_daily"]
_COST_TEXT = ("day", "scope", "meter", "publisher_type", "charge_type", "currency")


@dataclass(frozen=True, slots=True)
class Account:
    """A Foundry account of the inventory (``resource_id`` lower-case)."""

    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str
    internal_id: str | None = None


@dataclass(frozen=True, slots=True)
class CostRow(neutral.CostRow):
    """One ``cost_daily`` row: a day's cost of one meter on the resource Azure booked it on, as
    the cost source yields it, and when it was fetched."""

    fetched_at: datetime


def accounts(engine: Engine) -> list[Account]:
    """Every Foundry account of the inventory (removed ones too: their bills stay), by id."""
    r = _RESOURCE
    stmt = select(
        r.c.id, r.c.name, r.c.subscription_id, r.c.resource_group, r.c.location, r.c.internal_id
    ).order_by(r.c.id)
    with _reading(engine) as conn:
        rows = conn.execute(stmt).all()
    return [
        Account(
            resource_id=row.id.lower(),
            name=row.name,
            subscription_id=row.subscription_id.lower(),
            resource_group=row.resource_group,
            location=row.location,
            internal_id=row.internal_id,
        )
        for row in rows
    ]


def cost_rows(engine: Engine, since: datetime, until: datetime) -> list[CostRow]:
    """``cost_daily`` rows of the UTC days ``[since, until)`` touches, every scope and meter."""
    first, last = window_days(since, until)
    c = _COST
    stmt = (
        select(c)
        .where(c.c.day >= first, c.c.day <= last)
        .order_by(c.c.day, c.c.resource_id, c.c.meter, c.c.scope)
    )
    with _reading(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        CostRow(
            **{k: r[k] for k in _COST_TEXT},
            resource_id=r["resource_id"].lower(),
            cost=_money(r["cost"]) or Decimal(0),
            quantity=_money(r["quantity"]),
            fetched_at=r["fetched_at"],
        )
        for r in rows
    ]
