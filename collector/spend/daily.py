"""A day's spend figures per deployment and per resource, from tokens, prices and bills (pure).

Per resource and day:

- every Claude deployment with tokens that day gets an estimate (:func:`estimate_tokens`: input,
  5-minute and 1-hour cache writes, cache reads and output, each at its price); a deployment
  whose model has no price is *unpriced* (estimate None, flagged). Deployments of other
  publishers (an OpenAI model on the same Foundry resource) keep their tokens but get no
  estimate and never a share of Claude's bill: their cost comes under Azure meters, kept per
  resource-day as ``other_billed``;
- the resource's billed Claude cost is allocated over its deployments in proportion to their
  estimates (:func:`allocate`, to the cent). When some of the day's traffic is unpriced, the
  estimates cannot say how the bill splits, so nothing is allocated and the whole bill is
  *unallocated* (adding the model's price to the sheet fixes it on the next refresh); a bill
  with no token data behind it is unallocated too: never dropped;
- the reconciliation (:func:`variance`) and the day's status (:func:`day_status`) are those of
  the resource-day, and each deployment-day shares the status of its resource-day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from collector.spend.allocation import allocate
from collector.spend.attribution import Part
from collector.spend.estimate import Tokens, cache_savings, estimate_tokens
from collector.spend.prices import PriceSheet
from collector.spend.reconcile import (
    DEFAULT_DRIFT_THRESHOLD,
    DEFAULT_FINAL_AFTER_DAYS,
    day_status,
    variance,
)
from collector.versions import ANTHROPIC_FORMAT as ANTHROPIC_FORMAT  # re-exported
from collector.versions import is_claude_deployment as is_claude_deployment  # re-exported


@dataclass(frozen=True, slots=True)
class DeploymentRef:
    """A deployment of the inventory: prices follow ``model`` and ``model_version`` (a version's
    own prices when the sheet has them), never ``name``."""

    id: int
    resource_id: str
    name: str
    model: str | None
    resource_name: str | None = None
    #: False for a deployment of another publisher (its model format is not Anthropic)
    claude: bool = True
    #: ARM's properties.model.version (e.g. "20250929", "1", "2")
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    """A resource-day's billed Claude cost, and when its rows last changed and were fetched.

    ``parts`` split the cost by the model its charges named (a SaaS resource per model); without
    parts the whole cost goes over every Claude deployment of the resource."""

    cost: Decimal
    changed_at: datetime | None = None
    fetched_at: datetime | None = None
    parts: tuple[Part, ...] = ()


def split_bill(
    bill: Bill, deps: Iterable[DeploymentRef], estimates: Mapping[int, Decimal | None]
) -> tuple[dict[int, Decimal], Decimal]:
    """Shares of a bill per deployment id (by estimate, to the cent) and what stays unallocated.

    A part naming a model prefix goes over the deployments of that model when any of them has
    an estimate, over all the resource's Claude deployments otherwise."""
    models = {d.id: (d.model or "").lower() for d in deps}
    by_prefix: dict[str | None, Decimal] = {}
    for part in bill.parts or (Part(None, bill.cost),):
        by_prefix[part.model_prefix] = by_prefix.get(part.model_prefix, Decimal(0)) + part.cost
    shares: dict[int, Decimal] = {i: Decimal(0) for i in estimates}
    unallocated = Decimal(0)
    for prefix, cost in by_prefix.items():
        weights = dict(estimates)
        if prefix:
            named = {i: w for i, w in estimates.items() if models.get(i, "").startswith(prefix)}
            if any(w for w in named.values()):
                weights = named
        split = allocate(cost, weights)
        for i, share in split.shares.items():
            shares[i] += share
        unallocated += split.unallocated
    return shares, unallocated


@dataclass(frozen=True, slots=True)
class DeploymentDay:
    day: date
    deployment_id: int
    input_tokens: int
    output_tokens: int
    estimated: Decimal | None
    billed_allocated: Decimal | None
    unpriced: bool
    status: str
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_savings: Decimal | None = None
    claude: bool = True

    def as_row(self) -> dict[str, Any]:
        return _columns(self)


@dataclass(frozen=True, slots=True)
class ResourceDay:
    day: date
    resource_id: str
    estimated: Decimal | None
    billed: Decimal | None
    unallocated: Decimal | None
    variance: Decimal | None
    drift_flagged: bool
    status: str
    other_billed: Decimal | None = None

    def as_row(self) -> dict[str, Any]:
        return _columns(self)


def _columns(row: DeploymentDay | ResourceDay) -> dict[str, Any]:
    """A day's row as the store takes it: every field under its name, the column's."""
    return {f.name: getattr(row, f.name) for f in fields(row)}


def compute_days(
    deployments: Iterable[DeploymentRef],
    tokens: Mapping[tuple[date, int], Tokens],
    bills: Mapping[tuple[date, str], Bill],
    sheet: PriceSheet,
    now: datetime,
    *,
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD,
    final_after_days: int = DEFAULT_FINAL_AFTER_DAYS,
    other_costs: Mapping[tuple[date, str], Decimal] | None = None,
) -> tuple[list[DeploymentDay], list[ResourceDay]]:
    """Figures of every deployment-day with tokens and every resource-day with tokens or a bill.

    ``tokens`` is keyed by (day, deployment id), ``bills`` (Claude Marketplace cost) and
    ``other_costs`` (every other meter and publisher) by (day, lower-case resource id).
    """
    other_costs = other_costs or {}
    by_id = {d.id: d for d in deployments}
    per_resource_day: dict[tuple[date, str], list[int]] = {}
    for day, dep_id in sorted(tokens):
        dep = by_id.get(dep_id)
        if dep is None:
            raise ValueError(f"tokens for deployment id {dep_id}, which is not in the inventory")
        per_resource_day.setdefault((day, dep.resource_id.lower()), []).append(dep_id)
    for key in [*bills, *other_costs]:
        per_resource_day.setdefault((key[0], key[1].lower()), [])
    dep_days: list[DeploymentDay] = []
    res_days: list[ResourceDay] = []
    for (day, resource_id), dep_ids in sorted(per_resource_day.items()):
        deps = [by_id[i] for i in dep_ids]
        discount = sheet.discount(resource_id, deps[0].resource_name if deps else None)
        estimates = {
            d.id: estimate_tokens(
                sheet, d.model, day, tokens[(day, d.id)], discount, version=d.model_version
            )
            for d in deps
            if d.claude
        }
        unpriced = any(v is None for v in estimates.values())
        bill = bills.get((day, resource_id))
        status = day_status(
            day,
            now,
            bill.changed_at if bill else None,
            bill.fetched_at if bill else None,
            final_after_days,
        )
        allocated: dict[int, Decimal | None] = {d.id: None for d in deps}
        other = other_costs.get((day, resource_id))
        unallocated: Decimal | None = None
        if bill is not None:
            if unpriced:
                unallocated = bill.cost
            else:
                shares, unallocated = split_bill(bill, deps, estimates)
                allocated.update(shares)
        estimated = None if unpriced else sum((v for v in estimates.values() if v), Decimal(0))
        drift = variance(estimated, bill.cost if bill else None, drift_threshold)
        res_days.append(
            ResourceDay(
                day=day,
                resource_id=resource_id,
                estimated=estimated,
                billed=bill.cost if bill else None,
                unallocated=unallocated,
                variance=drift.variance,
                drift_flagged=drift.drift,
                status=status,
                other_billed=other,
            )
        )
        for d in deps:
            used = tokens[(day, d.id)]
            estimate = estimates.get(d.id)
            dep_days.append(
                DeploymentDay(
                    day=day,
                    deployment_id=d.id,
                    input_tokens=used.input,
                    output_tokens=used.output,
                    estimated=estimate,
                    billed_allocated=allocated[d.id],
                    unpriced=d.claude and estimate is None,
                    status=status,
                    cache_read_tokens=used.cache_read,
                    cache_write_5m_tokens=used.cache_write_5m,
                    cache_write_1h_tokens=used.cache_write_1h,
                    cache_savings=cache_savings(
                        sheet, d.model, day, used.cache, discount, version=d.model_version
                    )
                    if d.claude
                    else None,
                    claude=d.claude,
                )
            )
    return dep_days, res_days
