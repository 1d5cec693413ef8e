"""Table shapes and data fills that several revisions share.

Frozen like the revisions themselves: a revision must create the same schema forever, so a
helper here is never changed once a revision uses it; a new shape gets a new helper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from collector.store.types import UTCDateTime, sqlite_text_times

#: the columns that name a Claude quota pool (pool_minute, pool_hour)
POOL_KEY = ("subscription_id", "model", "model_version", "kind", "zone")


def when(name: str = "ts", nullable: bool = False) -> sa.Column:
    """A UTC timestamp column."""
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def ints(*names: str, kind: type[sa.types.TypeEngine] = sa.Integer) -> list[sa.Column]:
    """Non-null integer columns."""
    return [sa.Column(name, kind(), nullable=False) for name in names]


def floats(*names: str) -> list[sa.Column]:
    """Nullable float columns (Azure's aggregates: absent is not 0)."""
    return [sa.Column(name, sa.Float(), nullable=True) for name in names]


def pool_key() -> list[sa.Column]:
    """The quota pool's key columns, in ``POOL_KEY`` order."""
    lengths = (36, 100, 40, 40, 40)
    return [
        sa.Column(name, sa.String(length=n), nullable=False)
        for name, n in zip(POOL_KEY, lengths, strict=True)
    ]


def histogram_table(name: str, **options: str) -> None:
    """A latency histogram table: requests per deployment, status class and bucket."""
    op.create_table(
        name,
        when(),
        *ints("deployment_id"),
        sa.Column("status_class", sa.String(length=8), nullable=False),
        *ints("bucket", kind=sa.SmallInteger),
        *ints("count"),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "status_class", "bucket", name=op.f(f"pk_{name}")
        ),
        **options,
    )


def metric_rollup_table(name: str) -> None:
    """A rollup of ``metric_minute`` over a fixed step (quarter hour, hour, day)."""
    op.create_table(
        name,
        when(),
        *ints("deployment_id"),
        sa.Column("metric", sa.String(length=40), nullable=False),
        *ints("status_code", kind=sa.SmallInteger),
        *floats("total", "count", "maximum", "avg_x_count", "average_sum"),
        *ints("average_n"),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "metric", "status_code", name=op.f(f"pk_{name}")
        ),
    )


Fill = Callable[[Connection, datetime, datetime], None]


def fill_by_day(tables: Sequence[str], *fills: Fill) -> None:
    """Run each fill over the days ``tables`` hold, a day at a time (a no-op on a new
    database): how a revision derives its new tables from what is already stored. Only revisions
    before 0014 use it: today's code reads SQLite times as the text they stored then."""
    from collector.store import rollup

    bind = op.get_bind()
    with sqlite_text_times():  # the store holds SQLite times as text until 0014
        for day in rollup.stored_days(bind, *tables):
            for fill in fills:
                fill(bind, day, day + rollup.DAY)


def sum_fill(source: str, target: str, step: timedelta) -> Fill:
    """A fill that sums ``source`` into ``target`` over ``step``."""

    def fill(bind: Connection, lo: datetime, hi: datetime) -> None:
        from collector.store import rollup

        rollup.sum_into(bind, source, target, step, lo, hi)

    return fill


def strings(nullable: bool = False, **lengths: int) -> list[sa.Column]:
    """String columns of the given lengths, in the order given."""
    return [sa.Column(name, sa.String(length=n), nullable=nullable) for name, n in lengths.items()]


def money(*names: str) -> list[sa.Column]:
    """Nullable amounts (18 digits, 6 after the point)."""
    return [sa.Column(name, sa.Numeric(precision=18, scale=6), nullable=True) for name in names]


def create_rollups(suffix: str, step: timedelta, sources: Sequence[str], *more: Fill) -> None:
    """``latency_hist_{suffix}`` and ``metric_{suffix}``, filled from ``sources`` (the metric
    table, then the histogram table) and then by ``more``."""
    metric, hist = sources
    histogram_table(f"latency_hist_{suffix}")
    metric_rollup_table(f"metric_{suffix}")
    fill_by_day(
        sources,
        sum_fill(metric, f"metric_{suffix}", step),
        sum_fill(hist, f"latency_hist_{suffix}", step),
        *more,
    )


def drop_rollups(suffix: str) -> None:
    """Undo :func:`create_rollups` (derived data: an upgrade fills it again)."""
    op.drop_table(f"metric_{suffix}")
    op.drop_table(f"latency_hist_{suffix}")
