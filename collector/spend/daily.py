"""A day's spend figures per deployment and per resource, from tokens, prices and bills (pure).

Per resource and day:

- every deployment with tokens that day gets an estimate (:func:`estimate_cost`); a deployment
  whose model has no price is *unpriced* (estimate None, flagged);
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
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from collector.spend.allocation import allocate
from collector.spend.estimate import estimate_cost
from collector.spend.prices import PriceSheet
from collector.spend.reconcile import (
    DEFAULT_DRIFT_THRESHOLD,
    DEFAULT_FINAL_AFTER_DAYS,
    day_status,
    variance,
)


@dataclass(frozen=True, slots=True)
class DeploymentRef:
    """A deployment of the inventory: prices follow ``model``, never ``name``."""

    id: int
    resource_id: str
    name: str
    model: str | None
    resource_name: str | None = None


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int
    output: int


@dataclass(frozen=True, slots=True)
class Bill:
    """A resource-day's billed Claude cost, and when its rows last changed and were fetched."""

    cost: Decimal
    changed_at: datetime | None = None
    fetched_at: datetime | None = None


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

    def as_row(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "deployment_id": self.deployment_id,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated": self.estimated,
            "billed_allocated": self.billed_allocated,
            "unpriced": self.unpriced,
            "status": self.status,
        }


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

    def as_row(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "resource_id": self.resource_id,
            "estimated": self.estimated,
            "billed": self.billed,
            "unallocated": self.unallocated,
            "variance": self.variance,
            "drift_flagged": self.drift_flagged,
            "status": self.status,
        }


def compute_days(
    deployments: Iterable[DeploymentRef],
    tokens: Mapping[tuple[date, int], Tokens],
    bills: Mapping[tuple[date, str], Bill],
    sheet: PriceSheet,
    now: datetime,
    *,
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD,
    final_after_days: int = DEFAULT_FINAL_AFTER_DAYS,
) -> tuple[list[DeploymentDay], list[ResourceDay]]:
    """Figures of every deployment-day with tokens and every resource-day with tokens or a bill.

    ``tokens`` is keyed by (day, deployment id), ``bills`` by (day, lower-case resource id).
    """
    by_id = {d.id: d for d in deployments}
    per_resource_day: dict[tuple[date, str], list[int]] = {}
    for day, dep_id in sorted(tokens):
        dep = by_id.get(dep_id)
        if dep is None:
            raise ValueError(f"tokens for deployment id {dep_id}, which is not in the inventory")
        per_resource_day.setdefault((day, dep.resource_id.lower()), []).append(dep_id)
    for key in bills:
        per_resource_day.setdefault((key[0], key[1].lower()), [])
    dep_days: list[DeploymentDay] = []
    res_days: list[ResourceDay] = []
    for (day, resource_id), dep_ids in sorted(per_resource_day.items()):
        deps = [by_id[i] for i in dep_ids]
        discount = sheet.discount(resource_id, deps[0].resource_name if deps else None)
        estimates = {
            d.id: estimate_cost(
                sheet,
                d.model,
                day,
                tokens[(day, d.id)].input,
                tokens[(day, d.id)].output,
                discount,
            )
            for d in deps
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
        unallocated: Decimal | None = None
        if bill is not None:
            if unpriced:
                unallocated = bill.cost
            else:
                split = allocate(bill.cost, estimates)
                allocated.update(split.shares)
                unallocated = split.unallocated
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
            )
        )
        for d in deps:
            used = tokens[(day, d.id)]
            dep_days.append(
                DeploymentDay(
                    day=day,
                    deployment_id=d.id,
                    input_tokens=used.input,
                    output_tokens=used.output,
                    estimated=estimates[d.id],
                    billed_allocated=allocated[d.id],
                    unpriced=estimates[d.id] is None,
                    status=status,
                )
            )
    return dep_days, res_days
