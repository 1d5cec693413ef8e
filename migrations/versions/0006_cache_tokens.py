"""prompt-cache tokens: metric labels (ContextLength), cache tokens and savings in spend_daily,
other publishers' cost in spend_resource_daily

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

MONEY = sa.Numeric(precision=18, scale=6)
SPEND_TOKENS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


def upgrade() -> None:
    op.create_table(
        "metric_label",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_label")),
        sa.UniqueConstraint("dimension", "value", name=op.f("uq_metric_label_dimension_value")),
    )
    with op.batch_alter_table("spend_daily") as batch:
        for name in SPEND_TOKENS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("cache_savings", MONEY, nullable=True))
        batch.add_column(
            sa.Column("claude", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("spend_resource_daily") as batch:
        batch.add_column(sa.Column("other_billed", MONEY, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spend_resource_daily") as batch:
        batch.drop_column("other_billed")
    with op.batch_alter_table("spend_daily") as batch:
        for name in ("claude", "cache_savings", *reversed(SPEND_TOKENS)):
            batch.drop_column(name)
    op.drop_table("metric_label")
