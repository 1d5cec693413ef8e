"""quota_usage: ARM's usages list per subscription and location (Claude quota pools: capacity
allocated and quota, thousands of tokens per minute), collected with the inventory

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


def downgrade() -> None:
    # rebuilt by the next inventory run: nothing is lost for good
    op.drop_table("quota_usage")
