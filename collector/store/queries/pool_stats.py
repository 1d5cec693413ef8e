"""Per quota pool and limit, the figures headroom needs, aggregated in SQL over ``pool_minute``
(one row per pool and minute): a 30-day window is a few grouped scans, never 300,000 rows
shipped to Python. The same numbers as :func:`collector.headroom.limit_headroom` over the
pool's minute series (a test checks them against it on both databases):

- peak and its earliest minute; nearest-rank p99 over every minute of the window (minutes
  without a row count as 0: the ``t``-th largest value, ``t = n - ceil(0.99 n) + 1``, else 0);
- minutes at or above 80 % and 100 % of each known limit, and at or above 80 % of any;
- the 429s and the minutes with 429s; each UTC day's peak (for the forecast); the usage in the
  newest minute of the window (the last complete minute).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collector.headroom import NEAR
from collector.pools import PoolKey
from collector.quota_limits import LIMITS
from collector.store.queries._sql import time_bucket
from collector.store.schema import TABLES
from collector.store.types import to_utc

_PM = TABLES["pool_minute"]
_KEY = [_PM.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")]
_VALUE = {"rpm": _PM.c.requests, "itpm": _PM.c.itpm, "otpm": _PM.c.otpm}


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


def _is(key: PoolKey) -> ColumnElement[bool]:
    return and_(*(column == value for column, value in zip(_KEY, key, strict=True)))


def _per_pool(values: Mapping[PoolKey, float]) -> Any:
    """A value per pool as a CASE on the key (NULL for the others: comparisons then fail)."""
    if not values:
        return null()
    return case(*((_is(k), v) for k, v in values.items()), else_=null())


def _int(value: Any) -> int:
    return round(float(value or 0))


def pool_stats(
    conn: Any,
    since: datetime,
    until: datetime,
    limits: Mapping[PoolKey, Mapping[str, int | None]],
    window_minutes: int,
) -> tuple[dict[PoolKey, PoolStats], datetime | None]:
    """The aggregates of every pool with rows in ``[since, until)``, and the newest minute."""
    window = and_(_PM.c.ts >= since, _PM.c.ts < until)
    thresholds = {
        (limit, share): _per_pool(
            {k: share * v[limit] for k, v in limits.items() if v.get(limit)}  # type: ignore[operator]
        )
        for limit in LIMITS
        for share in (NEAR, 1.0)
    }
    counts = [
        func.sum(case((_VALUE[limit] >= thresholds[(limit, share)], 1), else_=0))
        for limit in LIMITS
        for share in (NEAR, 1.0)
    ]
    near_any = or_(*(_VALUE[limit] >= thresholds[(limit, NEAR)] for limit in LIMITS))
    rows = conn.execute(
        select(
            *_KEY, func.count(), *(func.max(_VALUE[k]) for k in LIMITS),
            func.sum(_PM.c.status_429), func.sum(case((_PM.c.status_429 > 0, 1), else_=0)),
            func.max(_PM.c.ts), *counts, func.sum(case((near_any, 1), else_=0)),
        ).where(window).group_by(*_KEY)
    ).all()  # fmt: skip
    stats: dict[PoolKey, PoolStats] = {}
    newest: datetime | None = None
    for row in rows:
        s = stats.setdefault(PoolKey(*row[:5]), PoolStats())
        s.rows = int(row[5])
        for i, limit in enumerate(LIMITS):
            s.peak[limit] = _int(row[6 + i])
            s.over_80[limit] = int(row[12 + 2 * i] or 0)
            s.at_100[limit] = int(row[13 + 2 * i] or 0)
        s.status_429, s.throttled_minutes = _int(row[9]), int(row[10] or 0)
        s.any_over_80 = int(row[18] or 0)
        moment = to_utc(row[11])
        newest = moment if newest is None or moment > newest else newest
    if not stats:
        return stats, None
    _peak_minutes(conn, window, stats)
    _p99(conn, window, stats, window_minutes)
    _daily(conn, window, stats)
    last = conn.execute(select(*_KEY, *(_VALUE[k] for k in LIMITS)).where(_PM.c.ts == newest)).all()
    for row in last:
        s = stats[PoolKey(*row[:5])]
        for i, limit in enumerate(LIMITS):
            s.last[limit] = _int(row[5 + i])
    return stats, newest


def _peak_minutes(conn: Any, window: Any, stats: dict[PoolKey, PoolStats]) -> None:
    for limit in LIMITS:
        value = _VALUE[limit]
        top = select(*_KEY, func.max(value).label("top")).where(window).group_by(*_KEY).subquery()
        on = and_(*(c == top.c[c.name] for c in _KEY), value == top.c.top)
        for row in conn.execute(
            select(*_KEY, func.min(_PM.c.ts))
            .select_from(_PM.join(top, on))
            .where(window)
            .group_by(*_KEY)
        ):
            stats[PoolKey(*row[:5])].peak_at[limit] = to_utc(row[5])


def _p99(conn: Any, window: Any, stats: dict[PoolKey, PoolStats], window_minutes: int) -> None:
    n = max(window_minutes, max(s.rows for s in stats.values()))
    top_rank = n - math.ceil(0.99 * n) + 1  # the p99 is the top_rank-th largest minute
    for limit in LIMITS:
        value = _VALUE[limit]
        rank = func.row_number().over(partition_by=_KEY, order_by=value.desc()).label("rn")
        ranked = select(*_KEY, value.label("v"), rank).where(window).subquery()
        for row in conn.execute(
            select(*(ranked.c[c.name] for c in _KEY), ranked.c.v).where(ranked.c.rn == top_rank)
        ):
            stats[PoolKey(*row[:5])].p99[limit] = _int(row[5])


def _daily(conn: Any, window: Any, stats: dict[PoolKey, PoolStats]) -> None:
    day = time_bucket(_PM.c.ts, 86400, conn.dialect.name)
    for row in conn.execute(
        select(day.label("day"), *_KEY, *(func.max(_VALUE[k]) for k in LIMITS))
        .where(window)
        .group_by(day, *_KEY)
        .order_by(day)
    ):
        s = stats[PoolKey(*row[1:6])]
        for i, limit in enumerate(LIMITS):
            s.daily[limit].append((to_utc(row[0]).date(), _int(row[6 + i])))
