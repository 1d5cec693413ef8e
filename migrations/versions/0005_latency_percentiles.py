"""precomputed latency percentiles per quarter hour, hour and day

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import collector.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {
    "latency_pct_15m": "latency_hist_15m",
    "latency_pct_hour": "latency_hist_hour",
    "latency_pct_day": "latency_hist_day",
}


def upgrade() -> None:
    for name in TABLES:
        op.create_table(
            name,
            sa.Column("ts", collector.store.types.UTCDateTime(timezone=True), nullable=False),
            sa.Column("deployment_id", sa.Integer(), nullable=False),
            sa.Column("status_class", sa.String(length=8), nullable=False),
            sa.Column("requests", sa.Integer(), nullable=False),
            sa.Column("b50", sa.SmallInteger(), nullable=False),
            sa.Column("b95", sa.SmallInteger(), nullable=False),
            sa.Column("b99", sa.SmallInteger(), nullable=False),
            sa.PrimaryKeyConstraint("ts", "deployment_id", "status_class", name=op.f(f"pk_{name}")),
        )
    _fill_from_histograms()


def _fill_from_histograms() -> None:
    """Percentiles of the histogram rollups already stored, a day at a time (a no-op on a new
    database)."""
    from collector.store import rollup

    bind = op.get_bind()
    for name, hist in TABLES.items():
        for day in rollup.stored_days(bind, hist):
            rollup.percentiles_into(bind, hist, name, day, day + rollup.DAY)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
