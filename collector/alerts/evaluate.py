"""Evaluating a rule over a series of minutes: states and episodes. Pure: no I/O, no clock.

A signal gives one value per scope and minute, the value at minute ``t`` covering
``(t - window, t]`` (:func:`window_values` from per-minute parts). :func:`fold` walks the minutes in
order from a stored :class:`State`: a minute whose value breaches the rule starts (or continues)
a run; once the run has lasted ``for_minutes`` the rule fires and an :class:`Episode` opens,
starting at the run's first minute; the first minute that does not breach ends it (``end`` is that
minute, exclusive). Live evaluation folds each settled minute once, from the stored state; replay
folds the stored history from an empty state: the same function, so replay shows what live
evaluation would have done. Episodes of one rule and scope never overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from collector.alerts.rules import Rule

MINUTE = timedelta(minutes=1)
OK, PENDING, FIRING, RESOLVED = "ok", "pending", "firing", "resolved"
STATES = (OK, PENDING, FIRING, RESOLVED)
#: Additive parts of one minute (e.g. requests and 429s, or a latency histogram's counts).
PartRow = Sequence[float] | np.ndarray
#: An ended episode's scope shows ``resolved`` for this long, then ``ok``.
RESOLVED_SHOWN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Episode:
    """A time the rule fired for one scope: the condition held from ``start`` (its first
    breaching minute) to ``end`` (exclusive; None while open); it fired at ``fired_at``."""

    rule: str
    scope: str
    start: datetime
    fired_at: datetime
    end: datetime | None
    peak: float
    last_value: float | None = None


@dataclass(frozen=True, slots=True)
class State:
    """A rule's state for one scope after the minutes before ``until`` were folded."""

    status: str = OK
    until: datetime | None = None  # exclusive: the next minute to fold
    run_start: datetime | None = None  # first minute of the current breaching run
    run_peak: float | None = None
    fired_at: datetime | None = None  # set while an episode is open
    last_end: datetime | None = None  # end of the last episode
    last_value: float | None = None


def worse(rule: Rule, a: float | None, b: float) -> float:
    """The more extreme of two breaching values (higher for ``>``, lower for ``<``)."""
    if a is None:
        return b
    return max(a, b) if rule.op == ">" else min(a, b)


def fold(
    rule: Rule, scope: str, state: State, values: Iterable[tuple[datetime, float | None]]
) -> tuple[State, list[Episode]]:
    """Fold ``values`` (minutes in increasing order, each at or after ``state.until``) into the
    state; returns the new state and every episode opened, updated or closed on the way (an
    episode appears once, as it stands at the end)."""
    touched: dict[datetime, Episode] = {}
    for minute, value in values:
        if state.until is not None and minute < state.until:
            continue  # folded already
        breaching = rule.breaches(value)
        if breaching:
            assert value is not None
            run_start = state.run_start or minute
            peak = worse(rule, state.run_peak if state.run_start else None, value)
            fired_at = state.fired_at
            if fired_at is None and minute - run_start >= timedelta(minutes=rule.for_minutes):
                fired_at = minute
            state = State(
                FIRING if fired_at else PENDING,
                minute + MINUTE,
                run_start,
                peak,
                fired_at,
                state.last_end,
                value,
            )
            if fired_at is not None:
                touched[run_start] = Episode(
                    rule.name, scope, run_start, fired_at, None, peak, value
                )
        else:
            if state.fired_at is not None and state.run_start is not None:
                touched[state.run_start] = Episode(
                    rule.name,
                    scope,
                    state.run_start,
                    state.fired_at,
                    minute,
                    state.run_peak if state.run_peak is not None else float("nan"),
                    value,
                )
                state = State(RESOLVED, minute + MINUTE, None, None, None, minute, value)
            else:
                shown = state.last_end is not None and minute - state.last_end < RESOLVED_SHOWN
                state = State(
                    RESOLVED if shown else OK,
                    minute + MINUTE,
                    None,
                    None,
                    None,
                    state.last_end,
                    value,
                )
    return state, list(touched.values())


def episodes(
    rule: Rule, scope: str, values: Iterable[tuple[datetime, float | None]]
) -> list[Episode]:
    """Every episode over ``values`` from an empty state (replay); the last may be open."""
    _, found = fold(rule, scope, State(), values)
    return sorted(found, key=lambda e: e.start)


def minutes(since: datetime, until: datetime) -> list[datetime]:
    """The minutes of ``[since, until)`` (both on minute boundaries)."""
    count = int((until - since) / MINUTE)
    return [since + i * MINUTE for i in range(max(count, 0))]


def window_values(
    parts: Mapping[datetime, PartRow],
    since: datetime,
    until: datetime,
    window: int,
    value: Callable[[Sequence[float]], float | None],
) -> list[tuple[datetime, float | None]]:
    """Per minute of ``[since, until)``, ``value`` of the parts summed over the window ending
    with that minute. ``parts`` maps a minute to additive parts of one length (e.g. requests
    and 429s); a minute without parts adds nothing. Cumulative sums: linear in the minutes."""
    span = minutes(since, until)
    if not span:
        return []
    if not parts:
        return [(m, value(())) for m in span]
    width = len(next(iter(parts.values())))
    first = since - (window - 1) * MINUTE
    grid = np.zeros((len(span) + window, width))  # row 0 stays zero: the sum before `first`
    for minute, row in parts.items():
        i = int((minute - first) / MINUTE)
        if 0 <= i < len(span) + window - 1:
            grid[i + 1] += np.asarray(row, dtype=float)
    total = np.cumsum(grid, axis=0)
    sums = total[window:] - total[: len(span)]
    return [(m, value(sums[i])) for i, m in enumerate(span)]


def shown_state(state: State, now: datetime) -> str:
    """The state to show at ``now``: ``resolved`` turns ``ok`` an hour after the end."""
    if state.status == RESOLVED and state.last_end and now - state.last_end >= RESOLVED_SHOWN:
        return OK
    return state.status


def shown_since(state: State, shown: str) -> datetime | None:
    """Since when the ``shown`` state (:func:`shown_state`) holds: firing since it fired,
    pending since its run's first minute, resolved since the episode ended; None when ok."""
    return {FIRING: state.fired_at, PENDING: state.run_start, RESOLVED: state.last_end}.get(shown)


def restart(state: State, since: datetime) -> State:
    """A state whose next minute is at least ``since`` (a cold start or a long gap: minutes
    before ``since`` are not folded; an open run continues)."""
    if state.until is None or state.until < since:
        return replace(state, until=since)
    return state
