"""Run Alembic programmatically: the only way the schema is created or changed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import migrations
from collector.errors import StoreError
from collector.store.engine import make_engine, normalize_url

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


#: libpq parameters that carry a secret when given in the URL's query (``?password=...``)
SECRET_QUERY_KEYS = frozenset({"password", "sslpassword", "passfile", "sslkey"})


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs: the user-info password and
    libpq's secret query parameters (``password``, ``sslpassword``, ``passfile``, ``sslkey``)."""
    parsed = make_url(normalize_url(url))
    hidden = {key: "***" for key in parsed.query if key.lower() in SECRET_QUERY_KEYS}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["engine"] = engine
    return cfg


def _run(url_or_engine: str | Engine, action: str, revision: str) -> None:
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        getattr(command, action)(alembic_config(engine), revision)
    except OperationalError as exc:
        reason = " ".join(str(exc.orig).split())[:300]
        raise StoreError(
            f"cannot reach the database at {safe_url(str(engine.url))}: {reason}; "
            "check FOUNDRY_MONITOR_DATABASE_URL"
        ) from None
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest)."""
    _run(url_or_engine, "upgrade", revision)


def downgrade(url_or_engine: str | Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``base`` removes every table)."""
    _run(url_or_engine, "downgrade", revision)


def current(url_or_engine: str | Engine) -> str | None:
    """The database's current revision, or None for an empty database."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def prepare(url: str, retention_days: int = 30) -> Engine:
    """Upgrade the schema to head and create the raw tables' partitions around today.

    Every command that needs the schema calls this first.
    """
    from datetime import UTC, datetime

    from collector.store import partitions

    engine = make_engine(url)
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            partitions.ensure_ahead(conn, datetime.now(UTC).date(), back_days=retention_days)
    return engine
