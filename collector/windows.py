"""Pure window arithmetic for the runner: where a source starts, where it stops, how it chunks.

Windows are half-open ``[start, end)`` in UTC. A source starts at its watermark minus an overlap
(late data is re-read; upserts make that free), never before the retention window, and stops at
``now - lag`` rounded down to the minute. The UTC wall clock is passed to whatever runs on a
schedule as a :data:`Clock` (:func:`utc_now` by default), so that tests can pin it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

#: What gives the time now (aware, UTC): :func:`utc_now`, or a pinned clock in tests.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Plan:
    start: datetime
    end: datetime
    moves_watermark: bool

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    def chunks(self, size: timedelta) -> list[tuple[datetime, datetime]]:
        out = []
        cursor = self.start
        while cursor < self.end:
            nxt = min(cursor + size, self.end)
            out.append((cursor, nxt))
            cursor = nxt
        return out


def plan(
    watermark: datetime | None,
    now: datetime,
    retention: timedelta,
    overlap: timedelta,
    lag: timedelta,
    backfill: timedelta | None = None,
) -> Plan:
    """The window to read now.

    Without a watermark the whole retention window (or ``backfill``) is read. With ``backfill`` the
    window is explicit: it moves the watermark only when it reaches back to it (so the stored
    watermark never skips a gap), and never backwards.
    """
    end = floor_minute(now - lag)
    floor = floor_minute(now - retention)
    if backfill is not None:
        start = max(floor_minute(now - backfill), floor)
        moves = watermark is None or start <= watermark
        return Plan(start, end, moves)
    if watermark is None:
        return Plan(floor, end, True)
    return Plan(max(floor_minute(watermark - overlap), floor), end, True)


def cost_days(
    watermark: datetime | None,
    today: date,
    reread_days: int,
    retention_days: int,
    backfill_days: int | None = None,
) -> tuple[date, date]:
    """Days (inclusive) of costs to re-read: the month so far and the last ``reread_days``,
    from the watermark's day if older, everything since ``retention_days`` on the first run."""
    month_start = today.replace(day=1)
    recent = today - timedelta(days=reread_days)
    if backfill_days is not None:
        start = today - timedelta(days=backfill_days)
    elif watermark is None:
        start = today - timedelta(days=retention_days)
    else:
        start = watermark.date() - timedelta(days=1)
    return min(start, month_start, recent), today
