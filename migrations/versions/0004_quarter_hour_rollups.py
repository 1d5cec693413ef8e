"""quarter-hour rollups

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = collector.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "latency_hist_15m",
        sa.Column("ts", ts, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("status_class", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "status_class", "bucket", name=op.f("pk_latency_hist_15m")
        ),
    )
    op.create_table(
        "metric_15m",
        sa.Column("ts", ts, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("count", sa.Float(), nullable=True),
        sa.Column("maximum", sa.Float(), nullable=True),
        sa.Column("avg_x_count", sa.Float(), nullable=True),
        sa.Column("average_sum", sa.Float(), nullable=True),
        sa.Column("average_n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "metric", "status_code", name=op.f("pk_metric_15m")
        ),
    )
    _fill_from_minutes()


def _fill_from_minutes() -> None:
    """Roll up the minutes already stored, a day at a time (a no-op on a new database)."""
    from collector.store import rollup

    bind = op.get_bind()
    for day in rollup.stored_days(bind, "metric_minute", "latency_hist"):
        end = day + rollup.DAY
        rollup.sum_into(bind, "metric_minute", "metric_15m", rollup.QUARTER, day, end)
        rollup.sum_into(bind, "latency_hist", "latency_hist_15m", rollup.QUARTER, day, end)


def downgrade() -> None:
    op.drop_table("metric_15m")
    op.drop_table("latency_hist_15m")
