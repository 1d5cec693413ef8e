"""deployment_hour and deployment_throttle: per deployment and hour the largest minute of
accepted requests and of tokens with the earliest minute reaching each; per deployment and
minute with 429s its requests, tokens and 429s (the Capacity page's per-deployment headroom),
filled from the stored minutes

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import fill_by_day, floats, ints, when

revision: str = "0013"
down_revision: str | None = "0012"


def upgrade() -> None:
    op.create_table(
        "deployment_hour",
        when(),
        *ints("deployment_id"),
        *floats("requests"),
        when("requests_at"),
        *floats("tokens"),
        when("tokens_at"),
        sa.PrimaryKeyConstraint("ts", "deployment_id", name="pk_deployment_hour"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "deployment_throttle",
        when(),
        *ints("deployment_id"),
        *floats("requests", "tokens", "status_429"),
        sa.PrimaryKeyConstraint("ts", "deployment_id", name="pk_deployment_throttle"),
        sqlite_with_rowid=False,
    )
    _fill_from_minutes()


def _fill_from_minutes() -> None:
    """Roll up the minutes already stored, a day at a time (a no-op on a new database)."""
    from collector.store.rollup import refresh_deployment_hours

    fill_by_day(("metric_minute",), refresh_deployment_hours)


def downgrade() -> None:
    # derived data: the next upgrade fills it again from metric_minute
    op.drop_table("deployment_throttle")
    op.drop_table("deployment_hour")
