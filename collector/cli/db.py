"""``foundry-monitor db upgrade|downgrade|current`` (the schema) and ``prune`` (the window)."""

from __future__ import annotations

from typing import Annotated

import typer

from collector.cli.context import cli_context

db_app = typer.Typer(
    help="Create, upgrade or downgrade the store's schema (Alembic).", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the schema.

    Example: FOUNDRY_MONITOR_DATABASE_URL=postgresql+psycopg://mon@db/mon foundry-monitor db upgrade
    """
    from collector.store import migrate

    url = cli_context(ctx).settings().effective_database_url
    migrate.upgrade(url, revision)
    typer.echo(f"schema at {migrate.current(url)} on {migrate.safe_url(url)}")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Downgrade even when rows no upgrade rebuilds would be destroyed."
        ),
    ] = False,
) -> None:
    """Downgrade the schema (``base`` drops every table). Refuses to destroy stored data that no
    upgrade can rebuild (the 400-day daily rollups, the cache labels) unless --force.

    Example: foundry-monitor db downgrade base
    """
    from collector.store import migrate

    cfg = cli_context(ctx).settings()
    migrate.downgrade(cfg.effective_database_url, revision, force=force)
    typer.echo(f"schema at {migrate.current(cfg.effective_database_url) or 'base'}")


@db_app.command("current")
def db_current(
    ctx: typer.Context,
    as_json: Annotated[
        bool,
        typer.Option("--json", help='Print {"revision", "database"} (revision null: empty).'),
    ] = False,
) -> None:
    """Print the schema revision of the configured database.

    Example: foundry-monitor db current --json
    """
    import json

    from collector.store import migrate

    url = cli_context(ctx).settings().effective_database_url
    revision = migrate.current(url)
    if as_json:
        typer.echo(json.dumps({"revision": revision, "database": migrate.safe_url(url)}))
    else:
        typer.echo(revision or "base (empty database)")


def prune_cmd(
    ctx: typer.Context,
    retention_days: Annotated[
        int | None,
        typer.Option(help="Override FOUNDRY_MONITOR_RETENTION_DAYS for this run.", min=1),
    ] = None,
) -> None:
    """Remove raw data older than the retention window (daily rollups keep 400 days).

    Example: foundry-monitor prune --retention-days 30
    """
    from collector.store import migrate, retention

    context = cli_context(ctx)
    cfg = context.settings()
    migrate.upgrade(cfg.effective_database_url)
    engine = context.engine()
    result = retention.prune(
        engine,
        retention_days=retention_days or cfg.retention_days,
        rollup_days=cfg.rollup_retention_days,
    )
    for table, count in result.deleted.items():
        typer.echo(f"{table}: {count} rows removed")
    for name in result.dropped_partitions:
        typer.echo(f"dropped partition {name}")


def register(app: typer.Typer) -> None:
    """Add ``db`` and ``prune`` to ``app``."""
    app.add_typer(db_app, name="db")
    app.command("prune")(prune_cmd)
