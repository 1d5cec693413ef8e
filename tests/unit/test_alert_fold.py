"""Folding a series into states and episodes; sliding windows; robust z-scores (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.alerts.evaluate import (
    FIRING,
    OK,
    PENDING,
    RESOLVED,
    State,
    episodes,
    fold,
    minutes,
    shown_since,
    shown_state,
    window_values,
)
from collector.alerts.robust import baseline_hours, robust_z, scores
from collector.alerts.rules import Rule

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def rule(**changes: object) -> Rule:
    base: dict[str, object] = {"name": "r", "signal": "rate_429", "op": ">", "threshold": 0.1}
    return Rule(**{**base, **changes})  # type: ignore[arg-type]


def series(*values: float | None) -> list[tuple[datetime, float | None]]:
    return [(T0 + i * M, v) for i, v in enumerate(values)]


def test_a_rule_fires_once_the_condition_has_held_for_minutes_and_resolves_at_the_first_clear_one() -> (
    None
):
    r = rule(for_minutes=2)
    state, found = fold(r, "s", State(), series(0.0, 0.5, 0.5))
    assert state.status == PENDING and found == []
    state, found = fold(r, "s", state, series(0.0, 0.5, 0.5, 0.7, 0.2))
    assert state.status == FIRING
    (e,) = found
    assert (e.start, e.fired_at, e.end, e.peak) == (T0 + M, T0 + 3 * M, None, 0.7)
    state, found = fold(r, "s", state, [(T0 + 5 * M, 0.05)])
    assert state.status == RESOLVED and found[0].end == T0 + 5 * M and found[0].peak == 0.7
    assert shown_state(state, T0 + 2 * 60 * M) == OK


def test_each_shown_state_holds_since_its_own_moment() -> None:
    """Pending since the run's first minute, firing since it fired, resolved since it ended."""
    r = rule(for_minutes=2)
    pending, _ = fold(r, "s", State(), series(0.0, 0.5))
    firing, _ = fold(r, "s", pending, series(0.0, 0.5, 0.5, 0.7)[2:])
    resolved, _ = fold(r, "s", firing, [(T0 + 4 * M, 0.0)])
    seen = [(s, shown_state(s, T0 + 5 * M)) for s in (pending, firing, resolved)]
    assert [(shown, shown_since(s, shown)) for s, shown in seen] == [
        (PENDING, T0 + M),
        (FIRING, T0 + 3 * M),
        (RESOLVED, T0 + 4 * M),
    ]
    assert shown_since(resolved, shown_state(resolved, T0 + 2 * 60 * M)) is None  # ok


def test_a_run_shorter_than_for_minutes_never_fires() -> None:
    assert episodes(rule(for_minutes=3), "s", series(0.5, 0.5, 0.5, 0.0, 0.5)) == []


def test_folding_minute_by_minute_equals_replaying_the_whole_series() -> None:
    values = series(0.0, 0.2, 0.3, 0.0, 0.0, 0.4, 0.4, 0.4, None, 0.5, 0.0)
    r = rule(for_minutes=1)
    state, live = State(), {}
    for point in values:
        state, found = fold(r, "s", state, [point])
        live.update({e.start: e for e in found})
    assert sorted(live.values(), key=lambda e: e.start) == episodes(r, "s", values)


def test_minutes_folded_already_are_skipped() -> None:
    r = rule()
    state, first = fold(r, "s", State(), series(0.5, 0.5))
    assert len(first) == 1
    again, second = fold(r, "s", state, series(0.5, 0.5))
    assert again == state and second == []


def test_episodes_of_one_scope_never_overlap_and_a_missing_value_ends_one() -> None:
    found = episodes(rule(), "s", series(0.5, None, 0.5, 0.5, 0.0, 0.9))
    spans = [(e.start, e.end) for e in found]
    assert spans == [(T0, T0 + M), (T0 + 2 * M, T0 + 4 * M), (T0 + 5 * M, None)]


def test_a_below_rule_reports_the_lowest_value_as_its_peak() -> None:
    (e,) = episodes(rule(op="<", threshold=5), "s", series(9, 3, 1, 2, 8))
    assert e.peak == 1 and e.end == T0 + 4 * M


def test_window_values_sum_the_parts_of_the_window_ending_with_each_minute() -> None:
    parts = {T0 - M: (10.0, 5.0), T0: (10.0, 0.0), T0 + 2 * M: (20.0, 10.0)}
    got = window_values(parts, T0, T0 + 4 * M, 2, lambda s: s[1] / s[0] if s[0] else None)
    assert got == [(T0, 0.25), (T0 + M, 0.0), (T0 + 2 * M, 0.5), (T0 + 3 * M, 0.5)]
    assert minutes(T0, T0 + 3 * M) == [T0, T0 + M, T0 + 2 * M]


def test_the_robust_z_score_ignores_one_outlier_in_the_baseline() -> None:
    baseline = [100.0 + (i % 5) for i in range(59)] + [10_000.0]
    z = robust_z(130.0, baseline)
    assert z is not None and z == pytest.approx((130 - 102) / (1.4826 * 1.0))
    assert robust_z(102.0, baseline) == 0
    assert robust_z(None, baseline) is None
    assert robust_z(5.0, [1.0] * 10) is None  # too few samples
    assert robust_z(5.0, [1.0] * 60) is None  # a flat baseline gives no score


def test_scores_read_the_same_hour_of_the_four_weeks_before() -> None:
    hours = baseline_hours(T0 + 17 * M)
    assert hours[0] == (T0 - timedelta(days=28), T0 - timedelta(days=28) + 60 * M)
    assert hours[-1][0] == T0 - timedelta(days=7)
    history = {start + i * M: 10.0 + (i % 3) for start, _ in hours for i in range(60)}
    ((_, z),) = scores([(T0 + 5 * M, 30.0)], history)
    assert z is not None and z > 10
