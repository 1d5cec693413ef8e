"""pool_hour: pool_minute per quota pool and hour (largest minute of each limit, 429s, minutes,
minutes with 429s, newest minute), filled from the stored pool minutes

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import fill_by_day, floats, ints, pool_key, when

revision: str = "0010"
down_revision: str | None = "0009"


def upgrade() -> None:
    op.create_table(
        "pool_hour",
        when(),
        *pool_key(),
        *floats("requests", "itpm", "otpm", "status_429"),
        *ints("minutes", "throttled_minutes"),
        when("newest"),
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
    from collector.store.rollup import refresh_pool_hours

    fill_by_day(("pool_minute",), refresh_pool_hours)


def downgrade() -> None:
    # derived data: the next upgrade fills it again from pool_minute
    op.drop_index("ix_pool_hour_pool_ts", table_name="pool_hour")
    op.drop_table("pool_hour")
