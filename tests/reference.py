"""Reference figures computed in plain Python, independently of the product's helpers: what a
test compares the store's answers with. Nothing here imports ``collector.histogram``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile of ``values``: the smallest value with at least ``q`` of
    them at or below it (rank ``ceil(q * n)``, 1-based, at least 1); None without values. ``q``
    is taken as the decimal it is written as (0.95, not its binary approximation)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(str(q)) * len(ordered)))
    return ordered[rank - 1]
