"""Each deployment's own headroom figures over a window (issue 17): its peak minute of accepted
requests and of tokens (ITPM + OTPM, what its ARM capacity limits), its 429s and minutes with
429s, and the minutes in which it was throttled near its own limits (the level a pool's 429
minute points at).

The peaks of whole hours are read from ``deployment_hour`` (one row per deployment and hour,
refreshed with the minutes), those of the window's ragged ends from ``metric_minute``; the 429s
and whether the deployment was within :data:`collector.headroom.LEVEL_SHARE` of its own limits
when throttled from ``deployment_throttle`` (one row per deployment and minute with 429s).
Reading every minute instead took 1.7 s over a day and 10.6 s over a week of 100 deployments on
SQLite (docs/benchmarks.md). The answers are the minutes' exactly: the
largest value, the earliest minute reaching it (a deployment with rows but no traffic peaks at
0 in its first minute, one without rows has no peak minute).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)

from collector import headroom as hr
from collector import metric_names as names
from collector.store.queries._sql import _METRIC, _sum_if
from collector.store.rollup import HOUR, ceil_time, floor_time
from collector.store.schema import TABLES
from collector.store.types import to_utc

_ITPM_METRICS = (names.INPUT_TOKENS, names.CACHE_WRITE_5M, names.CACHE_WRITE_1H)
_METRICS = (names.REQUESTS, names.OUTPUT_TOKENS, *_ITPM_METRICS)


@dataclass
class Minutes:
    """One row per deployment and minute with any of the usage metrics, as arrays: accepted
    requests and tokens (ITPM + OTPM)."""

    minute: np.ndarray  # epoch minutes
    dep: np.ndarray
    requests: np.ndarray
    tokens: np.ndarray


def read_minutes(conn: Connection, since: datetime, until: datetime, ids: list[int]) -> Minutes:
    """The usage of deployments ``ids`` per minute of ``[since, until)``."""
    m = _METRIC
    requests = m.c.metric == names.REQUESTS
    stmt = (
        select(
            m.c.ts,
            m.c.deployment_id,
            _sum_if(requests & (m.c.status_code != 429), m.c.total).label("requests"),
            _sum_if(~requests, m.c.total).label("tokens"),
        )
        .where(
            m.c.ts >= since,
            m.c.ts < until,
            m.c.metric.in_(_METRICS),
            m.c.deployment_id.in_(ids),
        )
        .group_by(m.c.ts, m.c.deployment_id)
    )
    rows = conn.execute(stmt).all() if ids and since < until else []
    epoch = np.array([int(to_utc(r.ts).timestamp()) // 60 for r in rows], np.int64)

    def col(name: str) -> np.ndarray:
        return np.array([float(getattr(r, name) or 0) for r in rows], float)

    return Minutes(
        minute=epoch,
        dep=np.array([r.deployment_id for r in rows], np.int64),
        requests=col("requests"),
        tokens=col("tokens"),
    )


@dataclass
class DeploymentStats:
    """One deployment's figures over a window."""

    #: (value, epoch minute) of the largest minute, the earliest on a tie; None without rows
    peak_requests: tuple[float, int] | None = None
    peak_tokens: tuple[float, int] | None = None
    status_429: float = 0.0
    throttled_minutes: int = 0
    #: epoch minutes with 429s at or above LEVEL_SHARE of the deployment's own limits
    near_throttled: set[int] = field(default_factory=set)

    def peak_rpm(self) -> tuple[int, datetime | None]:
        return _shown(self.peak_requests)

    def peak_tpm(self) -> tuple[int, datetime | None]:
        return _shown(self.peak_tokens)


def _shown(peak: tuple[float, int] | None) -> tuple[int, datetime | None]:
    return (0, None) if peak is None else (round(peak[0]), hr.minute_dt(peak[1]))


def _better(best: tuple[float, int] | None, value: float, minute: int) -> tuple[float, int]:
    """The larger of two (value, minute) peaks, the earlier minute on a tie."""
    if best is None or value > best[0] or (value == best[0] and minute < best[1]):
        return value, minute
    return best


def deployment_stats(
    conn: Connection,
    since: datetime,
    until: datetime,
    limits: Mapping[int, tuple[float | None, int | None]],
) -> dict[int, DeploymentStats]:
    """The figures of every deployment in ``limits`` (its (RPM, TPM) capacity limits, None when
    unknown) over ``[since, until)``."""
    ids = sorted(limits)
    stats = {i: DeploymentStats() for i in ids}
    if not ids or since >= until:
        return stats
    first, last = ceil_time(since, HOUR), floor_time(until, HOUR)
    if first >= last:
        _add_peaks(stats, read_minutes(conn, since, until, ids))
    else:
        for lo, hi in ((since, first), (last, until)):
            if lo < hi:
                _add_peaks(stats, read_minutes(conn, lo, hi, ids))
        _add_hours(conn, stats, first, last)
    _add_throttles(conn, stats, since, until, limits)
    return stats


def _add_peaks(stats: dict[int, DeploymentStats], data: Minutes) -> None:
    """Fold minutes (the window's ragged ends) into the peaks."""
    tokens = data.tokens
    for dep in np.unique(data.dep).tolist():
        one, mine = stats[dep], data.dep == dep
        minute = data.minute[mine]
        for name, values in (("peak_requests", data.requests[mine]), ("peak_tokens", tokens[mine])):
            best = values.max()
            at = int(minute[values == best].min())
            setattr(one, name, _better(getattr(one, name), float(best), at))


def _add_hours(
    conn: Connection, stats: dict[int, DeploymentStats], first: datetime, last: datetime
) -> None:
    """Fold the peaks of the whole hours ``[first, last)`` of ``deployment_hour``: per
    deployment the largest hour maximum and the earliest minute reaching it, found in SQL."""
    dh, dialect = TABLES["deployment_hour"], conn.dialect.name
    rows = (
        select(
            dh.c.deployment_id,
            dh.c.requests,
            dh.c.requests_at,
            dh.c.tokens,
            dh.c.tokens_at,
            func.max(dh.c.requests).over(partition_by=dh.c.deployment_id).label("top_requests"),
            func.max(dh.c.tokens).over(partition_by=dh.c.deployment_id).label("top_tokens"),
        )
        .where(dh.c.ts >= first, dh.c.ts < last, dh.c.deployment_id.in_(sorted(stats)))
        .subquery()
    )
    r = rows.c
    peaks = select(
        r.deployment_id,
        func.max(r.requests),
        epoch_minute(func.min(case((r.requests == r.top_requests, r.requests_at))), dialect),
        func.max(r.tokens),
        epoch_minute(func.min(case((r.tokens == r.top_tokens, r.tokens_at))), dialect),
    ).group_by(r.deployment_id)
    for dep, requests, requests_at, tokens, tokens_at in conn.execute(peaks):
        one = stats[dep]
        one.peak_requests = _better(one.peak_requests, float(requests or 0), int(requests_at))
        one.peak_tokens = _better(one.peak_tokens, float(tokens or 0), int(tokens_at))


def _add_throttles(
    conn: Connection,
    stats: dict[int, DeploymentStats],
    since: datetime,
    until: datetime,
    limits: Mapping[int, tuple[float | None, int | None]],
) -> None:
    """The 429s, the minutes with 429s and those near the deployment's own limits, from
    ``deployment_throttle``: counted and compared in SQL (a busy week holds 10^5 rows)."""
    dt = TABLES["deployment_throttle"]
    window = (dt.c.ts >= since, dt.c.ts < until, dt.c.deployment_id.in_(sorted(stats)))
    totals = select(dt.c.deployment_id, func.sum(dt.c.status_429), func.count())
    for dep, s429, minutes in conn.execute(totals.where(*window).group_by(dt.c.deployment_id)):
        stats[dep].status_429 += float(s429 or 0)
        stats[dep].throttled_minutes += int(minutes)
    near = []
    for column, index in ((dt.c.requests, 0), (dt.c.tokens, 1)):
        shares = {
            dep: hr.LEVEL_SHARE * limit
            for dep, pair in limits.items()
            if (limit := pair[index]) is not None and limit > 0
        }
        if shares:
            near.append(column >= case(shares, value=dt.c.deployment_id, else_=None))
    if not near:
        return
    minute = epoch_minute(dt.c.ts, conn.dialect.name)
    for dep, at in conn.execute(select(dt.c.deployment_id, minute).where(*window, or_(*near))):
        stats[dep].near_throttled.add(int(at))


def epoch_minute(column: Any, dialect: str) -> Any:
    """Minutes since the epoch of a stored time, as an integer, in SQL."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 60), BigInteger)
    return cast(column, Integer).op("/")(literal_column("60"))  # SQLite: seconds since the epoch
