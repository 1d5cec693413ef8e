"""quarter-hour rollups

Revision ID: 0004
Revises: 0003
"""

from datetime import timedelta

from migrations._tables import create_rollups, drop_rollups

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    create_rollups("15m", timedelta(minutes=15), ("metric_minute", "latency_hist"))


def downgrade() -> None:
    drop_rollups("15m")
