"""The ``foundry-monitor`` command line. Core errors become one line on stderr and an exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from collector.config import Settings, load_settings
from collector.errors import ConfigError, FoundryMonitorError

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


def _make_collector(cfg: Settings, engine: Any, progress: Any = None) -> Any:
    from collector.azure import AzureClients, make_credential
    from collector.runner import Collector

    if not cfg.subscriptions and not cfg.resource_ids:
        raise ConfigError(
            "nothing to collect: set FOUNDRY_MONITOR_SUBSCRIPTIONS (subscription GUIDs) or "
            "FOUNDRY_MONITOR_RESOURCE_IDS (Foundry resource ids)"
        )
    credential = make_credential(cfg)
    return Collector(
        cfg, engine, lambda counter: AzureClients(cfg, credential, counter), progress=progress
    )


def _print_reports(reports: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("source", "scope", "window", "rows", "calls", "throttled", "s", "status")
    for r in reports:
        window = (
            f"{r.window_start:%Y-%m-%d %H:%M}..{r.window_end:%Y-%m-%d %H:%M}"
            if r.window_start and r.window_end
            else "-"
        )
        status = r.status if not r.error else f"{r.status}: {r.error}"
        table.add_row(
            r.source,
            r.scope,
            window,
            str(r.rows),
            str(r.calls),
            str(r.throttled),
            f"{r.duration_s:.1f}",
            status,
        )
    Console(width=200).print(table)


@app.command("collect")
def collect_cmd(
    once: Annotated[bool, typer.Option("--once", help="Run each source once and exit.")] = True,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="inventory, metrics, logs or costs (repeatable)."),
    ] = None,
    backfill_days: Annotated[
        int | None,
        typer.Option(help="Re-read this many days (default: since the watermark).", min=1),
    ] = None,
) -> None:
    """Collect every source once (the first run backfills the retention window).

    Example: foundry-monitor collect --once --source metrics --backfill-days 2
    """
    from collector.runner import SOURCES
    from collector.store import migrate

    chosen = source or list(SOURCES)
    unknown = sorted(set(chosen) - set(SOURCES))
    if unknown:
        raise ConfigError(f"unknown source {unknown[0]!r}: choose from {', '.join(SOURCES)}")
    cfg = settings()
    engine = migrate.prepare(cfg.effective_database_url, cfg.retention_days)
    with _progress() as progress:
        collector = _make_collector(cfg, engine, progress)
        reports = collector.run_once(chosen, backfill_days)
    _print_reports(reports)
    if any(r.status != "ok" for r in reports):
        raise typer.Exit(1)


class _progress:
    """A rich progress bar on a terminal, nothing otherwise; called as (label, done, total)."""

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        self._tasks: dict[str, Any] = {}
        return self

    def __call__(self, label: str, done: int, total: int) -> None:
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(label, total=total)
        self._bar.update(self._tasks[label], completed=done, total=total)

    def __exit__(self, *args: object) -> None:
        if hasattr(self, "_bar"):
            self._bar.stop()


@app.command("run")
def run_cmd() -> None:
    """Run the collector on its schedule until stopped (Ctrl-C).

    Example: FOUNDRY_MONITOR_METRICS_INTERVAL_S=120 foundry-monitor run
    """
    import logging
    import signal
    import threading

    from collector.scheduler import run_forever
    from collector.store import migrate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = settings()
    engine = migrate.prepare(cfg.effective_database_url, cfg.retention_days)
    collector = _make_collector(cfg, engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_forever(cfg, collector, stop)
    except KeyboardInterrupt:
        stop.set()


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
