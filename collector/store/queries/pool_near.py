"""Per quota pool and known limit, the minutes at or above 80 % and 100 % of the limit, and the
minutes at or above 80 % of any (the ``over_80``, ``at_100`` and ``any_over_80`` figures of
:mod:`collector.store.queries.pool_stats`).

The window's ragged ends are counted from their minutes, already read; the whole hours in SQL,
from the runs of hours whose largest minute (``pool_hour``) reaches 80 % of a known limit (the
other hours count none), only their minutes that reach it. On Postgres one statement for every
pool: the runs and each pool's thresholds in a ``VALUES`` list, the minutes of each run read
by a ``LATERAL`` range scan; on SQLite a ``UNION ALL`` of range scans a pool at a time (SQLite
has no ``LATERAL``, and joined on the key columns it reads every minute of the pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from collector.headroom import NEAR
from collector.pools import PoolKey
from collector.quota_limits import LIMITS
from collector.store.schema import TABLES

_PM = TABLES["pool_minute"]
_KEY = [_PM.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")]
_VALUE = {"rpm": _PM.c.requests, "itpm": _PM.c.itpm, "otpm": _PM.c.otpm}
_HOUR = timedelta(hours=1)
Span = tuple[datetime, datetime]
#: one minute's usage per limit, or one hour's largest minute per limit
Minutes = Sequence[tuple[datetime, Mapping[str, float]]]


@dataclass
class Near:
    """The near-limit counts of one pool (only its known limits counted)."""

    over_80: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    at_100: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIMITS, 0))
    any_over_80: int = 0


def unnest(name: str, names: Sequence[str], types: Sequence[Any], rows: Sequence[Any]) -> Any:
    """``rows`` as the Postgres derived table ``name`` with columns ``names`` of ``types``: one
    array parameter per column, ``unnest``-ed (the statement's text and plan stay the same for
    any number of rows)."""
    arrays = [
        bindparam(f"{name}_{column}", list(values), ARRAY(kind))
        for column, values, kind in zip(names, zip(*rows, strict=True), types, strict=True)
    ]
    return func.unnest(*arrays).table_valued(*names).render_derived(name=name)


def is_pool(key: PoolKey) -> ColumnElement[bool]:
    """The ``pool_minute`` rows of one pool."""
    return and_(*(c == value for c, value in zip(_KEY, key, strict=True)))


def count_near(
    conn: Any,
    pools: Mapping[PoolKey, tuple[Minutes, Minutes]],
    limits: Mapping[PoolKey, Mapping[str, int | None]],
) -> dict[PoolKey, Near]:
    """Per pool of ``pools`` (its whole hours' maxima and its ragged ends' minutes): the minutes
    at or above 80 % and 100 % of each known limit, and at or above 80 % of any."""
    out: dict[PoolKey, Near] = {}
    hot: dict[PoolKey, tuple[dict[str, int], list[Span]]] = {}
    for key, (hourly, ragged) in pools.items():
        near = out[key] = Near()
        known = {n: v for n, v in limits.get(key, {}).items() if v and n in _VALUE}
        for _, v in ragged:
            for limit, value in known.items():
                near.over_80[limit] += v[limit] >= NEAR * value
                near.at_100[limit] += v[limit] >= value
            near.any_over_80 += any(v[n] >= NEAR * value for n, value in known.items())
        hours = [ts for ts, v in hourly if any(v[n] >= NEAR * value for n, value in known.items())]
        if hours:
            hot[key] = (known, _runs(sorted(hours)))
    if not hot:
        return out
    read = _count_postgres if conn.dialect.name == "postgresql" else _count_sqlite
    for key, counts in read(conn, hot).items():
        near = out[key]
        for limit in LIMITS:
            near.over_80[limit] += counts[2 * LIMITS.index(limit)]
            near.at_100[limit] += counts[2 * LIMITS.index(limit) + 1]
        near.any_over_80 += counts[-1]
    return out


def _count_sqlite(
    conn: Any, hot: Mapping[PoolKey, tuple[dict[str, int], list[Span]]]
) -> dict[PoolKey, list[int]]:
    """A pool at a time: one range scan per run, ``UNION ALL``-ed (an ``OR`` of ranges makes
    SQLite read every minute of the pool)."""
    out = {}
    for key, (known, runs) in hot.items():
        near = or_(*(_VALUE[n] >= NEAR * value for n, value in known.items()))
        minutes = union_all(
            *(
                select(*_VALUE.values()).where(is_pool(key), _PM.c.ts >= lo, _PM.c.ts < hi, near)
                for lo, hi in runs
            )
        ).subquery()
        shares = [(n, share) for n in known for share in (NEAR, 1.0)]
        counts = [
            func.count().filter(minutes.c[_VALUE[n].name] >= share * known[n])
            for n, share in shares
        ]
        row = conn.execute(select(*counts, func.count()).select_from(minutes)).one()
        got = dict(zip(shares, row, strict=False))
        out[key] = [int(got.get((n, share)) or 0) for n in LIMITS for share in (NEAR, 1.0)]
        out[key].append(int(row[-1] or 0))
    return out


def _count_postgres(
    conn: Any, hot: Mapping[PoolKey, tuple[dict[str, int], list[Span]]]
) -> dict[PoolKey, list[int]]:
    """Every pool in one statement: its runs, one row each (the pool's index, key, start, end
    and six thresholds, NULL for an unknown limit, which no comparison meets) ``unnest``-ed from
    one array per column (one parameter each: the statement's text and plan stay the same for
    any number of runs, where a ``VALUES`` list of 14 parameters a run cost more to build and
    bind than to run), and per row a ``LATERAL`` range scan of the run's minutes that reach a
    threshold (``OFFSET 0`` keeps the planner from turning it into a join that reads every
    minute of the pool); the counts grouped by pool."""
    keys = list(hot)
    rows = [
        (i, *keys[i], lo, hi,
         *(share * known[n] if n in known else None for n in LIMITS for share in (NEAR, 1.0)))
        for i, (known, runs) in enumerate(hot.values())
        for lo, hi in runs
    ]  # fmt: skip
    names = ["i", *(c.name for c in _KEY), "lo", "hi"]
    names += [f"{n}_{share}" for n in LIMITS for share in ("80", "100")]
    types: list[Any] = [Integer(), *(String() for _ in _KEY), DateTime(timezone=True)]
    types += [DateTime(timezone=True)] + [Float()] * (2 * len(LIMITS))
    runs = unnest("runs", names, types, rows)
    t = {name: runs.c[name] for name in names}
    minutes = (
        select(*_VALUE.values())
        .where(
            *(c == t[c.name] for c in _KEY),
            _PM.c.ts >= t["lo"],
            _PM.c.ts < t["hi"],
            or_(*(_VALUE[n] >= t[f"{n}_80"] for n in LIMITS)),
        )
        .offset(0)
        .lateral("m")
    )
    counts = [
        func.count().filter(minutes.c[_VALUE[n].name] >= t[f"{n}_{share}"])
        for n in LIMITS
        for share in ("80", "100")
    ]
    query = (
        select(t["i"], *counts, func.count())
        .select_from(runs)
        .join(minutes, true())
        .group_by(t["i"])
    )
    return {keys[row[0]]: [int(x or 0) for x in row[1:]] for row in conn.execute(query)}


#: at most this many time ranges in one read (SQLite allows 500 terms in a compound SELECT)
_MAX_RUNS = 48


def _runs(hours: list[datetime]) -> list[Span]:
    """The runs of consecutive ``hours`` (sorted) as time ranges, at most ``_MAX_RUNS`` of them:
    beyond, the shortest gaps are filled (their hours add minutes to read, never to count:
    each is below every threshold the read filters on).

    One range scan per run: an ``OR`` of ranges makes SQLite read every minute of the pool,
    and a join per hour costs Postgres about three times a range scan of the same minutes."""
    runs: list[Span] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + _HOUR)
        else:
            runs.append((hour, hour + _HOUR))
    if len(runs) <= _MAX_RUNS:
        return runs
    gaps = sorted(range(len(runs) - 1), key=lambda j: (runs[j + 1][0] - runs[j][1], j))
    fill = set(gaps[: len(runs) - _MAX_RUNS])  # the gap after run j is filled
    out = [runs[0]]
    for j in range(1, len(runs)):
        out[-1:] = [(out[-1][0], runs[j][1])] if j - 1 in fill else [out[-1], runs[j]]
    return out
