"""The ``foundry-monitor`` command line. Core errors become one line on stderr and an exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from collector.config import Settings, load_settings
from collector.errors import FoundryMonitorError

app = typer.Typer(
    name="foundry-monitor",
    help="Observability and cost monitoring for Claude deployments in Microsoft Foundry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Create, upgrade or downgrade the store's schema (Alembic).", no_args_is_help=True
)
app.add_typer(db_app, name="db")


class _State:
    config_file: Path | None = None


STATE = _State()


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="TOML file of settings (env vars FOUNDRY_MONITOR_* win)."
        ),
    ] = None,
) -> None:
    """Observability and cost monitoring for Claude deployments in Microsoft Foundry.

    Example: foundry-monitor --config monitor.toml db upgrade
    """
    STATE.config_file = config


def settings() -> Settings:
    """The settings of this invocation (``--config`` file plus environment)."""
    return load_settings(STATE.config_file)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or upgrade the schema.

    Example: FOUNDRY_MONITOR_DATABASE_URL=postgresql+psycopg://mon@db/mon foundry-monitor db upgrade
    """
    from collector.store import migrate

    url = settings().effective_database_url
    migrate.upgrade(url, revision)
    typer.echo(f"schema at {migrate.current(url)} on {migrate.safe_url(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1.")],
) -> None:
    """Downgrade the schema (``base`` drops every table).

    Example: foundry-monitor db downgrade base
    """
    from collector.store import migrate

    cfg = settings()
    migrate.downgrade(cfg.effective_database_url, revision)
    typer.echo(f"schema at {migrate.current(cfg.effective_database_url) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database.

    Example: foundry-monitor db current
    """
    from collector.store import migrate

    cfg = settings()
    typer.echo(migrate.current(cfg.effective_database_url) or "base (empty database)")


@app.command("prune")
def prune_cmd(
    retention_days: Annotated[
        int | None,
        typer.Option(help="Override FOUNDRY_MONITOR_RETENTION_DAYS for this run.", min=1),
    ] = None,
) -> None:
    """Remove raw data older than the retention window (daily rollups keep 400 days).

    Example: foundry-monitor prune --retention-days 30
    """
    from collector.store import migrate, retention
    from collector.store.engine import make_engine

    cfg = settings()
    migrate.upgrade(cfg.effective_database_url)
    engine = make_engine(cfg.effective_database_url)
    result = retention.prune(
        engine,
        retention_days=retention_days or cfg.retention_days,
        rollup_days=cfg.rollup_retention_days,
    )
    for table, count in result.deleted.items():
        typer.echo(f"{table}: {count} rows removed")
    for name in result.dropped_partitions:
        typer.echo(f"dropped partition {name}")


def _mount_optional() -> None:
    """Sub-apps that live in their own modules register here."""
    try:
        from collector.emulator.cli import app as emulator_app
    except ImportError:  # pragma: no cover - the emulator package is part of the distribution
        return
    app.add_typer(emulator_app, name="emulator")


_mount_optional()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except FoundryMonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
