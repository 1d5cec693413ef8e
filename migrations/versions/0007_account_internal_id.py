"""resource.internal_id: ARM properties.internalId, which names the account in the SaaS resources
Claude's Marketplace charges are booked on

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    with op.batch_alter_table("resource") as batch:
        batch.add_column(sa.Column("internal_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resource") as batch:
        batch.drop_column("internal_id")
