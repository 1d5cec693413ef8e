"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 04:56:33.801191
"""

import sqlalchemy as sa
from alembic import op

from migrations._tables import floats, histogram_table, ints, money, strings, when

revision: str = "0001"
down_revision: str | None = None

#: in creation order (deployment_change and spend_daily refer to deployment)
TABLES = (
    "collection_run",
    "cost_daily",
    "deployment",
    "latency_hist",
    "metric_minute",
    "price",
    "report_run",
    "request_log",
    "resource",
    "spend_resource_daily",
    "watermark",
    "deployment_change",
    "spend_daily",
)


def upgrade() -> None:
    op.create_table(
        "collection_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *strings(source=40, scope=400),
        when("window_start", nullable=True),
        when("window_end", nullable=True),
        when("started_at"),
        when("finished_at", nullable=True),
        *strings(status=12),
        *ints("rows", "azure_calls", "throttled_calls"),
        *floats("duration_s"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_run")),
    )
    with op.batch_alter_table("collection_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_run_source_started", ["source", "scope", "started_at"], unique=False
        )

    op.create_table(
        "cost_daily",
        sa.Column("day", sa.Date(), nullable=False),
        *strings(
            scope=400, resource_id=400, meter=200, publisher_type=40, charge_type=40, currency=8
        ),
        sa.Column("cost", sa.Numeric(precision=18, scale=6), nullable=False),
        *money("quantity", "first_cost"),
        *ints("revision"),
        when("fetched_at"),
        when("changed_at"),
        sa.PrimaryKeyConstraint(
            "day",
            "scope",
            "resource_id",
            "meter",
            "publisher_type",
            "charge_type",
            "currency",
            name=op.f("pk_cost_daily"),
        ),
    )
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *strings(resource_id=400, name=64),
        *strings(nullable=True, model=100, model_version=40, model_format=40, sku=40),
        sa.Column("capacity", sa.Integer(), nullable=True),
        *strings(nullable=True, provisioning_state=40),
        when("first_seen", nullable=True),
        when("last_seen", nullable=True),
        when("removed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
        sa.UniqueConstraint("resource_id", "name", name=op.f("uq_deployment_resource_id_name")),
    )
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_model"), ["model"], unique=False)

    histogram_table("latency_hist", postgresql_partition_by="RANGE (ts)")
    with op.batch_alter_table("latency_hist", schema=None) as batch_op:
        batch_op.create_index(
            "ix_latency_hist_deployment_ts", ["deployment_id", "ts"], unique=False
        )

    op.create_table(
        "metric_minute",
        when(),
        *ints("deployment_id"),
        *strings(metric=40),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        *floats("total", "count", "minimum", "maximum", "average"),
        sa.PrimaryKeyConstraint(
            "ts", "deployment_id", "metric", "status_code", name=op.f("pk_metric_minute")
        ),
        postgresql_partition_by="RANGE (ts)",
    )
    with op.batch_alter_table("metric_minute", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_minute_deployment_ts", ["deployment_id", "metric", "ts"], unique=False
        )

    op.create_table(
        "price",
        *strings(model=100, token_type=20),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("usd_per_mtok", sa.Numeric(precision=12, scale=6), nullable=False),
        *strings(nullable=True, source=200),
        sa.PrimaryKeyConstraint("model", "token_type", "effective_from", name=op.f("pk_price")),
    )
    op.create_table(
        "report_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *strings(period=8),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        when("created_at"),
        *strings(formats=40, destination=400, status=12),
        *ints("attempts"),
        *strings(nullable=True, path=1000),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_run")),
    )
    op.create_table(
        "request_log",
        when(),
        *strings(correlation_id=64),
        *ints("deployment_id"),
        *strings(nullable=True, client_request_id=64, operation=100, api_name=100, stream_type=40),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=True),
        sa.Column("response_bytes", sa.BigInteger(), nullable=True),
        *strings(nullable=True, caller_ip=64),
        sa.Column("properties", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ts", "correlation_id", name=op.f("pk_request_log")),
        postgresql_partition_by="RANGE (ts)",
    )
    with op.batch_alter_table("request_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_log_client_request_id", ["client_request_id"], unique=False
        )
        batch_op.create_index("ix_request_log_correlation_id", ["correlation_id"], unique=False)
        batch_op.create_index("ix_request_log_deployment_ts", ["deployment_id", "ts"], unique=False)

    op.create_table(
        "resource",
        *strings(id=400, subscription_id=36, resource_group=90, name=64, kind=40, location=40),
        *strings(nullable=True, endpoint=400),
        when("first_seen"),
        when("last_seen"),
        when("removed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource")),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "spend_resource_daily",
        sa.Column("day", sa.Date(), nullable=False),
        *strings(resource_id=400),
        *money("estimated", "billed", "unallocated", "variance"),
        sa.Column("drift_flagged", sa.Boolean(), nullable=False),
        *strings(status=12),
        when("computed_at"),
        sa.PrimaryKeyConstraint("day", "resource_id", name=op.f("pk_spend_resource_daily")),
    )
    op.create_table(
        "watermark",
        *strings(source=40, scope=400),
        when("value"),
        when("updated_at"),
        sa.PrimaryKeyConstraint("source", "scope", name=op.f("pk_watermark")),
    )
    op.create_table(
        "deployment_change",
        *ints("deployment_id"),
        when("changed_at"),
        *strings(field=40),
        *strings(nullable=True, old_value=200, new_value=200),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_deployment_change_deployment_id_deployment"),
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "changed_at", "field", name=op.f("pk_deployment_change")
        ),
    )
    op.create_table(
        "spend_daily",
        sa.Column("day", sa.Date(), nullable=False),
        *ints("deployment_id"),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        *money("estimated", "billed_allocated"),
        sa.Column("unpriced", sa.Boolean(), nullable=False),
        *strings(status=12),
        when("computed_at"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_spend_daily_deployment_id_deployment"),
        ),
        sa.PrimaryKeyConstraint("day", "deployment_id", name=op.f("pk_spend_daily")),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
