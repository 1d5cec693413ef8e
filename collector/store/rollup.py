"""Rollups of the per-minute tables, recomputed for the spans a write touched.

``metric_15m`` / ``latency_hist_15m`` hold the minutes summed per UTC quarter hour,
``metric_hour`` / ``latency_hist_hour`` the quarters summed per hour and ``metric_day`` /
``latency_hist_day`` the hours summed per day, so a 30-day view reads whole days (1,440 times
fewer rows than minutes), a day-long view quarter hours, and minutes only at ragged ends.
``throttle_hour`` counts, per hour and deployment, the minutes with 429s and those of them
shared with another deployment of the quota pool; ``latency_pct_15m`` / ``_hour`` / ``_day``
hold the p50/p95/p99 buckets of each histogram rollup (percentiles do not add up).

They are derived data: each refresh recomputes the touched quarters, hours and days from the
finer table and makes the stored rows equal to them (:func:`replace_window`; on Postgres only the
rows that changed are written), in the caller's transaction, which makes it idempotent and
keeps rollups and minutes consistent. Anyone writing minute rows must call :func:`refresh` for
their span.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.elements import ColumnElement

from collector.store.pool_sql import pool_columns
from collector.store.schema import TABLES
from collector.store.types import sqlite_times_as_text, to_utc

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
REQUESTS = "ModelRequests"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(moment: datetime, length: timedelta) -> datetime:
    """Start of the ``length``-long step (aligned on the UTC epoch) holding ``moment``."""
    return _EPOCH + (moment - _EPOCH) // length * length


def ceil_time(moment: datetime, length: timedelta) -> datetime:
    """``moment`` if a step starts there, else the start of the next step."""
    floor = floor_time(moment, length)
    return floor if floor == moment else floor + length


def floor_to(column: Any, seconds: int, dialect: str) -> Any:
    """The ``seconds``-long step (a quarter hour, an hour or a day, aligned on the UTC epoch)
    holding ``column``, in the column's own storage format on each database."""
    n: Any = literal_column(str(int(seconds)))
    if dialect == "postgresql":
        if seconds == 3600:
            return func.date_trunc("hour", column)
        # date_trunc('day') would follow the session's time zone: count from the epoch instead
        return func.to_timestamp(func.floor(func.extract("epoch", column) / n) * n)
    if sqlite_times_as_text():  # a migration before 0014: 'YYYY-MM-DD HH:MM:SS.ffffff'
        epoch = cast(func.strftime(literal_column("'%s'"), column), Integer)
        return func.strftime(
            literal_column("'%Y-%m-%d %H:%M:%S.000000'"),
            epoch - epoch % n,
            literal_column("'unixepoch'"),
        )
    # seconds since the epoch; the cast floors a float (a time with microseconds)
    return cast(column, Integer).op("/")(n).op("*")(n)


def hour_of(column: Any, dialect: str) -> Any:
    """The hour holding ``column``, in the column's own storage format on each database."""
    return floor_to(column, 3600, dialect)


def replace_window(
    conn: Connection, dst: Table, lo: datetime, hi: datetime, columns: list[str], rows: Select[Any]
) -> None:
    """Make ``dst``'s rows in ``[lo, hi)`` exactly ``rows`` (their ``columns``, in order).

    SQLite deletes the window and inserts the rows. Postgres writes only what changed, in one
    statement: a row whose values are the same stays as it is, a changed one is updated, a new
    one inserted, and a stored row that ``rows`` no longer has is deleted. Every refresh
    recomputes whole hours that are mostly unchanged, and on Postgres a deleted or updated row
    leaves a dead tuple behind (in the table and in each index) until a vacuum; rewriting the
    whole window on every collection made ``pool_minute`` and the rollups several times their
    live size (docs/benchmarks.md, bytes per deployment-day).
    """
    window = and_(dst.c.ts >= lo, dst.c.ts < hi)
    if conn.dialect.name != "postgresql":
        conn.execute(dst.delete().where(window))
        conn.execute(insert(dst).from_select(columns, rows))
        return
    key = [c.name for c in dst.primary_key.columns]
    values = [c for c in columns if c not in key]
    new = rows.cte("new")
    fresh = dict(zip(columns, new.c, strict=True))
    upsert = pg_insert(dst).from_select(columns, select(*new.c))
    upsert = upsert.on_conflict_do_update(
        index_elements=key,
        set_={c: upsert.excluded[c] for c in values},
        where=tuple_(*(dst.c[c] for c in values)).is_distinct_from(
            tuple_(*(upsert.excluded[c] for c in values))
        ),
    )
    # The two parts see the same snapshot and touch different rows: the delete those whose key
    # ``rows`` lacks, the upsert those whose key it has.
    gone = ~exists().where(*(fresh[c] == dst.c[c] for c in key))
    conn.execute(dst.delete().where(window, gone).add_cte(upsert.cte("upserted")))


def refresh(
    conn: Connection, start: datetime, end: datetime, *, metrics: bool = True, hist: bool = True
) -> None:
    """Recompute the rollups for every quarter hour, hour and day overlapping ``[start, end)``:
    quarters from the minutes, hours from the quarters, days from the hours."""
    lo, hi = floor_time(start, HOUR), ceil_time(end, HOUR)
    if hi <= lo:
        return
    days = _whole_days(conn, lo, hi)
    if metrics:
        sum_into(conn, "metric_minute", "metric_15m", QUARTER, lo, hi)
        sum_into(conn, "metric_15m", "metric_hour", HOUR, lo, hi)
        sum_into(conn, "metric_hour", "metric_day", DAY, *days)
        refresh_throttles(conn, lo, hi)
        refresh_pools(conn, lo, hi)
        refresh_pool_hours(conn, lo, hi)
        refresh_deployment_hours(conn, lo, hi)
    if hist:
        sum_into(conn, "latency_hist", "latency_hist_15m", QUARTER, lo, hi)
        sum_into(conn, "latency_hist_15m", "latency_hist_hour", HOUR, lo, hi)
        sum_into(conn, "latency_hist_hour", "latency_hist_day", DAY, *days)
        percentiles_into(conn, "latency_hist_15m", "latency_pct_15m", lo, hi)
        percentiles_into(conn, "latency_hist_hour", "latency_pct_hour", lo, hi)
        percentiles_into(conn, "latency_hist_day", "latency_pct_day", *days)


#: Histogram rollups with their precomputed percentiles, by step length in seconds.
PERCENTILE_TABLES = {
    900: ("latency_hist_15m", "latency_pct_15m"),
    3600: ("latency_hist_hour", "latency_pct_hour"),
    86400: ("latency_hist_day", "latency_pct_day"),
}


def percentiles_into(conn: Connection, hist: str, target: str, lo: datetime, hi: datetime) -> None:
    """Replace ``target``'s rows in ``[lo, hi)`` by the p50/p95/p99 buckets of each of
    ``hist``'s histograms (per step, deployment and status class). A chart per deployment whose
    step is the rollup's reads these instead of ranking the buckets again."""
    src, dst = TABLES[hist], TABLES[target]
    rows = (
        select(
            src.c.ts, src.c.deployment_id, src.c.status_class, src.c.bucket,
            src.c["count"].label("n"),
        )
        .where(src.c.ts >= lo, src.c.ts < hi)
        .subquery("hist")
    )  # fmt: skip
    picks = percentile_buckets(rows, ["ts", "deployment_id", "status_class"], DEFAULT_QUANTILES)
    replace_window(
        conn, dst, lo, hi,
        ["ts", "deployment_id", "status_class", "requests", "b50", "b95", "b99"], picks,
    )  # fmt: skip


DEFAULT_QUANTILES: tuple[float, float, float] = (0.5, 0.95, 0.99)
_Q_SCALE = 1_000_000  # quantiles as integers per million: exact comparisons in SQL


def percentile_buckets(hist: Any, keys: Sequence[str], quantiles: Sequence[float]) -> Select[Any]:
    """Per group of ``keys``: total count and the bucket holding each nearest-rank quantile.

    ``hist`` has the columns ``keys``, ``bucket`` and ``n`` (count, one row per bucket). The
    q-quantile's rank is ``ceil(q * total)``; for an integer running count ``cum``,
    ``cum >= ceil(q * total)`` iff ``cum * 10^6 >= (q * 10^6) * total``: exact integer arithmetic,
    equal to :func:`collector.histogram.percentile` for quantiles with up to six decimals.
    """
    partition = [hist.c[k] for k in keys]
    running = (
        select(
            *partition,
            hist.c.bucket,
            func.sum(hist.c.n)
            .over(partition_by=partition, order_by=hist.c.bucket, rows=(None, 0))
            .label("cum"),
            func.sum(hist.c.n).over(partition_by=partition).label("total"),
        )
        .where(hist.c.n > 0)
        .subquery()
    )
    picks = []
    for i, q in enumerate(quantiles):
        if not 0 < q <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {q}")
        scaled: ColumnElement[Any] = literal_column(str(round(q * _Q_SCALE)))
        reached = running.c.cum * literal_column(str(_Q_SCALE)) >= scaled * running.c.total
        picks.append(func.min(case((reached, running.c.bucket))).label(f"b{i}"))
    group = [running.c[k] for k in keys]
    return select(*group, func.max(running.c.total).label("total"), *picks).group_by(*group)


#: The watermark the prune leaves: raw rows (and hours) before its value are gone.
PRUNED = ("prune", "raw")


def _whole_days(conn: Connection, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """The days overlapping ``[lo, hi)`` that may be recomputed from the hours: all of them but
    those starting before the prune's cut-off. Daily rollups outlive the hours (see
    ``retention``), so the day the prune cut into keeps the row it had with all its hours."""
    day_lo, day_hi = floor_time(lo, DAY), ceil_time(hi, DAY)
    w = TABLES["watermark"]
    cutoff = conn.execute(
        select(w.c.value).where(w.c.source == PRUNED[0], w.c.scope == PRUNED[1])
    ).scalar()
    if cutoff is not None:
        day_lo = max(day_lo, ceil_time(to_utc(cutoff), DAY))
    return day_lo, max(day_lo, day_hi)


def stored_days(conn: Connection, *tables: str) -> list[datetime]:
    """The UTC days from the oldest to the newest ``ts`` stored in ``tables`` (none when they
    are empty): migrations that add a rollup fill it a day at a time over these."""
    bounds = [
        conn.execute(select(func.min(TABLES[t].c.ts), func.max(TABLES[t].c.ts))).one()
        for t in tables
    ]
    lows = [to_utc(low) for low, _ in bounds if low is not None]
    highs = [to_utc(high) for _, high in bounds if high is not None]
    if not lows:
        return []
    day, last = floor_time(min(lows), DAY), max(highs)
    days = []
    while day <= last:
        days.append(day)
        day += DAY
    return days


def sum_into(
    conn: Connection, source: str, target: str, length: timedelta, lo: datetime, hi: datetime
) -> None:
    """Replace ``target``'s rows in ``[lo, hi)`` (aligned on ``length``) by ``source``'s rows
    summed per ``length``: one level of :func:`refresh`. Migrations that add a rollup fill it
    with this, naming the tables that exist at their revision."""
    if source.startswith("latency_hist"):
        _hist(conn, source, target, length, lo, hi)
    else:
        _metrics(conn, source, target, length, lo, hi)


_METRIC_COLUMNS = [
    "ts", "deployment_id", "metric", "status_code", "total", "count", "maximum",
    "avg_x_count", "average_sum", "average_n",
]  # fmt: skip


def _metrics(
    conn: Connection, source: str, target: str, length: timedelta, lo: datetime, hi: datetime
) -> None:
    """Replace ``target``'s rows in ``[lo, hi)`` by ``source``'s summed per ``length``; the
    source is ``metric_minute`` or a finer rollup (the same columns, already summed)."""
    src, dst = TABLES[source], TABLES[target]
    step = floor_to(src.c.ts, int(length.total_seconds()), conn.dialect.name)
    if source == "metric_minute":
        sums = [
            func.sum(src.c.total), func.sum(src.c["count"]), func.max(src.c.maximum),
            func.sum(src.c.average * src.c["count"]), func.sum(src.c.average),
            func.count(src.c.average),
        ]  # fmt: skip
    else:
        sums = [
            func.sum(src.c.total), func.sum(src.c["count"]), func.max(src.c.maximum),
            func.sum(src.c.avg_x_count), func.sum(src.c.average_sum), func.sum(src.c.average_n),
        ]  # fmt: skip
    replace_window(
        conn, dst, lo, hi, _METRIC_COLUMNS,
        select(step, src.c.deployment_id, src.c.metric, src.c.status_code, *sums)
        .where(src.c.ts >= lo, src.c.ts < hi)
        .group_by(step, src.c.deployment_id, src.c.metric, src.c.status_code),
    )  # fmt: skip


def _hist(
    conn: Connection, source: str, target: str, length: timedelta, lo: datetime, hi: datetime
) -> None:
    """Replace ``target``'s histogram rows in ``[lo, hi)`` by ``source``'s summed per
    ``length``."""
    src, dst = TABLES[source], TABLES[target]
    step = floor_to(src.c.ts, int(length.total_seconds()), conn.dialect.name)
    replace_window(
        conn, dst, lo, hi, ["ts", "deployment_id", "status_class", "bucket", "count"],
        select(
            step, src.c.deployment_id, src.c.status_class, src.c.bucket, func.sum(src.c["count"])
        )
        .where(src.c.ts >= lo, src.c.ts < hi)
        .group_by(step, src.c.deployment_id, src.c.status_class, src.c.bucket),
    )  # fmt: skip


def throttled_minutes(lo: datetime, hi: datetime) -> Any:
    """The deployment-minutes with 429s in ``[lo, hi)`` as a subquery: ts, deployment_id,
    status_429 and ``shared`` (1 when another deployment of the same quota pool, subscription,
    model, version, kind and zone (:mod:`collector.pools`), had 429s in the same minute, else
    0)."""
    m, d, r = TABLES["metric_minute"], TABLES["deployment"], TABLES["resource"]
    key = pool_columns(r.c.subscription_id, d.c.model, d.c.model_version, d.c.sku, r.c.location)
    # with metric and status code fixed, (ts, deployment_id) is the key: one row per minute
    pool_count = func.count().over(partition_by=(m.c.ts, *(c.element for c in key)))
    return (
        select(
            m.c.ts,
            m.c.deployment_id,
            m.c.total.label("status_429"),
            case((and_(d.c.model.is_not(None), pool_count > 1), 1), else_=0).label("shared"),
        )
        .select_from(m.join(d, d.c.id == m.c.deployment_id).outerjoin(r, r.c.id == d.c.resource_id))
        .where(
            m.c.ts >= lo,
            m.c.ts < hi,
            m.c.metric == REQUESTS,
            m.c.status_code == 429,
            m.c.total > 0,
        )
        .subquery("throttled")
    )


#: The metrics ``pool_minute`` sums: requests, and the tokens Foundry's ITPM and OTPM count.
_POOL_INPUT = ("InputTokens", "ephemeral5mInputTokens", "ephemeral1hInputTokens")
_POOL_METRICS = (REQUESTS, "OutputTokens", *_POOL_INPUT)


def refresh_pools(conn: Connection, lo: datetime, hi: datetime) -> None:
    """Recompute ``pool_minute`` for the minutes in ``[lo, hi)``: each Claude deployment's
    accepted requests, 429s, ITPM and OTPM summed per minute and quota pool (the pool of its
    current inventory)."""
    m, d, r = TABLES["metric_minute"], TABLES["deployment"], TABLES["resource"]
    pm = TABLES["pool_minute"]
    key = pool_columns(r.c.subscription_id, d.c.model, d.c.model_version, d.c.sku, r.c.location)
    requests = m.c.metric == REQUESTS
    fmt = func.lower(d.c.model_format)
    claude = or_(fmt == "anthropic", and_(fmt.is_(None), func.lower(d.c.model).like("claude%")))

    def total_if(condition: Any) -> Any:
        return func.sum(case((condition, m.c.total), else_=0.0))

    replace_window(
        conn, pm, lo, hi,
        ["ts", "subscription_id", "model", "model_version", "kind", "zone", "requests",
         "status_429", "itpm", "otpm"],
        select(
            m.c.ts, *key,
            total_if(and_(requests, m.c.status_code != 429)),
            total_if(and_(requests, m.c.status_code == 429)),
            total_if(m.c.metric.in_(_POOL_INPUT)),
            total_if(m.c.metric == "OutputTokens"),
        )
        .select_from(
            m.join(d, d.c.id == m.c.deployment_id).outerjoin(r, r.c.id == d.c.resource_id)
        )
        .where(
            m.c.ts >= lo, m.c.ts < hi, m.c.metric.in_(_POOL_METRICS), d.c.model.is_not(None),
            claude,
        )
        .group_by(m.c.ts, *(c.element for c in key)),
    )  # fmt: skip


def refresh_pool_hours(conn: Connection, lo: datetime, hi: datetime) -> None:
    """Recompute ``pool_hour`` for the hours in ``[lo, hi)`` (hour-aligned) from ``pool_minute``:
    per pool and hour the largest minute of each limit, the 429s, the minutes and those with
    429s, and the newest minute."""
    pm, ph = TABLES["pool_minute"], TABLES["pool_hour"]
    hour = hour_of(pm.c.ts, conn.dialect.name)
    key = [pm.c[c] for c in ("subscription_id", "model", "model_version", "kind", "zone")]
    replace_window(
        conn, ph, lo, hi,
        ["ts", "subscription_id", "model", "model_version", "kind", "zone", "requests",
         "itpm", "otpm", "status_429", "minutes", "throttled_minutes", "newest"],
        select(
            hour, *key, func.max(pm.c.requests), func.max(pm.c.itpm), func.max(pm.c.otpm),
            func.sum(pm.c.status_429), func.count(),
            func.sum(case((pm.c.status_429 > 0, 1), else_=0)), func.max(pm.c.ts),
        )
        .where(pm.c.ts >= lo, pm.c.ts < hi)
        .group_by(hour, *key),
    )  # fmt: skip


def refresh_deployment_hours(conn: Connection, lo: datetime, hi: datetime) -> None:
    """Recompute ``deployment_hour`` and ``deployment_throttle`` for ``[lo, hi)`` (hour-aligned)
    from ``metric_minute``: per deployment and hour the largest minute of accepted requests and
    of tokens (ITPM + OTPM) with the earliest minute reaching each; per deployment and minute
    with 429s its requests, tokens and 429s. A deployment's minute counts when it has a row of
    any of these metrics."""
    m = TABLES["metric_minute"]
    dh, dt = TABLES["deployment_hour"], TABLES["deployment_throttle"]
    requests = m.c.metric == REQUESTS

    def total_if(condition: Any) -> Any:
        return func.sum(case((condition, m.c.total), else_=0.0))

    minutes = (
        select(
            m.c.ts,
            m.c.deployment_id,
            total_if(and_(requests, m.c.status_code != 429)).label("requests"),
            total_if(m.c.metric.in_((*_POOL_INPUT, "OutputTokens"))).label("tokens"),
            total_if(and_(requests, m.c.status_code == 429)).label("s429"),
        )
        .where(m.c.ts >= lo, m.c.ts < hi, m.c.metric.in_(_POOL_METRICS))
        .group_by(m.c.ts, m.c.deployment_id)
        .subquery()
    )
    hour = hour_of(minutes.c.ts, conn.dialect.name)
    per_hour = (minutes.c.deployment_id, hour)
    ranked = select(
        minutes,
        hour.label("hour"),
        func.max(minutes.c.requests).over(partition_by=per_hour).label("top_requests"),
        func.max(minutes.c.tokens).over(partition_by=per_hour).label("top_tokens"),
    ).subquery()
    r = ranked.c
    replace_window(
        conn, dh, lo, hi, ["ts", "deployment_id", "requests", "requests_at", "tokens", "tokens_at"],
        select(
            r.hour, r.deployment_id,
            func.max(r.requests), func.min(case((r.requests == r.top_requests, r.ts))),
            func.max(r.tokens), func.min(case((r.tokens == r.top_tokens, r.ts))),
        ).group_by(r.hour, r.deployment_id),
    )  # fmt: skip
    t = minutes.c
    replace_window(
        conn,
        dt,
        lo,
        hi,
        ["ts", "deployment_id", "requests", "tokens", "status_429"],
        select(t.ts, t.deployment_id, t.requests, t.tokens, t.s429).where(t.s429 > 0),
    )


def refresh_throttles(conn: Connection, lo: datetime, hi: datetime) -> None:
    """Recompute ``throttle_hour`` for the hours in ``[lo, hi)`` (hour-aligned)."""
    th = TABLES["throttle_hour"]
    t = throttled_minutes(lo, hi)
    hour = hour_of(t.c.ts, conn.dialect.name)
    replace_window(
        conn,
        th,
        lo,
        hi,
        ["ts", "deployment_id", "minutes", "shared_minutes", "status_429"],
        select(
            hour, t.c.deployment_id, func.count(), func.sum(t.c.shared), func.sum(t.c.status_429)
        ).group_by(hour, t.c.deployment_id),
    )
