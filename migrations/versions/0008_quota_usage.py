"""quota_usage: ARM's usages list per subscription and location (Claude quota pools: capacity
allocated and quota, thousands of tokens per minute), collected with the inventory; pool_minute:
usage per quota pool and minute, a rollup of metric_minute (filled by 0012)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import floats, pool_key, strings, when

revision: str = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    op.create_table(
        "quota_usage",
        *strings(subscription_id=36, location=40, name=200),
        *strings(nullable=True, localized_name=400),
        *floats("current_value", "limit"),
        *strings(nullable=True, unit=40),
        when("fetched_at"),
        sa.PrimaryKeyConstraint("subscription_id", "location", "name", name="pk_quota_usage"),
    )
    op.create_table(
        "pool_minute",
        when(),
        *pool_key(),
        *floats("requests", "status_429", "itpm", "otpm"),
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
