"""Log-spaced latency buckets: mergeable histograms whose percentiles are exact to one bucket.

Bucket ``b`` covers ``[10^(b/20), 10^((b+1)/20))`` milliseconds: 20 buckets per decade, each
about 12 % wide. Durations below 1 ms go to bucket 0 (whose lower bound is therefore 0).

Log Analytics computes the bucket as ``toint(floor(log10(DurationMs) * 20))`` (see
:func:`collector.kql.latency_histogram_query`); :func:`bucket_of` computes the same number in
Python, corrected with exact rational arithmetic where ``log10`` is within rounding distance of a
bucket edge, so that the emulator, the truth and the collector agree to the unit.

Percentiles are nearest-rank: the q-th percentile of n values is the ``ceil(q * n)``-th smallest
value (:func:`nearest_rank`); over a histogram it is reported as the upper bound of the bucket
holding that value, so the true percentile lies in ``[lower, upper)`` of that bucket.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

import numpy as np

BUCKETS_PER_DECADE = 20
MAX_BUCKET = 200  # 10^10 ms: far beyond any request timeout

_EDGE_TOLERANCE = 1e-9


def _exact_bucket(ms: float) -> int:
    """The largest b with 10^(b/20) <= ms, by exact rational arithmetic (ms >= 1)."""
    value = Fraction(ms) ** BUCKETS_PER_DECADE
    b = math.floor(math.log10(ms) * BUCKETS_PER_DECADE)
    while b > 0 and Fraction(10) ** b > value:
        b -= 1
    while Fraction(10) ** (b + 1) <= value:
        b += 1
    return b


def bucket_of(ms: float) -> int:
    """Bucket index of a duration in milliseconds (< 1 ms, NaN or negative: bucket 0)."""
    if not ms >= 1:
        return 0
    scaled = math.log10(ms) * BUCKETS_PER_DECADE
    nearest = round(scaled)
    if abs(scaled - nearest) < _EDGE_TOLERANCE * max(1.0, abs(scaled)):
        return _exact_bucket(ms)
    return math.floor(scaled)


def _integer_edges() -> np.ndarray:
    """``edges[b]`` = smallest integer n >= 1 with bucket_of(n) >= b, for b in 0..MAX_BUCKET."""
    edges = [1]
    for b in range(1, MAX_BUCKET + 1):
        n = max(1, math.ceil(10 ** (b / BUCKETS_PER_DECADE)) - 2)
        while bucket_of(n) < b:
            n += 1
        edges.append(n)
    return np.asarray(edges, dtype=np.int64)


_EDGES = _integer_edges()


def buckets_of_integers(ms: np.ndarray) -> np.ndarray:
    """Vectorised :func:`bucket_of` for integer durations; equal to it element by element."""
    values = np.asarray(ms, dtype=np.int64)
    out = np.searchsorted(_EDGES, values, side="right") - 1
    return np.maximum(out, 0).astype(np.int16)


def bucket_bounds(b: int) -> tuple[float, float]:
    """``(lower, upper)`` in ms of bucket ``b``; bucket 0 starts at 0 (it also holds < 1 ms)."""
    if b < 0:
        raise ValueError(f"bucket index must be >= 0, got {b}")
    lower = 0.0 if b == 0 else 10 ** (b / BUCKETS_PER_DECADE)
    return lower, 10 ** ((b + 1) / BUCKETS_PER_DECADE)


def nearest_rank(n: int, q: float) -> int:
    """1-based rank of the q-quantile among n values: ``ceil(q * n)``, at least 1.

    ``q * n`` is rounded to 9 decimals first so that e.g. 0.07 * 100 is rank 7, not 8.
    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    return max(1, math.ceil(round(q * n, 9)))


def percentile(counts: Mapping[int, int], q: float) -> float:
    """Upper bound (ms) of the bucket holding the nearest-rank q-quantile; NaN when empty."""
    total = sum(counts.values())
    if total <= 0:
        return math.nan
    rank = nearest_rank(total, q)
    seen = 0
    for b in sorted(counts):
        seen += counts[b]
        if seen >= rank:
            return bucket_bounds(b)[1]
    raise AssertionError("unreachable: rank <= total")  # pragma: no cover


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Sum bucket counts of several histograms (e.g. minutes into a day)."""
    merged: dict[int, int] = {}
    for hist in histograms:
        for b, count in hist.items():
            merged[b] = merged.get(b, 0) + count
    return {b: merged[b] for b in sorted(merged)}


def histogram_of(durations_ms: Iterable[float]) -> dict[int, int]:
    """Histogram of raw durations (for tests and the truth)."""
    hist: dict[int, int] = {}
    for ms in durations_ms:
        b = bucket_of(ms)
        hist[b] = hist.get(b, 0) + 1
    return {b: hist[b] for b in sorted(hist)}
