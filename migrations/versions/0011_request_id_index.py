"""request_id_index: each request id's time, sliced by week, filled from request_log; request_log
loses its three secondary indexes (look-ups go through the new table, the minute read through
the key's leading ts) and on SQLite becomes WITHOUT ROWID (a day is one range of one b-tree)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from collector.store.types import UTCDateTime, sqlite_text_times

revision: str = "0011"
down_revision: str | None = "0010"

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
    with sqlite_text_times():  # the store holds SQLite times as text until 0014
        request_index.fill(op.get_bind())
    for name, _ in OLD_INDEXES:
        op.drop_index(name, table_name="request_log")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_request_log(with_rowid=False)


def downgrade() -> None:
    from collector.store import request_index

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_request_log(with_rowid=True)
    for name, columns in OLD_INDEXES:
        op.create_index(name, "request_log", columns)
    if bind.dialect.name == "sqlite":  # Postgres drops the partitions with their table
        for name in request_index.existing(bind).values():
            op.drop_table(name)
    # derived data: the next upgrade fills it again from request_log
    op.drop_table("request_id_index")


def _rebuild_request_log(with_rowid: bool) -> None:
    """SQLite: copy request_log into a table with (or without) rowid, in key order, and swap."""
    op.create_table(
        "_request_log_new",
        sa.Column("ts", UTCDateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("client_request_id", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=100), nullable=True),
        sa.Column("api_name", sa.String(length=100), nullable=True),
        sa.Column("stream_type", sa.String(length=40), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=True),
        sa.Column("response_bytes", sa.BigInteger(), nullable=True),
        sa.Column("caller_ip", sa.String(length=64), nullable=True),
        sa.Column("properties", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ts", "correlation_id", name="pk_request_log"),
        sqlite_with_rowid=with_rowid,
    )
    columns = (
        "ts, correlation_id, deployment_id, client_request_id, operation, api_name, stream_type, "
        "status_code, duration_ms, request_bytes, response_bytes, caller_ip, properties"
    )
    op.execute(
        f"INSERT INTO _request_log_new ({columns}) SELECT {columns} FROM request_log "
        "ORDER BY ts, correlation_id"
    )
    op.drop_table("request_log")
    op.rename_table("_request_log_new", "request_log")
