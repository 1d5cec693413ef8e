"""Column types that behave the same on SQLite and Postgres."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, SmallInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from collector.errors import StoreError


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out.

    Postgres stores ``timestamptz``; SQLite stores naive UTC text (its lexical order is time order,
    so range filters and indexes work). Naive datetimes given to the store are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def parse(value: Any) -> datetime | None:
            # the stored text is naive UTC ('YYYY-MM-DD HH:MM:SS.ffffff'): one C-level parse,
            # where SQLAlchemy's own SQLite DateTime parsing goes through a regular expression
            if value is None:
                return None
            if isinstance(value, str):
                return _utc_text(value)
            return to_utc(value)

        return parse

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from a textual query)
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@functools.lru_cache(maxsize=16384)
def _utc_text(value: str) -> datetime:
    """SQLite's stored text as an aware UTC datetime, each distinct text parsed once: a series
    repeats every step's start once per deployment (a week of hours: 168 texts in 16,800
    rows), and the parse with its time zone costs ten times the cache's look-up."""
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
