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
    """Upgrade the schema to ``revision`` (default: the newest). A schema already at head is left
    alone without taking the migration lock (on SQLite that lock is the database's write lock,
    which a collector's long write would hold)."""
    if revision == "head":
        from alembic.script import ScriptDirectory

        engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        try:
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
            if head is not None and current(engine) == head:
                return
        except OperationalError:
            pass  # unreachable now: the upgrade below says so in one line
        finally:
            if isinstance(url_or_engine, str):
                engine.dispose()
    _run(url_or_engine, "upgrade", revision)


#: What a revision's downgrade destroys that no upgrade can rebuild: the daily rollups outlive
#: the raw minutes (400 days against 30), the ContextLength labels and the alert history exist
#: only as stored; 0001 drops everything.
IRRECOVERABLE: dict[str, tuple[str, ...]] = {
    "0009": ("alert_episode", "alert_notification", "alert_silence"),
    "0006": ("metric_label",),
    "0003": ("metric_day", "latency_hist_day", "throttle_hour"),
    "0001": ("request_log", "metric_minute", "cost_daily", "spend_daily", "collection_run"),
}


def downgrade_losses(url_or_engine: str | Engine, revision: str) -> list[str]:
    """The tables holding rows that downgrading to ``revision`` would destroy for good."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        head = current(engine)
        if head is None:
            return []
        script = ScriptDirectory.from_config(alembic_config(engine))
        chain = [r.revision for r in script.walk_revisions("base", head)]  # newest first
        if revision == "base":
            steps = chain
        elif revision.startswith("-") and revision[1:].isdigit():
            steps = chain[: int(revision[1:])]
        elif revision in chain:
            steps = chain[: chain.index(revision)]
        else:  # an unknown target: alembic itself says so when it runs
            return []
        lost: list[str] = []
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            for step in steps:
                for table in IRRECOVERABLE.get(step, ()):
                    if (
                        table in present
                        and conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first()
                    ):
                        lost.append(table)
        return lost
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def downgrade(url_or_engine: str | Engine, revision: str, force: bool = False) -> None:
    """Downgrade the schema to ``revision`` (``base`` removes every table). Refuses (StoreError)
    when that would destroy rows no upgrade can rebuild, unless ``force``."""
    if not force:
        lost = downgrade_losses(url_or_engine, revision)
        if lost:
            raise StoreError(
                f"downgrading to {revision} would destroy rows that no upgrade rebuilds "
                f"({', '.join(lost)}): back the database up first, then run it again with --force"
            )
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
