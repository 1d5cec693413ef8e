"""collector.histogram: bucket edges, vectorised agreement, nearest-rank percentiles, merge."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from collector.histogram import (
    bucket_bounds,
    bucket_of,
    buckets_of_integers,
    histogram_of,
    merge,
    nearest_rank,
    percentile,
)
from tests import reference


@pytest.mark.parametrize("k", range(0, 8))
def test_exact_powers_of_ten_open_their_bucket(k: int) -> None:
    assert bucket_of(10**k) == 20 * k
    assert bucket_of(float(10**k)) == 20 * k


@pytest.mark.parametrize("k", range(1, 8))
def test_one_below_a_power_of_ten_is_in_the_previous_bucket(k: int) -> None:
    assert bucket_of(10**k - 1) == 20 * k - 1


def test_durations_below_one_ms_go_to_bucket_zero() -> None:
    assert [bucket_of(x) for x in (0, 0.2, 0.999, -5, math.nan)] == [0, 0, 0, 0, 0]


def test_every_integer_duration_lies_inside_its_bucket_bounds() -> None:
    for ms in range(1, 50_000):
        lower, upper = bucket_bounds(bucket_of(ms))
        assert lower <= ms < upper or math.isclose(ms, lower)


def test_vectorised_buckets_equal_scalar_buckets() -> None:
    values = np.arange(0, 400_000, dtype=np.int64)
    vector = buckets_of_integers(values)
    scalar = np.fromiter((bucket_of(int(v)) for v in values), dtype=np.int64)
    assert np.array_equal(vector.astype(np.int64), scalar)


def test_kql_formula_agrees_with_bucket_of_for_integers() -> None:
    # The emulator and Log Analytics compute floor(log10(ms) * 20); bucket_of must match it.
    for ms in range(1, 200_000):
        assert math.floor(math.log10(ms) * 20) == bucket_of(ms)


def test_bucket_zero_starts_at_zero_and_buckets_are_twelve_percent_wide() -> None:
    assert bucket_bounds(0) == (0.0, 10 ** (1 / 20))
    lower, upper = bucket_bounds(40)
    assert lower == pytest.approx(100.0)
    assert upper / lower == pytest.approx(10 ** (1 / 20))


def test_nearest_rank_is_robust_to_float_products() -> None:
    assert nearest_rank(100, 0.07) == 7
    assert nearest_rank(100, 0.95) == 95
    assert nearest_rank(3, 0.5) == 2
    assert nearest_rank(1, 0.01) == 1


def test_percentile_returns_upper_bound_of_the_bucket_holding_the_rank() -> None:
    rng = random.Random(7)
    values = sorted(rng.randint(1, 90_000) for _ in range(5_001))
    hist = histogram_of(values)
    for q in (0.5, 0.95, 0.99):
        true = reference.nearest_rank(values, q)
        assert true is not None
        upper = percentile(hist, q)
        lower = bucket_bounds(bucket_of(true))[0]
        assert upper == bucket_bounds(bucket_of(true))[1]
        assert lower <= true < upper


def test_percentile_of_empty_histogram_is_nan() -> None:
    assert math.isnan(percentile({}, 0.5))


def test_merge_adds_counts() -> None:
    assert merge([{1: 2, 5: 1}, {5: 3}, {}]) == {1: 2, 5: 4}
