"""Alembic environment: runs against the engine handed over by collector.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from collector.store.partitions import include_object
from collector.store.schema import Base

#: pg_advisory_xact_lock key serialising schema changes ("fm-schema")
SCHEMA_LOCK = 0x666D736368656D61


def run_migrations() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        # Processes starting together must not race on creating the schema: the first takes
        # the lock and migrates, the others wait, then find the schema at head.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, DDL included
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
