"""A read's rows as columns: the charts' series (a line per deployment per step, thousands of
points over a week) without a Python object per point, and the conversions each column needs,
done once per column instead of once per value.

The list-of-points readers (:func:`collector.store.queries.timeseries`,
:func:`collector.store.queries.latency_percentiles_over_time`) build their points from the same
columns, so the dashboard's frames and the points can never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from collector.histogram import BUCKETS_PER_DECADE, MAX_BUCKET, bucket_bounds

T = TypeVar("T")
#: One column: a numpy array (integers, floats) or a sequence of Python values.
Column = Sequence[Any] | np.ndarray


@dataclass(frozen=True, slots=True)
class Columns:
    """Rows as columns: ``values[i]`` holds column ``names[i]`` of every row, in row order.

    Integer columns are numpy arrays; optional figures are lists holding None for "unknown"
    (never NaN, so that a point built from them reads as the list readers always did).
    """

    names: tuple[str, ...]
    values: tuple[Column, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.values):
            raise ValueError(f"{len(self.names)} names for {len(self.values)} columns")
        if len({len(v) for v in self.values}) > 1:
            raise ValueError("columns of different lengths")

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0

    def __getitem__(self, name: str) -> Column:
        return self.values[self.names.index(name)]

    def as_dict(self) -> dict[str, Column]:
        """Name -> column, e.g. for ``pandas.DataFrame(...)``."""
        return dict(zip(self.names, self.values, strict=True))

    def records(self, kind: type[T]) -> list[T]:
        """One ``kind`` per row, with plain Python values (numpy numbers as int/float); ``kind``
        is a dataclass whose first fields are ``names``, in that order."""
        fields = tuple(f.name for f in dataclasses.fields(kind))  # type: ignore[arg-type]
        if fields[: len(self.names)] != self.names:
            raise ValueError(f"columns {self.names} are not the first fields of {kind.__name__}")
        plain = [v.tolist() if isinstance(v, np.ndarray) else v for v in self.values]
        return [kind(*row) for row in zip(*plain, strict=True)]


def transpose(rows: Sequence[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    """Rows (tuples of ``width`` values) as ``width`` columns; empty columns without rows."""
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def ints(values: Iterable[Any]) -> np.ndarray:
    """Sums as integers: None is 0 and a float sum (Postgres numeric, SQLite REAL) is rounded half
    to even, as ``round(float(v))`` does (:func:`collector.store.queries._sql._int`)."""
    data = np.fromiter((np.nan if v is None else float(v) for v in values), dtype=float)
    return np.rint(np.nan_to_num(data, nan=0.0)).astype(np.int64)


def floats(values: Iterable[Any]) -> list[float | None]:
    """Optional figures as floats, None kept (Postgres numerics and Decimals become floats)."""
    return [None if v is None else float(v) for v in values]


def ratios(part: np.ndarray, whole: np.ndarray) -> list[float | None]:
    """``part / whole`` per row, None where ``whole`` is 0 (:func:`_sql._ratio`)."""
    return [p / w if w else None for p, w in zip(part.tolist(), whole.tolist(), strict=True)]


#: Upper bound (ms) of every histogram bucket, as :func:`collector.histogram.bucket_bounds`.
_UPPER_MS = np.array([10 ** ((b + 1) / BUCKETS_PER_DECADE) for b in range(MAX_BUCKET + 1)])


def upper_ms(buckets: Iterable[Any]) -> np.ndarray:
    """Each bucket index's upper bound in ms (the percentile shown for a bucket)."""
    index = np.fromiter((int(b) for b in buckets), dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() > MAX_BUCKET):
        return np.array([bucket_bounds(int(b))[1] for b in index.tolist()])  # raises below 0
    return _UPPER_MS[index]
