"""Per quota pool and limit, the figures headroom needs, aggregated in SQL over ``pool_minute``
(one row per pool and minute), a pool at a time through its covering index: a 30-day window is
a few index range scans per pool, never 300,000 rows shipped to Python. The same numbers as
:func:`collector.headroom.limit_headroom` over the pool's minute series (a test checks them
against it on both databases):

- peak and its earliest minute; nearest-rank p99 over every minute of the window (minutes
  without a row count as 0: the ``t``-th largest value, ``t = n - ceil(0.99 n) + 1``, else 0);
- minutes at or above 80 % and 100 % of each known limit, and at or above 80 % of any;
- the 429s and the minutes with 429s; each UTC day's peak (for the forecast); the usage in the
  newest minute of the window (the last complete minute).

The minute count, 429s, minutes with 429s and daily peaks of the window's whole hours come from
``pool_hour`` (one row per pool and hour), those of its ragged ends from the minutes. The counts
against the limits read the minutes from the first to the last hour whose largest minute reaches
80 % of a known limit (the hours outside count none); the peaks, the p99 and the last minute
read the minutes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collector.headroom import NEAR
from collector.pools import PoolKey
from collector.quota_limits import LIMITS
from collector.store.queries._sql import time_bucket
from collector.store.rollup import ceil_time, floor_time
from collector.store.schema import TABLES
from collector.store.types import to_utc

_PM = TABLES["pool_minute"]
_KEY = [_PM.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")]
_VALUE = {"rpm": _PM.c.requests, "itpm": _PM.c.itpm, "otpm": _PM.c.otpm}
_PH = TABLES["pool_hour"]
_HKEY = [_PH.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")]
_HCOL = {"rpm": "requests", "itpm": "itpm", "otpm": "otpm"}
_HOUR = timedelta(hours=1)
Span = tuple[datetime, datetime]


@dataclass
class PoolStats:
    """The SQL aggregates of one pool over the window."""

    rows: int = 0
    peak: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    peak_at: dict[str, datetime | None] = field(default_factory=lambda: dict.fromkeys(LIMITS))
    p99: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    over_80: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    at_100: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    last: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    daily: dict[str, list[tuple[date, int]]] = field(
        default_factory=lambda: {k: [] for k in LIMITS}
    )
    any_over_80: int = 0
    top: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LIMITS})
    status_429: int = 0
    throttled_minutes: int = 0
    newest: datetime | None = None


def is_hour_of(key: PoolKey) -> ColumnElement[bool]:
    """The ``pool_hour`` rows of one pool."""
    return and_(*(column == value for column, value in zip(_HKEY, key, strict=True)))


def split_window(window: tuple[datetime, datetime]) -> tuple[list[Span], Span]:
    """The window's ragged ends (read from the minutes) and its whole hours (from the hours)."""
    since, until = window
    lo, hi = ceil_time(since, _HOUR), floor_time(until, _HOUR)
    if lo >= hi:
        return [(since, until)], (lo, lo)
    return [span for span in ((since, lo), (hi, until)) if span[0] < span[1]], (lo, hi)


def in_spans(table: Any, spans: list[Span]) -> ColumnElement[bool]:
    """The rows of ``table`` in any of ``spans``."""
    return or_(*(and_(table.c.ts >= lo, table.c.ts < hi) for lo, hi in spans))


def _merge(spans: list[Span]) -> list[Span]:
    """``spans`` sorted, the adjacent and overlapping ones joined."""
    out: list[Span] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _days(conn: Any, table: Any, where: ColumnElement[bool], sqlite: bool) -> list[Any]:
    """Per UTC day of ``table`` (``pool_minute`` or ``pool_hour``) rows under ``where``: the day,
    the largest minute of each limit, the minutes, the 429s, the minutes with 429s, the newest.
    On SQLite the day is the stored text's date part (``time_bucket``'s string per row is twice
    the time)."""
    day = func.substr(table.c.ts, 1, 10) if sqlite else time_bucket(table.c.ts, 86400, "postgresql")
    hourly = table is _PH
    rows = conn.execute(
        select(
            day, func.max(table.c.requests), func.max(table.c.itpm), func.max(table.c.otpm),
            func.sum(table.c.minutes) if hourly else func.count(),
            func.sum(table.c.status_429),
            func.sum(table.c.throttled_minutes) if hourly
            else func.sum(case((table.c.status_429 > 0, 1), else_=0)),
            func.max(table.c.newest if hourly else table.c.ts),
        ).where(where).group_by(day)
    ).all()  # fmt: skip
    return [(date.fromisoformat(r[0]) if sqlite else to_utc(r[0]).date(), *r[1:]) for r in rows]


def _hot_hours(
    conn: Any, key: PoolKey, hours: Span, limits: Mapping[str, int | None]
) -> list[datetime]:
    """The pool's whole hours whose largest minute reaches 80 % of a known limit."""
    near = [_PH.c[_HCOL[n]] >= NEAR * v for n, v in limits.items() if v and n in _HCOL]
    if not near or hours[0] >= hours[1]:
        return []
    rows = conn.execute(
        select(_PH.c.ts).where(
            is_hour_of(key), _PH.c.ts >= hours[0], _PH.c.ts < hours[1], or_(*near)
        )
    ).scalars()
    return [to_utc(t) for t in rows]


def is_pool(key: PoolKey) -> ColumnElement[bool]:
    """The rows of one pool."""
    return and_(*(column == value for column, value in zip(_KEY, key, strict=True)))


def _int(value: Any) -> int:
    return round(float(value or 0))


def pool_keys(conn: Any, since: datetime, until: datetime) -> list[PoolKey]:
    """The pools with minutes in ``[since, until)``: a skip scan of the pool index (one seek
    per distinct value of each key column in turn), then per pool one seek into its window.

    The skip scan leaves the window out: with it, SQLite's planner picks the primary key
    (``ts`` first) and sorts every minute of the window to find each next pool (about 0.1 s a
    pool over 30 days). It compares one column at a time under equal leading columns: SQLite
    seeks a row-value comparison ``(a, b, ...) > (...)`` on its first column only, reading
    every minute of the pools that share it. ``SELECT DISTINCT`` would read every minute."""
    window = and_(_PM.c.ts >= since, _PM.c.ts < until)
    return [
        key
        for key in _distinct(conn, ())
        if conn.execute(select(_PM.c.ts).where(is_pool(key), window).limit(1)).first()
    ]


def _distinct(conn: Any, prefix: tuple[str, ...]) -> list[PoolKey]:
    """The stored pool keys that start with ``prefix``, in index order."""
    column = _KEY[len(prefix)]
    equal = [c == v for c, v in zip(_KEY, prefix, strict=False)]
    out: list[PoolKey] = []
    last: str | None = None
    while True:
        after = [column > last] if last is not None else []
        row = conn.execute(select(column).where(*equal, *after).order_by(column).limit(1)).first()
        if row is None:
            return out
        last = row[0]
        found = (*prefix, row[0])
        out += [PoolKey(*found)] if len(found) == len(_KEY) else _distinct(conn, found)


def pool_stats(
    conn: Any,
    since: datetime,
    until: datetime,
    limits: Mapping[PoolKey, Mapping[str, int | None]],
    window_minutes: int,
    keys: list[PoolKey] | None = None,
) -> tuple[dict[PoolKey, PoolStats], datetime | None]:
    """The aggregates of every pool with rows in ``[since, until)``, and the newest minute.

    A pool at a time through ``ix_pool_minute_pool_ts`` (its minutes in time order): plain
    aggregates, and top-N reads (``ORDER BY value DESC LIMIT 1 OFFSET k``) for the peaks and the
    p99, which SQLite and Postgres answer with a bounded heap instead of sorting the window."""
    window = and_(_PM.c.ts >= since, _PM.c.ts < until)
    keys = pool_keys(conn, since, until) if keys is None else keys
    stats: dict[PoolKey, PoolStats] = {}
    newest: datetime | None = None
    ranked = _top_rank(window_minutes)
    for key in keys:
        s = stats[key] = _one_pool(conn, key, (since, until), limits.get(key, {}), ranked)
        moment = s.newest
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    if not stats:
        return stats, None
    top_rank = _top_rank(max(window_minutes, max(s.rows for s in stats.values())))
    for key, s in stats.items():
        where = and_(window, is_pool(key))
        for limit in LIMITS:
            value = _VALUE[limit]
            if top_rank <= len(s.top[limit]):  # read with the peak
                s.p99[limit] = _int(s.top[limit][top_rank - 1])
            elif top_rank <= s.rows:
                found = conn.execute(
                    select(value).where(where).order_by(value.desc()).offset(top_rank - 1).limit(1)
                ).scalar()
                s.p99[limit] = _int(found)
    for row in conn.execute(select(*_KEY, *(_VALUE[k] for k in LIMITS)).where(_PM.c.ts == newest)):
        s = stats[PoolKey(*row[:5])]
        for i, limit in enumerate(LIMITS):
            s.last[limit] = _int(row[5 + i])
    return stats, newest


def _top_rank(n: int) -> int:
    """The rank of the nearest-rank p99 among ``n`` minutes, counted from the largest."""
    return n - math.ceil(0.99 * n) + 1


def _one_pool(
    conn: Any,
    key: PoolKey,
    window: tuple[datetime, datetime],
    limits: Mapping[str, int | None],
    ranked: int,
) -> PoolStats:
    """The pool's aggregates; per limit its ``ranked`` largest minutes in one top-N read, the
    first the peak (earliest minute on ties), the last the p99 when the window sets the rank."""
    s = PoolStats()
    where = and_(_PM.c.ts >= window[0], _PM.c.ts < window[1], is_pool(key))
    counts = []
    near = []
    for limit in LIMITS:
        value, known = _VALUE[limit], limits.get(limit)
        for share in (NEAR, 1.0):
            threshold = share * known if known else None
            counts.append(
                func.sum(case((value >= threshold, 1), else_=0))
                if threshold is not None
                else null()
            )
        if known:
            near.append(value >= NEAR * known)
    # Whole hours from ``pool_hour`` (counts, 429s, daily peaks), the ragged ends from the
    # minutes; the counts against the limits from the minutes of the ragged ends and of the
    # hours whose largest minute reaches 80 % of a known limit (the others count none).
    sqlite = conn.dialect.name == "sqlite"
    ragged, hours = split_window(window)
    by_day: dict[date, list[Any]] = {}
    for row in _days(conn, _PH, and_(is_hour_of(key), _PH.c.ts >= hours[0], _PH.c.ts < hours[1]),
                     sqlite) + (_days(conn, _PM, and_(is_pool(key), in_spans(_PM, ragged)), sqlite)
                                if ragged else []):  # fmt: skip
        seen = by_day.setdefault(row[0], [0.0, 0.0, 0.0, 0, 0.0, 0, None])
        for i in range(3):
            seen[i] = max(seen[i], float(row[1 + i] or 0.0))
        seen[3] += int(row[4] or 0)
        seen[4] += float(row[5] or 0.0)
        seen[5] += int(row[6] or 0)
        newest = to_utc(row[7])
        seen[6] = newest if seen[6] is None else max(seen[6], newest)
    s429 = 0.0
    for when, (*peaks, rows, day429, throttled, newest) in sorted(by_day.items()):
        for i, limit in enumerate(LIMITS):
            s.daily[limit].append((when, _int(peaks[i])))
        s.rows += rows
        s429 += day429
        s.throttled_minutes += throttled
        s.newest = newest if s.newest is None else max(s.newest, newest)
    if near:
        hot = _hot_hours(conn, key, hours, limits)
        spans = _merge(ragged + [(h, h + _HOUR) for h in hot])
        # One range from the first to the last such span: the minutes of the hours between
        # count none (each is under 80 % of every known limit), and a single range scan beats
        # an OR of many ranges (which SQLite also nests one level per term).
        if spans:
            row = conn.execute(
                select(*counts, func.sum(case((or_(*near), 1), else_=0))).where(
                    is_pool(key), in_spans(_PM, [(spans[0][0], spans[-1][1])])
                )
            ).one()
            for i, limit in enumerate(LIMITS):
                s.over_80[limit] += int(row[2 * i] or 0)
                s.at_100[limit] += int(row[2 * i + 1] or 0)
            s.any_over_80 += int(row[6] or 0)
    s.status_429 = _int(s429)
    for limit in LIMITS:
        value = _VALUE[limit]
        top = conn.execute(
            select(value, _PM.c.ts).where(where).order_by(value.desc(), _PM.c.ts).limit(ranked)
        ).all()
        if top:
            s.peak[limit], s.peak_at[limit] = _int(top[0][0]), to_utc(top[0][1])
            s.top[limit] = [float(row[0] or 0.0) for row in top]
    return s
