"""Alembic environment: runs against the engine handed over by collector.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from collector.store.partitions import include_object
from collector.store.schema import Base


def run_migrations() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
