"""Alerts: per rule and scope state, episodes, notifications (the delivery claims) and silences

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import floats, ints, strings, when

revision: str = "0009"
down_revision: str | None = "0008"


def upgrade() -> None:
    op.create_table(
        "alert_state",
        *strings(rule=63, scope=400, signal=60, status=12),
        when("until", nullable=True),
        when("run_start", nullable=True),
        *floats("run_peak"),
        when("fired_at", nullable=True),
        when("last_end", nullable=True),
        *floats("last_value"),
        *ints("version"),
        when("updated_at"),
        sa.PrimaryKeyConstraint("rule", "scope", name=op.f("pk_alert_state")),
    )
    op.create_table(
        "alert_episode",
        *strings(rule=63, scope=400),
        when("started_at"),
        *strings(signal=60, severity=12),
        when("fired_at"),
        when("ended_at", nullable=True),
        *floats("peak", "last_value"),
        when("updated_at"),
        sa.PrimaryKeyConstraint("rule", "scope", "started_at", name=op.f("pk_alert_episode")),
    )
    op.create_index("ix_alert_episode_ended_at", "alert_episode", ["ended_at"])
    op.create_table(
        "alert_notification",
        *strings(rule=63, scope=400),
        when("started_at"),
        *strings(kind=12),
        *ints("seq"),
        *strings(target=20, status=12),
        when("claimed_at"),
        when("sent_at", nullable=True),
        *ints("attempts"),
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
        *strings(rule=63, scope=400),
        when("starts_at"),
        when("ends_at"),
        when("created_at"),
        *strings(nullable=True, comment=400),
        sa.PrimaryKeyConstraint("rule", "scope", "starts_at", name=op.f("pk_alert_silence")),
    )


def downgrade() -> None:
    op.drop_table("alert_silence")
    op.drop_table("alert_notification")
    op.drop_index("ix_alert_episode_ended_at", table_name="alert_episode")
    op.drop_table("alert_episode")
    op.drop_table("alert_state")
