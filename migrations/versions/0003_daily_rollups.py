"""daily rollups, throttled minutes per hour, an index for the collector's last success

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = collector.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "latency_hist_day",
        sa.Column("ts", ts, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("status_class", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "status_class", "bucket", name=op.f("pk_latency_hist_day")
        ),
    )
    op.create_table(
        "metric_day",
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
            "ts", "deployment_id", "metric", "status_code", name=op.f("pk_metric_day")
        ),
    )
    op.create_table(
        "throttle_hour",
        sa.Column("ts", ts, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("shared_minutes", sa.Integer(), nullable=False),
        sa.Column("status_429", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("ts", "deployment_id", name=op.f("pk_throttle_hour")),
    )
    with op.batch_alter_table("collection_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_run_source_status_finished",
            ["source", "status", "finished_at"],
            unique=False,
        )
    _fill_from_hours()


def _fill_from_hours() -> None:
    """Derive the new tables from the rollups and minutes already stored, a day at a time (a
    no-op on a new database); the tables of this revision only."""
    from collector.store import rollup

    bind = op.get_bind()
    for day in rollup.stored_days(bind, "metric_hour", "latency_hist_hour"):
        end = day + rollup.DAY
        rollup.sum_into(bind, "metric_hour", "metric_day", rollup.DAY, day, end)
        rollup.sum_into(bind, "latency_hist_hour", "latency_hist_day", rollup.DAY, day, end)
    # throttle_hour is filled by 0012: today's rollup.refresh_throttles compares metric codes,
    # which the minutes hold only from 0012 on


def downgrade() -> None:
    with op.batch_alter_table("collection_run", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_run_source_status_finished")
    op.drop_table("throttle_hour")
    op.drop_table("metric_day")
    op.drop_table("latency_hist_day")
