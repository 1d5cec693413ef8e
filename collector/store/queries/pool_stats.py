"""Per quota pool and limit, the figures headroom needs, aggregated in SQL over ``pool_minute``
(one row per pool and minute) and ``pool_hour`` (one per pool and hour), every pool in the same
few statements: a 30-day window is a few index range scans per pool, never 300,000 rows
shipped to Python. The same numbers as :func:`collector.headroom.limit_headroom` over the
pool's minute series (a test checks them against it on both databases):

- peak and its earliest minute; nearest-rank p99 over every minute of the window (minutes
  without a row count as 0: the ``t``-th largest value, ``t = n - ceil(0.99 n) + 1``, else 0);
- minutes at or above 80 % and 100 % of each known limit, and at or above 80 % of any
  (:mod:`collector.store.queries.pool_near`);
- the 429s and the minutes with 429s; each UTC day's peak (for the forecast); the usage in the
  newest minute of the window (the last complete minute).

The minute count, 429s, minutes with 429s and daily peaks of the window's whole hours come from
``pool_hour`` (each hour's largest minute per limit), read once for every pool, those of its
ragged ends from their minutes (one read per end). The hour maxima bound every read of the
whole hours' minutes:

- the peak: ``H``, the hours' largest maximum, its earliest minute from the earliest hour whose
  maximum is ``H``; the minutes at ``H`` counted up to ``t``: when there are ``t`` (a pool held
  at its limit) the p99 is ``H`` too;
- else the p99 (the ``t``-th largest minute): each hour's maximum is one of its minutes, so the
  ``t``-th largest of the hour maxima (and ragged minutes) is a bound ``B`` with at least ``t``
  minutes >= ``B``; only the minutes >= ``B`` of the hours whose maximum is >= ``B`` are read
  (first with a tighter guess, kept when it finds ``t`` minutes);
- the minutes at or above 80 % / 100 % of a limit: only the runs of hours whose maximum
  reaches 80 % of a known limit, only their minutes that reach it.

On Postgres the reads at ``H`` and the near-limit counts are one statement each for every pool
(the pools' keys and bounds ``unnest``-ed from arrays, ``LATERAL`` range scans); on SQLite,
which has no ``LATERAL``, a pool at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from collector.pools import PoolKey
from collector.quota_limits import LIMITS
from collector.store.queries.pool_near import (
    _HOUR,
    _KEY,
    _PM,
    _VALUE,
    Span,
    count_near,
    is_pool,
    unnest,
)
from collector.store.rollup import ceil_time, floor_time
from collector.store.schema import TABLES
from collector.store.types import to_utc

_PH = TABLES["pool_hour"]
_HKEY = [_PH.c[c.name] for c in _KEY]
_HCOL = {"rpm": "requests", "itpm": "itpm", "otpm": "otpm"}


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


def _int(value: Any) -> int:
    return round(float(value or 0))


def pool_keys(conn: Any, since: datetime, until: datetime) -> list[PoolKey]:
    """The pools with minutes in ``[since, until)``: a skip scan of the pool index (one seek
    per distinct value of each key column in turn), then per pool one seek into its window.

    The skip scan leaves the window out: with it, SQLite's planner picks the primary key
    (``ts`` first) and sorts every minute of the window to find each next pool (about 0.1 s a
    pool over 30 days). It compares one column at a time under equal leading columns: SQLite
    seeks a row-value comparison ``(a, b, ...) > (...)`` on its first column only, reading
    every minute of the pools that share it. ``SELECT DISTINCT`` would read every minute.
    Postgres seeks the row value on the whole key: one recursive statement
    (:func:`_keys_postgres`)."""
    window = and_(_PM.c.ts >= since, _PM.c.ts < until)
    if conn.dialect.name == "postgresql":
        return _keys_postgres(conn, window)
    return [
        key
        for key in _distinct(conn, ())
        if conn.execute(select(_PM.c.ts).where(is_pool(key), window).limit(1)).first()
    ]


def _keys_postgres(conn: Any, window: ColumnElement[bool]) -> list[PoolKey]:
    """The skip scan in one statement: a recursive CTE whose every step seeks the next key
    after the last (``(a, b, ...) > (...)``, an index condition on the whole key), the pools
    kept that have a minute in ``window``."""
    first = select(*_KEY).order_by(*_KEY).limit(1).cte("pools", recursive=True)
    after = (
        select(*_KEY)
        .where(tuple_(*_KEY) > tuple_(*(first.c[c.name] for c in _KEY)))
        .order_by(*_KEY)
        .limit(1)
        .lateral("after")
    )
    pools = first.union_all(select(*after.c).select_from(first).join(after, true()))
    mine = and_(*(c == pools.c[c.name] for c in _KEY))
    query = select(*pools.c).where(exists().where(mine, window)).order_by(*pools.c)
    return [PoolKey(*row) for row in conn.execute(query)]


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

    Every pool at once: the whole hours from ``pool_hour`` (one read), the minutes of the ragged
    ends (one read per end), the minutes near a limit (:func:`count_near`); then a pool and
    limit at a time, the peak and the p99 from the minutes of the whole hours that the hour
    maxima say can matter (:func:`_p99`)."""
    keys = pool_keys(conn, since, until) if keys is None else keys
    ragged, hours = split_window((since, until))
    hourly, edges = _hour_rows(conn, hours), _ragged_rows(conn, ragged)
    stats = {key: _aggregate(hourly.get(key, []) + edges.get(key, [])) for key in keys}
    maxima = {
        key: _Maxima(hours, [(r.ts, r.values) for r in hourly.get(key, [])],
                     [(r.ts, r.values) for r in edges.get(key, [])])
        for key in keys
    }  # fmt: skip
    near = count_near(conn, {key: (m.hourly, m.ragged) for key, m in maxima.items()}, limits)
    for key, s in stats.items():
        s.over_80, s.at_100 = near[key].over_80, near[key].at_100
        s.any_over_80 = near[key].any_over_80
    newest = max((s.newest for s in stats.values() if s.newest is not None), default=None)
    if not stats:
        return stats, None
    top_rank = _top_rank(max(window_minutes, max(s.rows for s in stats.values())))
    tops = _plateaus(conn, maxima, hours, top_rank)
    for key, s in stats.items():
        m = maxima[key]
        for limit in LIMITS:
            top = tops.get((key, limit))
            hours_top = (top[0], top[2]) if top is not None else None
            if top_rank <= s.rows:
                p99 = _plateau_p99(m, limit, top_rank, top)
                s.p99[limit] = _int(p99 if p99 is not None else _p99(conn, key, m, limit, top_rank))
            peak, at = _peak(m, limit, hours_top)
            s.peak[limit], s.peak_at[limit] = _int(peak), at
    for row in conn.execute(select(*_KEY, *(_VALUE[k] for k in LIMITS)).where(_PM.c.ts == newest)):
        asked = stats.get(PoolKey(*row[:5]))
        if asked is None:  # a pool the caller did not ask for
            continue
        for i, limit in enumerate(LIMITS):
            asked.last[limit] = _int(row[5 + i])
    return stats, newest


class _Row(NamedTuple):
    """A ``pool_hour`` row (an hour: its largest minute per limit, its minutes) or a
    ``pool_minute`` row of a ragged end (a minute, counted as an hour of one minute)."""

    ts: datetime
    values: dict[str, float]
    status_429: float
    minutes: int
    throttled: int
    newest: datetime


def _hour_rows(conn: Any, hours: Span) -> dict[PoolKey, list[_Row]]:
    """Every pool's ``pool_hour`` rows in ``hours``, in one read (a range of the primary key,
    whose first column is the time). The store's times come back in UTC."""
    out: dict[PoolKey, list[_Row]] = {}
    if hours[0] >= hours[1]:
        return out
    rows = conn.execute(
        select(
            _PH.c.ts, *_HKEY, *(_PH.c[_HCOL[k]] for k in LIMITS), _PH.c.status_429,
            _PH.c.minutes, _PH.c.throttled_minutes, _PH.c.newest,
        ).where(_PH.c.ts >= hours[0], _PH.c.ts < hours[1])
    ).all()  # fmt: skip
    rpm, itpm, otpm = LIMITS
    for r in rows:
        values = {rpm: r[6] or 0.0, itpm: r[7] or 0.0, otpm: r[8] or 0.0}
        row = _Row(r[0], values, r[9] or 0.0, r[10] or 0, r[11] or 0, r[12])
        out.setdefault(PoolKey(*r[1:6]), []).append(row)
    return out


def _ragged_rows(conn: Any, ragged: list[Span]) -> dict[PoolKey, list[_Row]]:
    """Every pool's minutes in the ragged ends, one read per end (a range of the primary key)."""
    out: dict[PoolKey, list[_Row]] = {}
    for span in ragged:
        for r in conn.execute(
            select(_PM.c.ts, *_KEY, *(_VALUE[k] for k in LIMITS), _PM.c.status_429).where(
                in_spans(_PM, [span])
            )
        ).all():
            values = {k: float(r[6 + i] or 0.0) for i, k in enumerate(LIMITS)}
            s429 = float(r[9] or 0.0)
            row = _Row(r[0], values, s429, 1, int(s429 > 0), r[0])
            out.setdefault(PoolKey(*r[1:6]), []).append(row)
    return out


def _aggregate(rows: list[_Row]) -> PoolStats:
    """A pool's minutes, 429s, minutes with 429s, newest minute and daily peaks (UTC days)."""
    s = PoolStats()
    by_day: dict[date, list[Any]] = {}
    rpm, itpm, otpm = LIMITS
    for ts, values, s429, minutes, throttled, newest in rows:
        seen = by_day.get(ts.date())
        if seen is None:
            seen = by_day[ts.date()] = [0.0, 0.0, 0.0, 0, 0.0, 0, newest]
        seen[0] = max(seen[0], values[rpm])
        seen[1] = max(seen[1], values[itpm])
        seen[2] = max(seen[2], values[otpm])
        seen[3] += minutes
        seen[4] += s429
        seen[5] += throttled
        seen[6] = max(seen[6], newest)
    s429 = 0.0
    for when, (*peaks, minutes, day429, throttled, newest) in sorted(by_day.items()):
        for i, limit in enumerate(LIMITS):
            s.daily[limit].append((when, _int(peaks[i])))
        s.rows += minutes
        s429 += day429
        s.throttled_minutes += throttled
        s.newest = newest if s.newest is None else max(s.newest, newest)
    s.status_429 = _int(s429)
    return s


def _top_rank(n: int) -> int:
    """The rank of the nearest-rank p99 among ``n`` minutes, counted from the largest."""
    return n - math.ceil(0.99 * n) + 1


@dataclass
class _Maxima:
    """What bounds a pool's minute reads: its whole hours (``pool_hour``: start and largest
    minute per limit) and the minutes of the window's ragged ends (time and value per limit)."""

    hours: Span
    hourly: list[tuple[datetime, dict[str, float]]]
    ragged: list[tuple[datetime, dict[str, float]]]

    def known(self, limit: str) -> list[float]:
        """Values of distinct minutes, largest first: each hour's maximum is one of its minutes,
        so at least ``k`` minutes of the window are >= the ``k``-th value of this list."""
        return sorted([v[limit] for _, v in self.hourly + self.ragged], reverse=True)


def _hour_end(ts: Any, dialect: str) -> ColumnElement[Any]:
    """The end of the hour starting at ``ts`` (a ``pool_hour.ts``), comparable with
    ``pool_minute.ts`` in its storage format (SQLite: seconds since the epoch)."""
    if dialect == "sqlite":
        return ts.op("+")(literal_column("3600"))
    return ts + literal_column("interval '1 hour'")


def _hour_minutes(
    conn: Any,
    key: PoolKey,
    hours: Span,
    hot: ColumnElement[bool],
    columns: list[Any],
    where: ColumnElement[bool],
    order_by: Sequence[Any] = (),
    limit: int | None = None,
) -> Any:
    """``SELECT columns ... WHERE where ORDER BY order_by LIMIT limit`` (all written on
    ``pool_minute``) over the pool's minutes in its whole hours of ``hours`` whose ``pool_hour``
    row satisfies ``hot``: one range seek into ``ix_pool_minute_pool_ts`` per such hour.

    On SQLite a join, the pool key bound as parameters on both tables (joined on the key
    columns, SQLite scans the pool's minutes for every hour); on Postgres a ``LATERAL``
    subquery per hour (as a join, Postgres's planner reads every minute of the pool and probes
    the hours for each: 3.5 s instead of 0.03 s for 30 days)."""
    dialect = conn.dialect.name
    bounds = and_(is_pool(key), _PM.c.ts >= _PH.c.ts, _PM.c.ts < _hour_end(_PH.c.ts, dialect))
    of_hours = and_(is_hour_of(key), _PH.c.ts >= hours[0], _PH.c.ts < hours[1], hot)
    if dialect == "sqlite":
        query = select(*columns).select_from(_PH).join(_PM, bounds).where(of_hours, where)
    else:
        # OFFSET 0 keeps the planner from pulling the subquery up into a plain join
        minutes = select(_PM).where(bounds, where).offset(0).lateral("m")
        adapt = ClauseAdapter(minutes).traverse
        columns, order_by = [adapt(c) for c in columns], [adapt(c) for c in order_by]
        query = select(*columns).select_from(_PH).join(minutes, true()).where(of_hours)
    query = query.order_by(*order_by) if order_by else query
    return query.limit(limit) if limit is not None else query


def _peak(m: _Maxima, limit: str, hours_top: tuple[float, datetime] | None) -> tuple[float, Any]:
    """The largest minute and the earliest minute reaching it, from the ragged ends' minutes
    and ``hours_top``, the whole hours' largest minute (the earliest on a tie), when it can be
    the peak (None when a ragged minute is above every hour's maximum)."""
    found = [(-v[limit], ts) for ts, v in m.ragged]
    found += [(-hours_top[0], hours_top[1])] if hours_top is not None else []
    if not found:
        return 0.0, None
    top, at = min(found)
    return -top, at


#: the first bound tried for the p99 is the hourly maximum ranked ``rank // _GUESS`` among the
#: largest (the hours of the top 1 % mostly hold several of its minutes); a miss tries
#: ``_GROW`` times as many, the last the ``rank``-th, which always holds ``rank`` minutes
_GUESS, _GROW = 2, 2


def _p99(conn: Any, key: PoolKey, m: _Maxima, limit: str, rank: int) -> float:
    """The ``rank``-th largest minute (``rank`` <= the pool's minutes in the window), reading
    only minutes >= a bound ``B`` from the whole hours whose maximum is >= ``B``: every minute
    >= ``B`` is in such an hour, so once ``rank`` of them are found the ``rank``-th is exact."""
    known = m.known(limit)
    value, hour_max = _VALUE[limit], _PH.c[_HCOL[limit]]
    k = max(1, rank // _GUESS)
    while True:
        final = k >= rank or k >= len(known)
        bound = known[rank - 1] if len(known) >= rank else None
        bound = bound if final else known[k - 1]
        hot: ColumnElement[bool]
        where: ColumnElement[bool]
        if bound is None:  # fewer hours and ragged minutes than the rank: every minute
            hot, where = true(), true()
            edges = [v[limit] for _, v in m.ragged]
        else:
            hot, where = hour_max >= bound, value >= bound
            edges = [v[limit] for _, v in m.ragged if v[limit] >= bound]
        query = _hour_minutes(
            conn, key, m.hours, hot, [value, _PM.c.ts], where, [value.desc(), _PM.c.ts], rank
        )
        found = sorted([float(r[0] or 0.0) for r in conn.execute(query)] + edges, reverse=True)
        if len(found) >= rank:
            return found[rank - 1]
        if final:
            return 0.0
        k *= _GROW


def _plateau_p99(
    m: _Maxima, limit: str, rank: int, top: tuple[float, int, datetime] | None
) -> float | None:
    """The ``rank``-th largest minute when at least ``rank`` minutes (the ragged ends' counted)
    reach the whole hours' largest minute (``top``: its value, how many minutes of the whole
    hours reach it, up to ``rank``, and the earliest), else None."""
    if top is None:
        return None
    found = sorted([top[0]] * top[1] + [v[limit] for _, v in m.ragged if v[limit] >= top[0]])
    return found[-rank] if len(found) >= rank else None


def _plateaus(
    conn: Any, maxima: Mapping[PoolKey, _Maxima], hours: Span, rank: int
) -> dict[tuple[PoolKey, str], tuple[float, int, datetime]]:
    """Per pool and limit, the whole hours' largest minute ``H``: its value, how many minutes
    reach it (counted up to ``rank``) and the earliest of them (the hours' peak for
    :func:`_peak`); none for a pool without whole hours.

    The minutes >= ``H`` of the hours whose maximum is ``H`` all equal ``H``; no more than
    ``rank`` of them are read, in no order (a ``LIMIT`` under an ``ORDER BY`` stops early only
    when the planner picks an ordered plan, which Postgres does not without statistics): a pool
    held at its limit (Foundry answers 429 to the rest, so the accepted usage of a busy pool
    sits at the limit for hours) has thousands of minutes at ``H``, which the ordered read of
    :func:`_p99` would sort to keep ``rank``; with ``rank`` of them the p99 is known
    (:func:`_plateau_p99`). The earliest is read from the earliest hour whose maximum is ``H``
    (the hours before it have none)."""
    asks = []
    for key, m in maxima.items():
        for limit in LIMITS:
            top = max((v[limit] for _, v in m.hourly), default=None)
            if top is not None:
                asks.append((key, limit, top, min(ts for ts, v in m.hourly if v[limit] == top)))
    if not asks:
        return {}
    if conn.dialect.name == "postgresql":
        found = _plateaus_postgres(conn, asks, hours, rank)
    else:
        found = {}
        for key, limit, top, hour in asks:
            value, hour_max = _VALUE[limit], _PH.c[_HCOL[limit]]
            some = _hour_minutes(
                conn, key, hours, hour_max >= top, [_PM.c.ts], value >= top, (), rank
            ).subquery()
            earliest = (
                select(func.min(_PM.c.ts))
                .where(is_pool(key), _PM.c.ts >= hour, _PM.c.ts < hour + _HOUR, value >= top)
                .scalar_subquery()
            )
            found[key, limit] = conn.execute(select(func.count(), earliest).select_from(some)).one()
    return {
        (key, limit): (top, int(found[key, limit][0]), to_utc(found[key, limit][1]))
        for key, limit, top, _ in asks
        if (key, limit) in found and found[key, limit][0] and found[key, limit][1] is not None
    }  # (else pool_hour is out of step with the minutes)


def _plateaus_postgres(
    conn: Any, asks: list[tuple[PoolKey, str, float, datetime]], hours: Span, rank: int
) -> dict[tuple[PoolKey, str], Any]:
    """:func:`_plateaus`' reads in one statement: the asks ``unnest``-ed from one array per
    column (pool key, limit, ``H``, the earliest hour at ``H``), per ask a ``LATERAL`` read of
    its hours at ``H`` and, per hour, a ``LATERAL`` range scan of its minutes at ``H`` (as in
    :func:`_hour_minutes`), up to ``rank`` rows, counted; and a range scan of the earliest
    hour for the earliest minute."""
    names = ["i", *(c.name for c in _KEY), "lim", "top", "hour"]
    types: list[Any] = [Integer(), *(String() for _ in _KEY), Integer(), Float()]
    types.append(DateTime(timezone=True))
    rows = [
        (i, *key, LIMITS.index(limit), top, hour) for i, (key, limit, top, hour) in enumerate(asks)
    ]
    ask = unnest("ask", names, types, rows)
    pool = [ask.c[c.name] for c in _KEY]

    def of_limit(table: Any) -> Any:
        return case(
            (ask.c.lim == 0, table.c[_HCOL["rpm"]]),
            (ask.c.lim == 1, table.c[_HCOL["itpm"]]),
            else_=table.c[_HCOL["otpm"]],
        )

    minutes = (
        select(_PM.c.ts)
        .where(
            *(c == p for c, p in zip(_KEY, pool, strict=True)),
            _PM.c.ts >= _PH.c.ts,
            _PM.c.ts < _hour_end(_PH.c.ts, "postgresql"),
            of_limit(_PM) >= ask.c.top,
        )
        .correlate(ask, _PH)  # ask: two levels up
        .offset(0)
        .lateral("m")
    )
    some = (
        select(minutes.c.ts)
        .select_from(_PH)
        .join(minutes, true())
        .where(
            *(c == p for c, p in zip(_HKEY, pool, strict=True)),
            _PH.c.ts >= hours[0],
            _PH.c.ts < hours[1],
            of_limit(_PH) >= ask.c.top,
        )
        .limit(rank)
        .lateral("some")
    )
    earliest = (
        select(func.min(_PM.c.ts).label("ts"))
        .where(
            *(c == p for c, p in zip(_KEY, pool, strict=True)),
            _PM.c.ts >= ask.c.hour,
            _PM.c.ts < _hour_end(ask.c.hour, "postgresql"),
            of_limit(_PM) >= ask.c.top,
        )
        .lateral("earliest")
    )
    query = (
        select(ask.c.i, func.count(), earliest.c.ts)
        .select_from(ask)
        .join(earliest, true())
        .join(some, true())
        .group_by(ask.c.i, earliest.c.ts)
    )
    return {(asks[r[0]][0], asks[r[0]][1]): r[1:] for r in conn.execute(query)}
