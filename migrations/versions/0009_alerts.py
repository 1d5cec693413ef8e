"""Alerts: per rule and scope state, episodes, notifications (the delivery claims) and silences

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from collector.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("signal", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_start", UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_peak", sa.Float(), nullable=True),
        sa.Column("fired_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_end", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", "scope", name=op.f("pk_alert_state")),
    )
    op.create_table(
        "alert_episode",
        sa.Column("rule", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("signal", sa.String(length=60), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("fired_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("peak", sa.Float(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", "scope", "started_at", name=op.f("pk_alert_episode")),
    )
    op.create_index("ix_alert_episode_ended_at", "alert_episode", ["ended_at"])
    op.create_table(
        "alert_notification",
        sa.Column("rule", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "rule",
            "scope",
            "started_at",
            "kind",
            "seq",
            "target",
            name=op.f("pk_alert_notification"),
        ),
    )
    op.create_table(
        "alert_silence",
        sa.Column("rule", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("rule", "scope", "starts_at", name=op.f("pk_alert_silence")),
    )


def downgrade() -> None:
    op.drop_table("alert_silence")
    op.drop_table("alert_notification")
    op.drop_index("ix_alert_episode_ended_at", table_name="alert_episode")
    op.drop_table("alert_episode")
    op.drop_table("alert_state")
