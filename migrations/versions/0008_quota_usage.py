"""quota_usage: ARM's usages list per subscription and location (Claude quota pools: capacity
allocated and quota, thousands of tokens per minute), collected with the inventory; pool_minute:
usage per quota pool and minute, a rollup of metric_minute (filled from the stored minutes)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_usage",
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("location", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("localized_name", sa.String(length=400), nullable=True),
        sa.Column("current_value", sa.Float(), nullable=True),
        sa.Column("limit", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("fetched_at", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "location", "name", name="pk_quota_usage"),
    )
    op.create_table(
        "pool_minute",
        sa.Column("ts", collector.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("requests", sa.Float(), nullable=True),
        sa.Column("status_429", sa.Float(), nullable=True),
        sa.Column("itpm", sa.Float(), nullable=True),
        sa.Column("otpm", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "ts", "subscription_id", "model", "model_version", "kind", "zone",
            name="pk_pool_minute",
        ),
    )  # fmt: skip
    # one pool's minutes in time order, with their values (covering): headroom reads a pool
    # at a time from the index alone
    op.create_index(
        "ix_pool_minute_pool_ts",
        "pool_minute",
        ["subscription_id", "model", "model_version", "kind", "zone", "ts", "requests",
         "status_429", "itpm", "otpm"],
    )  # fmt: skip
    # pool_minute is filled from the stored minutes by 0012: today's rollup.refresh_pools
    # compares metric codes, which the minutes hold only from 0012 on


def downgrade() -> None:
    # quota_usage is rebuilt by the next inventory run, pool_minute by an upgrade (from the
    # minutes): nothing is lost for good
    op.drop_index("ix_pool_minute_pool_ts", table_name="pool_minute")
    op.drop_table("pool_minute")
    op.drop_table("quota_usage")
