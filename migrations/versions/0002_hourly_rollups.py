"""hourly rollups

Revision ID: 0002
Revises: 0001
"""

from datetime import timedelta

from migrations._tables import create_rollups, drop_rollups

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    create_rollups("hour", timedelta(hours=1), ("metric_minute", "latency_hist"))


def downgrade() -> None:
    drop_rollups("hour")
