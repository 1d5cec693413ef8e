"""Report periods: calendar-aligned UTC days, ISO weeks (Monday to Sunday) and calendar months.

A report always covers a *complete* period, so that re-running it later reads the same days:
:func:`period_before` picks the last complete period that ends on or before a date (the default
is today, UTC). The scheduled weekly report on a Monday therefore covers the week that ended the
night before, the monthly one on the 1st the month before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from collector.errors import ConfigError

PERIODS: tuple[str, ...] = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class Period:
    """``kind`` over the UTC days ``[start, end)`` (``end`` exclusive)."""

    kind: str
    start: date
    end: date

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.start + timedelta(days=i) for i in range((self.end - self.start).days))

    @property
    def label(self) -> str:
        """``day 2026-11-01``, ``week 2026-10-26 to 2026-11-01``, ``month 2026-10``."""
        if self.kind == "day":
            return f"day {self.start.isoformat()}"
        if self.kind == "month":
            return f"month {self.start:%Y-%m}"
        return f"{self.kind} {self.start.isoformat()} to {self.last_day.isoformat()}"

    @property
    def slug(self) -> str:
        """A file-name part: ``day-2026-11-01``, ``week-2026-10-26``, ``month-2026-10``."""
        if self.kind == "month":
            return f"month-{self.start:%Y-%m}"
        return f"{self.kind}-{self.start.isoformat()}"

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_before(self.kind, self.start)


def check_kind(kind: str) -> str:
    """``kind`` lower-cased, or :class:`ConfigError` naming the choices."""
    value = kind.strip().lower()
    if value not in PERIODS:
        raise ConfigError(f"--period {kind[:20]!r} is not a period: choose day, week or month")
    return value


def period_before(kind: str, end: date) -> Period:
    """The last complete ``kind`` period that ends on or before ``end`` (exclusive end)."""
    kind = check_kind(kind)
    if kind == "day":
        return Period(kind, end - timedelta(days=1), end)
    if kind == "week":
        stop = end - timedelta(days=end.weekday())  # the Monday on or before ``end``
        return Period(kind, stop - timedelta(days=7), stop)
    stop = end.replace(day=1)
    return Period(kind, (stop - timedelta(days=1)).replace(day=1), stop)


def parse_end(value: str | None, today: date) -> date:
    """``--end``: an ISO date no later than ``today`` (default ``today``); ConfigError if bad."""
    if value is None:
        return today
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--end {value[:40]!r} is not a date: use an ISO date such as 2026-11-02"
        ) from None
    if parsed > today:
        raise ConfigError(
            f"--end {parsed.isoformat()} is in the future (today is {today.isoformat()} UTC): "
            "a report covers complete periods before --end"
        )
    return parsed
