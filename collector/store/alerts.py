"""The alert tables (migration 0009): reads and writes of states, episodes, notifications and
silences. Writes go through :mod:`collector.store.writer`; the two that must be atomic across
processes are claims: :func:`save_state` (a compare-and-set on ``version``) and
:func:`claim_notification` (an insert that only one process wins, or a conditional update of a
failed or abandoned message)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select

from collector.store import writer
from collector.store.schema import TABLES
from collector.store.types import to_utc

_STATE = TABLES["alert_state"]
_EPISODE = TABLES["alert_episode"]
_NOTE = TABLES["alert_notification"]
_SILENCE = TABLES["alert_silence"]
SENDING, SENT, FAILED = "sending", "sent", "failed"
#: A message claimed but neither sent nor failed after this long was abandoned (the process
#: died while sending): another evaluation may claim it again.
CLAIM_LEASE = timedelta(minutes=10)
#: Failed messages are retried by later evaluations until this many attempts in all.
MAX_ATTEMPTS = 12
ANY_SCOPE = "*"


def _aware(value: datetime | None) -> datetime | None:
    return to_utc(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class StoredState:
    """An ``alert_state`` row."""

    rule: str
    scope: str
    signal: str
    status: str
    until: datetime | None
    run_start: datetime | None
    run_peak: float | None
    fired_at: datetime | None
    last_end: datetime | None
    last_value: float | None
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredEpisode:
    """An ``alert_episode`` row."""

    rule: str
    scope: str
    started_at: datetime
    signal: str
    severity: str
    fired_at: datetime
    ended_at: datetime | None
    peak: float | None
    last_value: float | None


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """An ``alert_notification`` row."""

    rule: str
    scope: str
    started_at: datetime
    kind: str
    seq: int
    target: str
    status: str
    claimed_at: datetime
    sent_at: datetime | None
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Silence:
    """An ``alert_silence`` row (``scope`` ``*``: every scope of the rule)."""

    rule: str
    scope: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    comment: str | None

    def covers(self, rule: str, scope: str, at: datetime) -> bool:
        return (
            self.rule == rule
            and self.scope in (ANY_SCOPE, scope)
            and self.starts_at <= at < self.ends_at
        )


_TIMES = {
    "until", "run_start", "fired_at", "last_end", "updated_at", "started_at", "ended_at",
    "claimed_at", "sent_at", "starts_at", "ends_at", "created_at",
}  # fmt: skip


def _row(row: Any) -> dict[str, Any]:
    return {k: (_aware(v) if k in _TIMES else v) for k, v in row.items()}


# States ---------------------------------------------------------------------------------------
def states(
    conn: Connection, rules: Sequence[str] | None = None
) -> dict[tuple[str, str], StoredState]:
    """The stored states by (rule, scope), of ``rules`` (all when None)."""
    stmt = select(_STATE)
    if rules is not None:
        stmt = stmt.where(_STATE.c.rule.in_(list(rules)))
    return {(r["rule"], r["scope"]): StoredState(**_row(r)) for r in conn.execute(stmt).mappings()}


def save_state(
    conn: Connection, rule: str, scope: str, values: Mapping[str, Any], read_version: int | None
) -> bool:
    """Store a new state for (rule, scope) if nobody stored one since it was read at
    ``read_version`` (None: there was none). False: another process won, store nothing else."""
    if read_version is None:
        return writer.insert_new(
            conn, _STATE, {"rule": rule, "scope": scope, **values, "version": 1}
        )
    return writer.update_if(
        conn,
        _STATE,
        {"rule": rule, "scope": scope},
        {"version": read_version},
        {**values, "version": read_version + 1},
    )


# Episodes -------------------------------------------------------------------------------------
def save_episodes(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert episodes on (rule, scope, started_at)."""
    return writer.upsert(conn, _EPISODE, list(rows))


def episodes(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    rule: str | None = None,
    open_only: bool = False,
) -> list[StoredEpisode]:
    """Episodes that overlap ``[since, until)`` (open ones included), oldest first."""
    e = _EPISODE
    where: list[Any] = []
    if since is not None:
        where.append(or_(e.c.ended_at.is_(None), e.c.ended_at > since))
    if until is not None:
        where.append(e.c.started_at < until)
    if rule is not None:
        where.append(e.c.rule == rule)
    if open_only:
        where.append(e.c.ended_at.is_(None))
    stmt = select(e).where(*where).order_by(e.c.started_at, e.c.rule, e.c.scope)
    return [
        StoredEpisode(**{k: v for k, v in _row(r).items() if k != "updated_at"})
        for r in conn.execute(stmt).mappings()
    ]


# Notifications --------------------------------------------------------------------------------
def claim_notification(conn: Connection, row: Mapping[str, Any], now: datetime) -> bool:
    """Claim one message of an episode for this process: True when it is ours to send.

    New: the insert of its row (status ``sending``) decides. Stored: only a ``failed`` message
    with attempts left, or one left ``sending`` for longer than :data:`CLAIM_LEASE`, is claimed
    again, by a conditional update of exactly the values read."""
    key = {k: row[k] for k in ("rule", "scope", "started_at", "kind", "seq", "target")}
    if writer.insert_new(conn, _NOTE, {**row, "status": SENDING, "claimed_at": now, "attempts": 0}):
        return True
    n = _NOTE
    current = conn.execute(
        select(n.c.status, n.c.claimed_at, n.c.attempts).where(
            *(n.c[k] == v for k, v in key.items())
        )
    ).first()
    if current is None:
        return False
    stale = current.status == SENDING and _aware(current.claimed_at) <= now - CLAIM_LEASE  # type: ignore[operator]
    retry = current.status == FAILED and current.attempts < MAX_ATTEMPTS
    if not (stale or retry):
        return False
    return writer.update_if(
        conn,
        _NOTE,
        key,
        {"status": current.status, "claimed_at": current.claimed_at},
        {"status": SENDING, "claimed_at": now},
    )


def finish_notification(
    conn: Connection,
    key: Mapping[str, Any],
    *,
    sent: bool,
    at: datetime,
    attempts: int,
    error: str | None,
) -> None:
    """Record how sending a claimed message went."""
    n = _NOTE
    current = conn.execute(
        select(n.c.attempts).where(*(n.c[k] == v for k, v in key.items()))
    ).scalar_one()
    writer.update_if(
        conn,
        _NOTE,
        key,
        {"status": SENDING},
        {
            "status": SENT if sent else FAILED,
            "sent_at": at if sent else None,
            "attempts": int(current) + attempts,
            "error": error,
        },
    )


def notifications(
    conn: Connection, episodes_of: Sequence[tuple[str, str, datetime]] | None = None
) -> list[StoredNotification]:
    """The messages of the given episodes (rule, scope, started_at), or all of them."""
    n = _NOTE
    stmt = select(n).order_by(n.c.claimed_at)
    if episodes_of is not None:
        if not episodes_of:
            return []
        stmt = stmt.where(
            or_(
                *(
                    and_(n.c.rule == r, n.c.scope == s, n.c.started_at == t)
                    for r, s, t in episodes_of
                )
            )
        )
    return [StoredNotification(**_row(r)) for r in conn.execute(stmt).mappings()]


# Silences -------------------------------------------------------------------------------------
def add_silence(conn: Connection, silence: Silence) -> None:
    writer.upsert(
        conn,
        _SILENCE,
        [
            {
                "rule": silence.rule,
                "scope": silence.scope,
                "starts_at": silence.starts_at,
                "ends_at": silence.ends_at,
                "created_at": silence.created_at,
                "comment": silence.comment,
            }
        ],
    )


def silences(conn: Connection, *, active_at: datetime | None = None) -> list[Silence]:
    """Silences (only those in force at ``active_at`` when given), by rule and start."""
    s = _SILENCE
    stmt = select(s).order_by(s.c.rule, s.c.starts_at)
    if active_at is not None:
        stmt = stmt.where(s.c.starts_at <= active_at, s.c.ends_at > active_at)
    return [Silence(**_row(r)) for r in conn.execute(stmt).mappings()]


# Retention ------------------------------------------------------------------------------------
def prune(conn: Connection, before: datetime) -> dict[str, int]:
    """History that ended before ``before``: episodes that ended, the messages of episodes no
    longer stored, silences that ended. Open episodes and their messages stay, however old."""
    e, n, s = _EPISODE, _NOTE, _SILENCE
    deleted = {
        "alert_episode": conn.execute(delete(e).where(e.c.ended_at < before)).rowcount,
        "alert_notification": conn.execute(
            delete(n).where(
                n.c.started_at < before,
                ~exists().where(
                    e.c.rule == n.c.rule, e.c.scope == n.c.scope, e.c.started_at == n.c.started_at
                ),
            )
        ).rowcount,
        "alert_silence": conn.execute(delete(s).where(s.c.ends_at < before)).rowcount,
    }
    return {name: int(count or 0) for name, count in deleted.items()}
