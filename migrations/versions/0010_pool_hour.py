"""pool_hour: pool_minute per quota pool and hour (largest minute of each limit, 429s, minutes,
minutes with 429s, newest minute), filled from the stored pool minutes

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from collector.store.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pool_hour",
        sa.Column("ts", UTCDateTime(timezone=True), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("requests", sa.Float(), nullable=True),
        sa.Column("itpm", sa.Float(), nullable=True),
        sa.Column("otpm", sa.Float(), nullable=True),
        sa.Column("status_429", sa.Float(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("throttled_minutes", sa.Integer(), nullable=False),
        sa.Column("newest", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "ts", "subscription_id", "model", "model_version", "kind", "zone",
            name="pk_pool_hour",
        ),
    )  # fmt: skip
    # one pool's hours in time order, with their values (covering), like ix_pool_minute_pool_ts
    op.create_index(
        "ix_pool_hour_pool_ts",
        "pool_hour",
        ["subscription_id", "model", "model_version", "kind", "zone", "ts", "requests", "itpm",
         "otpm", "status_429", "minutes", "throttled_minutes", "newest"],
    )  # fmt: skip
    _fill_from_pool_minutes()


def _fill_from_pool_minutes() -> None:
    """Roll up the pool minutes already stored, a day at a time (a no-op on a new database)."""
    from collector.store import rollup

    bind = op.get_bind()
    for day in rollup.stored_days(bind, "pool_minute"):
        rollup.refresh_pool_hours(bind, day, day + rollup.DAY)


def downgrade() -> None:
    # derived data: the next upgrade fills it again from pool_minute
    op.drop_index("ix_pool_hour_pool_ts", table_name="pool_hour")
    op.drop_table("pool_hour")
