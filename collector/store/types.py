"""Column types that behave the same on SQLite and Postgres."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, SmallInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from collector.errors import StoreError


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out.

    Postgres stores ``timestamptz``. SQLite stores seconds since the epoch as a number: an
    integer for a whole second (4 bytes in a record, where the text 'YYYY-MM-DD HH:MM:SS.ffffff'
    took 26), a float otherwise (8 bytes; a float's step near 2026 is 0.24 microseconds, so every
    microsecond reads back exactly). Numbers order as times, so range filters and keys work, and
    a time bucket is integer arithmetic (migration 0014; docs/benchmarks.md, bytes per
    deployment-day). Naive datetimes given to the store are taken as UTC.

    Migrations before 0014 run today's rollup code on stores that still hold the text: they do it
    inside :func:`sqlite_text_times`, under which this type (and the SQL time helpers that ask
    :func:`sqlite_times_as_text`) read and write the text as before.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            if _TEXT_TIMES.get():
                return value.isoformat(" ", "microseconds")[:26]
            return epoch_seconds(value)
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def bind(value: datetime | None) -> Any:
            # the driver takes the number (or text) as it is: not SQLite DATETIME's processor,
            # which accepts datetimes only
            return self.process_bind_param(value, dialect)

        return bind

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return from_stored

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str | int | float):  # raw SQLite (e.g. from a textual query)
            return from_stored(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Whether SQLite times are read and written as text, the layout before migration 0014.
_TEXT_TIMES: ContextVar[bool] = ContextVar("sqlite_text_times", default=False)


@contextmanager
def sqlite_text_times() -> Iterator[None]:
    """Inside: SQLite times are bound and cut as the text of the layout before migration 0014.
    Only the migrations before 0014 that run today's rollup code use it."""
    token = _TEXT_TIMES.set(True)
    try:
        yield
    finally:
        _TEXT_TIMES.reset(token)


def sqlite_times_as_text() -> bool:
    """Whether the caller runs inside :func:`sqlite_text_times`."""
    return _TEXT_TIMES.get()


def epoch_seconds(value: datetime) -> int | float:
    """Seconds since the epoch as SQLite stores them: an int for a whole second, else a float
    (``datetime.timestamp``: the microseconds divided by a million, rounded once, as SQLite's own
    division in migration 0014, so equal times compare equal). Naive means UTC."""
    seconds = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def from_stored(value: Any) -> datetime | None:
    """An aware UTC datetime from a stored SQLite time (see :func:`stored_time`), None for NULL."""
    return None if value is None else stored_time(value)


def stored_time(value: str | float | datetime) -> datetime:
    """An aware UTC datetime from a time as the driver gives it: SQLite's seconds since the epoch
    (int or float) or the text of the layout before migration 0014, or a datetime."""
    if isinstance(value, int | float):
        return _utc_seconds(value)
    if isinstance(value, str):
        return _utc_text(value)
    return to_utc(value)


@functools.lru_cache(maxsize=16384)
def _utc_seconds(value: float) -> datetime:
    """Each distinct stored time converted once: a series repeats every step's start once per
    deployment (a week of hours: 168 times in 16,800 rows)."""
    return datetime.fromtimestamp(value, UTC)


@functools.lru_cache(maxsize=16384)
def _utc_text(value: str) -> datetime:
    """The text of the layout before migration 0014, as an aware UTC datetime."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """Aware UTC datetime for any datetime (naive means UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Append-only codes of the metric names stored in the per-minute tables and their rollups
#: (``collector.metric_names``): a smallint in every row instead of the name's text. Never
#: renumber or reuse a code; add new names at the end (migration 0012 holds a copy).
METRIC_CODES: dict[str, int] = {
    "ModelRequests": 1,
    "InputTokens": 2,
    "OutputTokens": 3,
    "TimeToLastByte": 4,
    "NormalizedTimeToFirstToken": 5,
    "ModelAvailabilityRate": 6,
    "cacheReadInputTokens": 7,
    "ephemeral5mInputTokens": 8,
    "ephemeral1hInputTokens": 9,
}
METRIC_NAMES: dict[int, str] = {code: name for name, code in METRIC_CODES.items()}


class MetricCode(TypeDecorator[str]):
    """A metric name in, the name out; stored as its smallint code (:data:`METRIC_CODES`), so
    queries compare names (``m.c.metric == "InputTokens"``) and the rows stay narrow."""

    impl = SmallInteger
    cache_ok = True
    #: every value this type stores, with its code (the writer converts through it in C)
    codes: ClassVar[Mapping[str, int]] = METRIC_CODES

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        try:
            return METRIC_CODES[value]
        except KeyError:
            raise StoreError(
                f"metric {value!r} has no code in collector.store.types.METRIC_CODES: "
                "add it there (append only) before storing it"
            ) from None

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        code = self.process_bind_param(value, dialect)
        return "NULL" if code is None else str(code)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else METRIC_NAMES.get(int(value), f"metric #{value}")


class StatusClassCode(TypeDecorator[str]):
    """A status class (``"2xx"``: the status code's first digit and ``xx``, as the histogram
    KQL makes it) in and out; stored as that digit in a smallint."""

    impl = SmallInteger
    cache_ok = True
    codes: ClassVar[Mapping[str, int]] = {f"{digit}xx": digit for digit in range(10)}

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if len(value) != 3 or not value[0].isdigit() or value[1:] != "xx":
            raise StoreError(f"status class {value!r} is not a digit followed by 'xx'")
        return int(value[0])

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        code = self.process_bind_param(value, dialect)
        return "NULL" if code is None else str(code)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else f"{int(value)}xx"
