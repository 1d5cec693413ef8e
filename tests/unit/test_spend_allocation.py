"""Allocation of the bill to the cent (largest remainder), and billed cost with no estimate."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from collector.spend.allocation import allocate, quantum_of


def test_shares_follow_the_estimates_and_add_up_to_the_bill_to_the_cent() -> None:
    split = allocate(Decimal("100.00"), {1: Decimal("1"), 2: Decimal("1"), 3: Decimal("1")})
    # 33.333... each: the one cent left goes to the first of the equal remainders
    assert split.shares == {1: Decimal("33.34"), 2: Decimal("33.33"), 3: Decimal("33.33")}
    assert split.unallocated == 0


def test_the_leftover_cents_go_to_the_largest_remainders() -> None:
    split = allocate(
        Decimal("0.10"), {"a": Decimal("0.55"), "b": Decimal("0.25"), "c": Decimal("0.20")}
    )
    # cents: a 5.5, b 2.5, c 2.0 -> floors 5, 2, 2 -> one cent left, a and b tie at .5: a first
    assert split.shares == {"a": Decimal("0.06"), "b": Decimal("0.02"), "c": Decimal("0.02")}
    split = allocate(
        Decimal("0.10"), {"a": Decimal("0.50"), "b": Decimal("0.27"), "c": Decimal("0.23")}
    )
    # cents: 5.0, 2.7, 2.3 -> floors 5, 2, 2 -> the cent goes to b (remainder .7)
    assert split.shares == {"a": Decimal("0.05"), "b": Decimal("0.03"), "c": Decimal("0.02")}


def test_random_allocations_always_sum_to_the_total() -> None:
    rng = random.Random(42)
    for _ in range(500):
        total = Decimal(rng.randint(0, 10_000_000)) / 100
        weights = {i: Decimal(rng.randint(0, 10**9)) / 10**6 for i in range(rng.randint(1, 12))}
        split = allocate(total, weights)
        assert sum(split.shares.values()) + split.unallocated == total
        if any(weights.values()):
            assert split.unallocated == 0
            assert all(s == s.quantize(Decimal("0.01")) for s in split.shares.values())


def test_a_bill_with_no_estimate_behind_it_is_unallocated_not_dropped() -> None:
    split = allocate(Decimal("12.34"), {1: Decimal(0), 2: None})
    assert split.shares == {1: 0, 2: 0} and split.unallocated == Decimal("12.34")
    assert allocate(Decimal("12.34"), {}).unallocated == Decimal("12.34")


def test_zero_weights_get_nothing_and_a_refund_splits_negatively() -> None:
    split = allocate(Decimal("-1.00"), {1: Decimal(3), 2: Decimal(0), 3: Decimal(1)})
    assert split.shares == {1: Decimal("-0.75"), 2: 0, 3: Decimal("-0.25")}


def test_a_total_with_sub_cent_digits_is_split_in_micro_dollars() -> None:
    assert quantum_of(Decimal("1.23")) == Decimal("0.01")
    assert quantum_of(Decimal("1.234567")) == Decimal("0.000001")
    split = allocate(Decimal("1.000001"), {1: Decimal(1), 2: Decimal(1)})
    assert sum(split.shares.values()) == Decimal("1.000001")


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        allocate(Decimal(1), {1: Decimal(-1)})
