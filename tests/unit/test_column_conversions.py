"""The column conversions of the charts' series (:mod:`collector.store.queries.columns`): each
equal, value by value, to the per-point conversion the list readers used."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest

from collector.histogram import MAX_BUCKET, bucket_bounds
from collector.store.queries._sql import _float, _int, _ratio
from collector.store.queries.columns import Columns, floats, ints, ratios, transpose, upper_ms


def test_sums_become_integers_as_the_per_point_reader_rounded_them() -> None:
    values = [None, 0, 3, 2.5, 3.5, -1.5, Decimal("7.0"), 1e12 + 0.5, 41.49]
    got = ints(values)
    assert got.dtype == np.int64
    assert got.tolist() == [_int(v) for v in values]


def test_optional_figures_keep_none_and_become_floats() -> None:
    values = [None, 1, 2.5, Decimal("0.125")]
    assert floats(values) == [_float(v) for v in values]
    assert all(isinstance(v, float) for v in floats(values) if v is not None)


def test_ratios_are_none_without_a_whole() -> None:
    part, whole = np.array([0, 1, 3, 5]), np.array([0, 4, 0, 10])
    assert ratios(part, whole) == [
        _ratio(p, w) for p, w in zip([0, 1, 3, 5], [0, 4, 0, 10], strict=True)
    ]


def test_every_bucket_shows_the_upper_bound_of_the_histogram_module() -> None:
    buckets = list(range(MAX_BUCKET + 3))  # beyond the table too
    assert upper_ms(buckets).tolist() == [bucket_bounds(b)[1] for b in buckets]
    with pytest.raises(ValueError):
        upper_ms([-1])


@dataclass(frozen=True)
class _Point:
    a: int
    b: str
    c: float | None = None


def test_records_are_built_in_field_order_with_plain_values() -> None:
    columns = Columns(("a", "b"), (np.array([1, 2]), ["x", "y"]))
    records = columns.records(_Point)
    assert records == [_Point(1, "x"), _Point(2, "y")]
    assert type(records[0].a) is int
    with pytest.raises(ValueError, match="first fields"):
        Columns(("b", "a"), (["x"], [1])).records(_Point)


def test_columns_of_different_lengths_or_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Columns(("a", "b"), ([1], [1, 2]))
    with pytest.raises(ValueError):
        Columns(("a",), ([1], [2]))


def test_no_rows_give_empty_columns() -> None:
    assert transpose([], 3) == [(), (), ()]
    assert transpose([(1, "x"), (2, "y")], 2) == [(1, 2), ("x", "y")]
    assert len(Columns(("a",), ((),))) == 0
