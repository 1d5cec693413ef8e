"""The runs of hot hours the near-limit counts read (pool_near._runs): consecutive hours join,
and beyond the cap the shortest gaps are filled, so every hot hour stays covered."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from collector.store.queries.pool_near import _MAX_RUNS, _runs

T0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_consecutive_hours_are_one_run() -> None:
    hours = [T0, T0 + H, T0 + 2 * H, T0 + 5 * H]
    assert _runs(hours) == [(T0, T0 + 3 * H), (T0 + 5 * H, T0 + 6 * H)]


def test_beyond_the_cap_the_shortest_gaps_are_filled_and_every_hour_stays_covered() -> None:
    # every other hour hot, and every tenth gap three hours long instead of one
    hours, t = [], T0
    for i in range(3 * _MAX_RUNS):
        hours.append(t)
        t += (4 if i % 10 == 9 else 2) * H
    runs = _runs(hours)
    assert len(runs) == _MAX_RUNS
    assert all(a[1] < b[0] for a, b in itertools.pairwise(runs))  # sorted, disjoint
    assert all(any(lo <= h and h + H <= hi for lo, hi in runs) for h in hours)
    # the three-hour gaps are the last to be filled: with 144 runs and 14 long gaps,
    # 96 of the 129 one-hour gaps are filled and every long gap is kept
    kept = {b[0] - a[1] for a, b in itertools.pairwise(runs)}
    assert 3 * H in kept
    assert sum(1 for a, b in itertools.pairwise(runs) if b[0] - a[1] == 3 * H) == 14
