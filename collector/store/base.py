"""The declarative base every table model shares: its naming convention, the Postgres daily
partitioning of the raw tables and SQLite's clustered (``WITHOUT ROWID``) layout.

The models are in :mod:`collector.store.schema` (and :mod:`collector.store.schema_headroom`,
which it imports), whose ``TABLES`` holds them all.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Numeric
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

#: Raw tables partitioned by day on Postgres, with their time column.
PARTITIONED: dict[str, str] = {
    "metric_minute": "ts",
    "request_log": "ts",
    "latency_hist": "ts",
}

Money = Numeric(18, 6)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def partitioned(table: str) -> dict[str, str]:
    """Table options that partition ``table`` by its time column on Postgres (by day)."""
    return {"postgresql_partition_by": f"RANGE ({PARTITIONED[table]})"}


#: SQLite ``WITHOUT ROWID``: the per-minute tables and their rollups are stored in their primary
#: key's b-tree, clustered on (time, deployment, ...): time-range reads, the rollups' refresh and
#: the prune walk the key, and no second copy of the key (rowid table + key index) is kept.
CLUSTERED = {"sqlite_with_rowid": False}
