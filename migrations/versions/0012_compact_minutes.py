"""compact per-minute tables: metric names and status classes as smallint codes, SQLite
WITHOUT ROWID tables clustered on their key, the second indexes dropped (issue 19)

The per-minute tables (``metric_minute``, ``latency_hist``) and their rollups keep their natural
keys (time first: every read, refresh and prune walks a time range) and every row; only the
encoding changes. ``metric`` becomes the smallint code of ``METRIC_CODES`` below (a frozen copy
of ``collector.store.types.METRIC_CODES``), ``status_class`` ("2xx") its digit. On SQLite each
table is rebuilt ``WITHOUT ROWID``, so the rows live in the key's b-tree and no rowid table sits
beside it (``throttle_hour``, ``pool_minute`` and ``pool_hour`` too, with no column change;
the pool tables keep their covering index); ``ix_metric_minute_deployment_ts`` and ``ix_latency_hist_deployment_ts`` go on both
databases (a reader of one deployment scans the window's key range). The downgrade carries every
row back to the text columns, rowid tables and indexes of 0010.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from collector.store.types import UTCDateTime, sqlite_text_times

revision: str = "0012"
down_revision: str | None = "0011"

#: Frozen at this revision: later codes are appended in collector.store.types only.
METRIC_CODES: dict[str, int] = {
    "ModelRequests": 1,
    "InputTokens": 2,
    "OutputTokens": 3,
    "TimeToLastByte": 4,
    "NormalizedTimeToFirstToken": 5,
    "ModelAvailabilityRate": 6,
    "cacheReadInputTokens": 7,
    "ephemeral5mInputTokens": 8,
    "ephemeral1hInputTokens": 9,
}
#: Tables with a ``metric`` name column, and those with a ``status_class`` column.
METRIC_TABLES = ("metric_minute", "metric_15m", "metric_hour", "metric_day")
CLASS_TABLES = (
    "latency_hist", "latency_hist_15m", "latency_hist_hour", "latency_hist_day",
    "latency_pct_15m", "latency_pct_hour", "latency_pct_day",
)  # fmt: skip
#: Rebuilt WITHOUT ROWID on SQLite with no column change (the pool tables keep their covering
#: index: the clustered key saves the rowid table's second copy of the key).
PLAIN_TABLES = ("throttle_hour", "pool_minute", "pool_hour")
#: The second indexes of 0001 that the clustered key replaces: (table, name, columns).
INDEXES = (
    ("metric_minute", "ix_metric_minute_deployment_ts", ("deployment_id", "metric", "ts")),
    ("latency_hist", "ix_latency_hist_deployment_ts", ("deployment_id", "ts")),
)


def _metric_to_code(column: str) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {code}" for name, code in METRIC_CODES.items())
    return f"CASE {column} {whens} END"


def _code_to_metric(column: str) -> str:
    whens = " ".join(f"WHEN {code} THEN '{name}'" for name, code in METRIC_CODES.items())
    return f"CASE {column} {whens} END"


def _class_to_code(column: str) -> str:
    return f"CAST(substr({column}, 1, 1) AS SMALLINT)"


def _code_to_class(column: str) -> str:
    return f"CAST({column} AS VARCHAR(8)) || 'xx'"


def _check_codable(bind: sa.Connection) -> None:
    """Refuse (before changing anything) a store holding a metric name without a code or a
    status class that is not a digit and ``xx``: such a row would otherwise be lost."""
    known = ", ".join(f"'{name}'" for name in METRIC_CODES)
    for table in METRIC_TABLES:
        bad = bind.exec_driver_sql(
            f'SELECT DISTINCT metric FROM "{table}" WHERE metric NOT IN ({known}) LIMIT 5'
        ).all()
        if bad:
            raise RuntimeError(
                f"{table} holds metric names without a code ({', '.join(r[0] for r in bad)}): "
                "add them to METRIC_CODES in this migration and in collector.store.types"
            )
    for table in CLASS_TABLES:
        bad = bind.exec_driver_sql(
            f'SELECT DISTINCT status_class FROM "{table}" WHERE length(status_class) <> 3 '
            "OR substr(status_class, 2) <> 'xx' OR substr(status_class, 1, 1) NOT IN "
            "('0', '1', '2', '3', '4', '5', '6', '7', '8', '9') LIMIT 5"
        ).all()
        if bad:
            raise RuntimeError(f"{table} holds status classes not of the form 'Nxx': {bad}")


def upgrade() -> None:
    bind = op.get_bind()
    _check_codable(bind)
    if bind.dialect.name == "postgresql":
        for table, name, _ in INDEXES:
            op.drop_index(name, table_name=table)
        for table in METRIC_TABLES:
            op.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN metric TYPE smallint '
                f"USING {_metric_to_code('metric')}"
            )
        for table in CLASS_TABLES:
            op.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN status_class TYPE smallint '
                f"USING {_class_to_code('status_class')}"
            )
    else:
        for table in METRIC_TABLES:
            _sqlite_rebuild(
                bind, table, "metric", sa.SmallInteger(), _metric_to_code, clustered=True
            )
        for table in CLASS_TABLES:
            _sqlite_rebuild(
                bind, table, "status_class", sa.SmallInteger(), _class_to_code, clustered=True
            )
        for table in PLAIN_TABLES:
            _sqlite_rebuild(bind, table, None, None, None, clustered=True)
    with sqlite_text_times():  # the store holds SQLite times as text until 0014
        _fill_name_matched_rollups(bind)


def _fill_name_matched_rollups(bind: sa.Connection) -> None:
    """Fill the days that ``throttle_hour`` and ``pool_minute`` / ``pool_hour`` lack.

    Migrations 0003 and 0008 fill them through today's ``collector.store.rollup``, whose
    queries compare ``metric`` with codes: run on a store upgraded from before 0012 in the same
    go, they found no rows (the column still held names then). The days they hold are kept as
    they were rolled up (pool membership at that time)."""
    from collector.store import rollup

    def empty(table: str, day: object) -> bool:
        found = bind.execute(
            sa.text(f'SELECT 1 FROM "{table}" WHERE ts >= :lo AND ts < :hi LIMIT 1').bindparams(
                sa.bindparam("lo", type_=UTCDateTime()), sa.bindparam("hi", type_=UTCDateTime())
            ),
            {"lo": day, "hi": day + rollup.DAY},  # type: ignore[operator]
        ).first()
        return found is None

    for day in rollup.stored_days(bind, "metric_minute"):
        end = day + rollup.DAY
        if empty("throttle_hour", day):
            rollup.refresh_throttles(bind, day, end)
        if empty("pool_minute", day):
            rollup.refresh_pools(bind, day, end)
            rollup.refresh_pool_hours(bind, day, end)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in METRIC_TABLES:
            op.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN metric TYPE varchar(40) '
                f"USING {_code_to_metric('metric')}"
            )
        for table in CLASS_TABLES:
            op.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN status_class TYPE varchar(8) '
                f"USING {_code_to_class('status_class')}"
            )
    else:
        for table in METRIC_TABLES:
            _sqlite_rebuild(bind, table, "metric", sa.String(40), _code_to_metric, clustered=False)
        for table in CLASS_TABLES:
            _sqlite_rebuild(
                bind, table, "status_class", sa.String(8), _code_to_class, clustered=False
            )
        for table in PLAIN_TABLES:
            _sqlite_rebuild(bind, table, None, None, None, clustered=False)
    for table, name, columns in INDEXES:
        op.create_index(name, table, list(columns))


def _sqlite_rebuild(
    bind: sa.Connection,
    table: str,
    column: str | None,
    new_type: sa.types.TypeEngine[object] | None,
    convert: Callable[[str], str] | None,
    *,
    clustered: bool,
) -> None:
    """Copy ``table`` into a new table (``WITHOUT ROWID`` when ``clustered``) with ``column``
    of ``new_type`` converted by the SQL expression ``convert(column)``, then swap it in."""
    old = sa.Table(table, sa.MetaData(), autoload_with=bind)
    pk = [c.name for c in old.primary_key.columns]
    new_name = f"_new_{table}"
    columns = [
        sa.Column(
            c.name,
            new_type if c.name == column and new_type is not None else c.type,
            nullable=c.nullable and c.name not in pk,
        )
        for c in old.columns
    ]
    new = sa.Table(
        new_name,
        sa.MetaData(),
        *columns,
        sa.PrimaryKeyConstraint(*pk, name=f"pk_{table}"),
        sqlite_with_rowid=not clustered,
    )
    new.create(bind)
    names = [c.name for c in old.columns]
    selected = [
        convert(f'"{name}"') if name == column and convert is not None else f'"{name}"'
        for name in names
    ]
    quoted = ", ".join(f'"{name}"' for name in names)
    bind.exec_driver_sql(
        f'INSERT INTO "{new_name}" ({quoted}) SELECT {", ".join(selected)} FROM "{table}"'
    )
    indexes = sa.inspect(bind).get_indexes(table)
    for index in indexes:
        op.drop_index(index["name"], table_name=table)
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE "{new_name}" RENAME TO "{table}"')
    dropped = {name for _, name, _ in INDEXES}  # by this revision (the downgrade adds them)
    for index in indexes:
        if index["name"] not in dropped:
            op.create_index(index["name"], table, list(index["column_names"]))
