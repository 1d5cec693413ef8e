"""precomputed latency percentiles per quarter hour, hour and day

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import fill_by_day, ints, when

revision: str = "0005"
down_revision: str | None = "0004"

TABLES = {
    "latency_pct_15m": "latency_hist_15m",
    "latency_pct_hour": "latency_hist_hour",
    "latency_pct_day": "latency_hist_day",
}


def upgrade() -> None:
    for name in TABLES:
        op.create_table(
            name,
            when(),
            *ints("deployment_id"),
            sa.Column("status_class", sa.String(length=8), nullable=False),
            *ints("requests"),
            *ints("b50", "b95", "b99", kind=sa.SmallInteger),
            sa.PrimaryKeyConstraint("ts", "deployment_id", "status_class", name=op.f(f"pk_{name}")),
        )
    _fill_from_histograms()


def _fill_from_histograms() -> None:
    """Percentiles of the histogram rollups already stored, a day at a time (a no-op on a new
    database)."""
    from collector.store.rollup import percentiles_into

    for name, hist in TABLES.items():
        fill_by_day(
            (hist,), lambda bind, lo, hi, h=hist, n=name: percentiles_into(bind, h, n, lo, hi)
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
