"""daily rollups, throttled minutes per hour, an index for the collector's last success

Revision ID: 0003
Revises: 0002
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from migrations._tables import create_rollups, drop_rollups, floats, ints, when

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_table(
        "throttle_hour",
        when(),
        *ints("deployment_id", "minutes", "shared_minutes"),
        *floats("status_429"),
        sa.PrimaryKeyConstraint("ts", "deployment_id", name=op.f("pk_throttle_hour")),
    )
    with op.batch_alter_table("collection_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_run_source_status_finished",
            ["source", "status", "finished_at"],
            unique=False,
        )
    # the day rollups from the hour rollups; throttle_hour is filled by 0012: today's
    # rollup.refresh_throttles compares metric codes, which the minutes hold only from 0012 on
    create_rollups("day", timedelta(days=1), ("metric_hour", "latency_hist_hour"))


def downgrade() -> None:
    with op.batch_alter_table("collection_run", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_run_source_status_finished")
    op.drop_table("throttle_hour")
    drop_rollups("day")
