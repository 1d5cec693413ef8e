"""Allocation of a billed total over deployments in proportion to their estimates, to the cent.

Largest-remainder (Hamilton) rounding: every share is first rounded down to the quantum, then
the quanta left over go one each to the shares with the largest remainders (ties: the order the
weights were given in). The shares therefore add up to the total exactly. The quantum is the cent
when the total is a whole number of cents (Cost Management's Claude rows are: 1 CCU = 1 cent),
else the store's micro-dollar.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Allocation(Generic[K]):
    """Shares per key, and what could not be allocated (no estimate to weigh it by)."""

    shares: dict[K, Decimal]
    unallocated: Decimal


def quantum_of(total: Decimal) -> Decimal:
    """The cent when ``total`` is whole cents, else a micro-dollar."""
    return CENT if total == total.quantize(CENT) else MICRO


def allocate(total: Decimal, weights: Mapping[K, Decimal | None]) -> Allocation[K]:
    """Split ``total`` over the keys in proportion to their (non-negative) weights.

    Keys with a None or zero weight get 0. When no weight is positive, nothing is allocated and
    the whole total is ``unallocated`` (billed cost with no token data behind it is never
    dropped). A negative total (a refund) is split the same way, with negative shares.
    """
    positive = {k: Fraction(w) for k, w in weights.items() if w is not None and w > 0}
    if any(w is not None and w < 0 for w in weights.values()):
        raise ValueError("allocation weights must not be negative")
    if not positive or total == 0:
        return Allocation({k: Decimal(0) for k in weights}, total if not positive else Decimal(0))
    quantum = quantum_of(total)
    sign = -1 if total < 0 else 1
    units = int(abs(total) / quantum)
    whole = sum(positive.values())
    exact = {k: units * w / whole for k, w in positive.items()}
    floors = {k: int(v) for k, v in exact.items()}  # int() of a positive Fraction is its floor
    left = units - sum(floors.values())
    rank = {k: i for i, k in enumerate(positive)}
    by_remainder = sorted(positive, key=lambda k: (floors[k] - exact[k], rank[k]))
    for k in by_remainder[:left]:
        floors[k] += 1
    shares = {k: Decimal(sign * floors.get(k, 0)) * quantum for k in weights}
    return Allocation(shares, Decimal(0))
