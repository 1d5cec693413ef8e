"""Alert evaluation end to end: read the signals, fold the new minutes into each stored state,
store states and episodes, then send the messages that are due, each claimed first in the store
so that it goes out once per target across restarts, replicas and concurrent ``run`` or
``alerts evaluate`` processes. :func:`replay` folds stored history with the same functions and
stores or sends nothing.

How far evaluation goes: traffic signals stop ``settle_minutes`` before the newest minute whose
``ModelRequests`` arrived (metrics come 1 to 3 minutes late, and a minute not yet collected is
not a minute without traffic), ``p95_ms`` likewise behind the newest request-log minute; spend,
budget, cost and collector signals run up to now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from collector.alerts import deliver
from collector.alerts.config import AlertSettings
from collector.alerts.evaluate import MINUTE, Episode, State, fold, minutes, restart
from collector.alerts.message import FIRING, REPEAT, RESOLVED, Alert
from collector.alerts.rules import Rule
from collector.alerts.signals import Context, compute
from collector.reports.deliver import Sleep
from collector.store import alerts as rows
from collector.store import queries
from collector.windows import Clock, floor_minute, utc_now

log = logging.getLogger("foundry_monitor.alerts")

TRAFFIC = ("rate_429", "error_rate", "requests", "ttft_avg_ms")
#: A scope seen for the first time is evaluated from this far back (or window + for, if longer).
COLD_START = timedelta(hours=1)
#: After a long stop, evaluation resumes this far back at most (an open episode continues).
MAX_CATCH_UP = timedelta(hours=6)
#: An episode that ended without being announced (silenced, or a target down) is announced up
#: to this long after it fired; an open one always is.
ANNOUNCE_WITHIN = timedelta(days=1)


@dataclass
class Evaluation:
    """What one evaluation did."""

    now: datetime
    states: dict[str, dict[str, int]] = field(default_factory=dict)  # rule -> status -> scopes
    opened: int = 0
    closed: int = 0
    lost_races: int = 0  # states another process stored first
    sent: list[tuple[str, str, str, str]] = field(default_factory=list)  # rule scope kind target
    failed: list[tuple[str, str, str, str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReplayEpisode:
    """An episode replay found (``end`` None: still open at the window's end)."""

    rule: str
    signal: str
    scope: str
    deployment: str | None
    resource: str | None
    start: datetime
    end: datetime | None
    peak: float

    def as_json(self) -> dict[str, Any]:
        """The fields, in their order, with the times in ISO 8601."""
        end = self.end.isoformat() if self.end else None
        return asdict(self) | {"start": self.start.isoformat(), "end": end}


def _context(engine: Engine, settings: AlertSettings, now: datetime) -> Context:
    return Context.load(
        engine,
        now,
        settings.budgets,
        settings.forecast_days,
        settings.forecast_trend,
        settings.quota,
    )


def horizons(engine: Engine, settings: AlertSettings, now: datetime) -> dict[str, datetime]:
    """Per signal, the exclusive end of the minutes evaluation may fold now."""
    metrics, logs = queries.newest_minutes(engine)
    top = floor_minute(now)
    settle = timedelta(minutes=settings.settle_minutes)

    def behind(newest: datetime | None) -> datetime:
        if newest is None:
            return top - COLD_START  # nothing collected yet: nothing to fold
        return min(top, floor_minute(newest) + MINUTE) - settle

    traffic, latency = behind(metrics), behind(logs)
    out = {signal: traffic for signal in TRAFFIC}
    out["p95_ms"] = latency
    out["pool_utilization"] = traffic
    for signal in ("spend_day", "budget_forecast", "stale_source", "cost_without_traffic"):
        out[signal] = top
    return out


def _state_values(rule: Rule, state: State, now: datetime) -> dict[str, Any]:
    return {
        "signal": rule.signal,
        "status": state.status,
        "until": state.until,
        "run_start": state.run_start,
        "run_peak": state.run_peak,
        "fired_at": state.fired_at,
        "last_end": state.last_end,
        "last_value": state.last_value,
        "updated_at": now,
    }


def as_state(stored: rows.StoredState | None) -> State:
    if stored is None:
        return State()
    return State(
        stored.status,
        stored.until,
        stored.run_start,
        stored.run_peak,
        stored.fired_at,
        stored.last_end,
        stored.last_value,
    )


def _episode_row(rule: Rule, e: Episode, now: datetime) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "scope": e.scope,
        "started_at": e.start,
        "signal": rule.signal,
        "severity": rule.severity,
        "fired_at": e.fired_at,
        "ended_at": e.end,
        "peak": e.peak if e.peak == e.peak else None,
        "last_value": e.last_value,
        "updated_at": now,
    }


def evaluate_rule(
    engine: Engine, ctx: Context, rule: Rule, horizon: datetime, report: Evaluation
) -> None:
    """Fold the minutes before ``horizon`` not folded yet into every scope of ``rule``."""
    with engine.connect() as conn:
        stored = {scope: s for (_, scope), s in rows.states(conn, [rule.name]).items()}
    cold = horizon - max(COLD_START, (rule.window_minutes + rule.for_minutes) * MINUTE)
    oldest = horizon - MAX_CATCH_UP
    starts = {
        scope: max(s.until or cold, oldest)
        for scope, s in stored.items()
        if s.signal == rule.signal
    }
    since = min([cold, *starts.values()])
    if since >= horizon:
        return
    series = compute(ctx, rule, since, horizon)
    values = {scope.key: v for scope, v in series.items()}
    for key, s in stored.items():  # a scope that vanished (deployment deleted): no values
        if key not in values and s.signal == rule.signal and s.until and s.until < horizon:
            values[key] = [(m, None) for m in minutes(max(s.until, oldest), horizon)]
    counts: dict[str, int] = {}
    for key, series_values in sorted(values.items()):
        old = stored.get(key)
        # a rule that now watches another signal starts afresh (its stored row is replaced)
        old_state = as_state(old if old is None or old.signal == rule.signal else None)
        start = starts.get(key, cold)
        state, found = fold(rule, key, restart(old_state, start), series_values)
        if state == old_state:
            counts[state.status] = counts.get(state.status, 0) + 1
            continue
        now = ctx.now
        with engine.begin() as conn:
            won = rows.save_state(
                conn,
                rule.name,
                key,
                _state_values(rule, state, now),
                None if old is None else old.version,
            )
            if not won:
                report.lost_races += 1
                continue
            rows.save_episodes(conn, [_episode_row(rule, e, now) for e in found])
        report.opened += sum(1 for e in found if e.start != old_state.run_start)
        report.closed += sum(1 for e in found if e.end is not None)
        counts[state.status] = counts.get(state.status, 0) + 1
    report.states[rule.name] = counts


def _labels(rule: Rule, scope: str) -> tuple[tuple[str, str], ...]:
    """A scope's labels for a message, from its key (deployment and resource names hold no
    '/')."""
    if rule.scope == "deployment" and "/" in scope:
        resource, _, deployment = scope.partition("/")
        return (("deployment", deployment), ("resource", resource))
    if rule.scope == "resource":
        return (("resource", scope),)
    if rule.scope == "source":
        return (("source", scope.partition(":")[0]),)
    if rule.scope == "budget":
        return (("budget", scope),)
    if rule.scope == "pool" and "/" in scope:
        subscription, _, model = scope.partition("/")
        return (("model", model), ("subscription", subscription))
    return ()


def episode_link(
    rule: Rule,
    scope: str,
    start: datetime,
    fired_at: datetime,
    end: datetime | None,
    link_base: str,
) -> str | None:
    """The dashboard page explaining an episode of ``rule`` for ``scope`` (over its window,
    filtered to its scope), as its messages link it, under ``link_base``."""
    labels = _labels(rule, scope)
    return Alert(FIRING, rule, scope, labels, start, fired_at, end, None, None, link_base).link()


def due_messages(
    episode: rows.StoredEpisode,
    rule: Rule,
    sent: dict[tuple[str, int, str], str],
    now: datetime,
    repeat: timedelta,
    silenced: bool,
) -> list[tuple[str, int, str]]:
    """The messages (kind, seq, target) of ``episode`` to send now; ``sent`` maps the stored
    ones to their status. Silenced: none (a firing message goes out when the silence ends, if
    the episode is still open)."""
    if silenced:
        return []
    due: list[tuple[str, int, str]] = []
    for target in rule.notify:
        fired = sent.get((FIRING, 0, target))
        if fired != rows.SENT:
            if episode.ended_at is None or episode.fired_at >= now - ANNOUNCE_WITHIN:
                due.append((FIRING, 0, target))
            continue
        if episode.ended_at is not None:
            due.append((RESOLVED, 0, target))
            continue
        seq = int((now - episode.fired_at) / repeat)
        if seq >= 1:
            due.append((REPEAT, seq, target))
    return [d for d in due if sent.get(d) != rows.SENT]


def _last_errors(
    engine: Engine, episodes: Sequence[rows.StoredEpisode], rules: dict[str, Rule]
) -> dict[str, str]:
    """The latest run's error per ``source:scope`` (what a stale source's message explains)."""
    if not any(rules[e.rule].base_signal == "stale_source" for e in episodes):
        return {}
    return {
        f"{run.source}:{run.scope}": run.error
        for run in queries.collector_health(engine)
        if run.error
    }


def notify(
    engine: Engine,
    settings: AlertSettings,
    ctx: Context,
    report: Evaluation,
    *,
    sleep: Sleep = time.sleep,
) -> None:
    """Send every message due: claimed in the store first, recorded after."""
    now = ctx.now
    rules = {r.name: r for r in settings.rules if r.notify}
    if not rules:
        return
    repeat_default = timedelta(minutes=settings.repeat_minutes)
    with engine.connect() as conn:
        recent = [
            e
            for e in rows.episodes(conn, since=now - ANNOUNCE_WITHIN)
            if e.rule in rules and e.signal == rules[e.rule].signal
        ]
        notes = rows.notifications(conn, [(e.rule, e.scope, e.started_at) for e in recent])
        silences = rows.silences(conn, active_at=now)
    stored: dict[tuple[str, str, datetime], dict[tuple[str, int, str], str]] = {}
    for n in notes:
        stored.setdefault((n.rule, n.scope, n.started_at), {})[(n.kind, n.seq, n.target)] = n.status
    errors = _last_errors(engine, recent, rules)
    for e in recent:
        rule = rules[e.rule]
        repeat = timedelta(minutes=rule.repeat_minutes) if rule.repeat_minutes else repeat_default
        silenced = any(s.covers(e.rule, e.scope, now) for s in silences)
        sent = stored.get((e.rule, e.scope, e.started_at), {})
        for kind, seq, target in due_messages(e, rule, sent, now, repeat, silenced):
            key = {
                "rule": e.rule,
                "scope": e.scope,
                "started_at": e.started_at,
                "kind": kind,
                "seq": seq,
                "target": target,
            }
            with engine.begin() as conn:
                if not rows.claim_notification(conn, key, now):
                    continue
            alert = Alert(
                kind,
                rule,
                e.scope,
                _labels(rule, e.scope),
                e.started_at,
                e.fired_at,
                e.ended_at,
                e.peak,
                e.last_value,
                settings.link_base,
                errors.get(e.scope) if rule.base_signal == "stale_source" else None,
            )
            result = deliver.send(alert, target, settings, sleep=sleep)
            with engine.begin() as conn:
                rows.finish_notification(
                    conn,
                    key,
                    sent=result.status == deliver.OK,
                    at=now,
                    attempts=result.attempts,
                    error=result.error,
                )
            if result.status == deliver.OK:
                report.sent.append((e.rule, e.scope, kind, target))
            else:
                report.failed.append((e.rule, e.scope, kind, target, result.error or ""))
                log.warning(
                    "alert rule=%s kind=%s target=%s failed: %s", e.rule, kind, target, result.error
                )


def evaluate(
    engine: Engine,
    settings: AlertSettings,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
    rules: Sequence[Rule] | None = None,
) -> Evaluation:
    """One evaluation: every rule's new minutes folded and stored, then the due messages sent."""
    now = clock()
    report = Evaluation(now)
    ctx = _context(engine, settings, now)
    ends = horizons(engine, settings, now)
    for rule in rules if rules is not None else settings.rules:
        evaluate_rule(engine, ctx, rule, ends[rule.base_signal], report)
    notify(engine, settings, ctx, report, sleep=sleep)
    log.info(
        "alerts evaluated rules=%d opened=%d closed=%d sent=%d failed=%d",
        len(report.states),
        report.opened,
        report.closed,
        len(report.sent),
        len(report.failed),
    )
    return report


def scheduled_evaluation(
    engine: Engine, settings: AlertSettings, *, clock: Clock = utc_now, sleep: Sleep = time.sleep
) -> Evaluation | None:
    """The scheduler's job: :func:`evaluate`, logging instead of raising."""
    try:
        return evaluate(engine, settings, clock=clock, sleep=sleep)
    except Exception as exc:  # the job must never take the scheduler down
        log.error(
            "alerts evaluation failed: %s", " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        )
        return None


def replay(
    engine: Engine,
    settings: AlertSettings,
    since: datetime,
    until: datetime,
    *,
    rules: Sequence[Rule] | None = None,
    clock: Clock = utc_now,
) -> list[ReplayEpisode]:
    """The episodes the rules would have fired over ``[since, until)``, minute by minute, from
    the stored history (nothing stored, nothing sent)."""
    since, until = floor_minute(since), floor_minute(until)
    ctx = _context(engine, settings, clock())
    found: list[ReplayEpisode] = []
    for rule in rules if rules is not None else settings.rules:
        for scope, values in compute(ctx, rule, since, until).items():
            _, episodes = fold(rule, scope.key, State(), values)
            for e in sorted(episodes, key=lambda x: x.start):
                found.append(
                    ReplayEpisode(
                        rule.name,
                        rule.signal,
                        scope.key,
                        scope.label("deployment"),
                        scope.label("resource"),
                        e.start,
                        e.end,
                        e.peak,
                    )
                )
    return sorted(found, key=lambda x: (x.start, x.rule, x.scope))
