"""request_id_index: each request id's time, sliced by week, filled from request_log; request_log
loses its three secondary indexes (look-ups go through the new table, the minute read through
the key's leading ts)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: request_log's indexes before this revision: (name, columns)
OLD_INDEXES = (
    ("ix_request_log_correlation_id", ["correlation_id"]),
    ("ix_request_log_client_request_id", ["client_request_id"]),
    ("ix_request_log_deployment_ts", ["deployment_id", "ts"]),
)


def upgrade() -> None:
    from collector.store import request_index

    op.create_table(
        "request_id_index",
        sa.Column("id", sa.LargeBinary(length=64), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", "kind", "ts", name="pk_request_id_index"),
        postgresql_partition_by="RANGE (ts)",
        sqlite_with_rowid=False,
    )
    # the look-up's rows as they were: an entry per id of every stored request (week slices
    # created as needed)
    request_index.fill(op.get_bind())
    for name, _ in OLD_INDEXES:
        op.drop_index(name, table_name="request_log")


def downgrade() -> None:
    from collector.store import request_index

    for name, columns in OLD_INDEXES:
        op.create_index(name, "request_log", columns)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # Postgres drops the partitions with their table
        for name in request_index.existing(bind).values():
            op.drop_table(name)
    # derived data: the next upgrade fills it again from request_log
    op.drop_table("request_id_index")
