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
        typer.Option("--source", "-s", help="inventory, metrics, logs, costs, spend (repeatable)."),
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
    import signal
    import threading

    from collector.reports import add_report_jobs
    from collector.scheduler import run_forever
    from collector.store import migrate

    _quiet_logging()
    cfg = settings()
    engine = migrate.prepare(cfg.effective_database_url, cfg.retention_days)
    collector = _make_collector(cfg, engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _interruptible()
    try:
        run_forever(cfg, collector, stop, extra_jobs=lambda s: add_report_jobs(s, cfg, engine))
    except KeyboardInterrupt:
        stop.set()


@app.command("doctor")
def doctor_cmd() -> None:
    """Check the credential, each scope's permissions, the diagnostic logs and the cost queries.

    Prints a table of passes and failures, with the fix for each failure; exits 1 on any failure.

    Example: foundry-monitor doctor
    """
    from rich.console import Console
    from rich.table import Table

    from collector.azure import make_clients
    from collector.doctor import run_checks
    from collector.store.engine import make_engine

    cfg = settings()
    engine = make_engine(cfg.effective_database_url)
    checks = run_checks(cfg, make_clients(cfg), engine)
    engine.dispose()
    table = Table("check", "target", "result", "detail", "fix")
    for check in checks:
        result = "[green]pass[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(check.name, check.target, result, check.detail, check.fix)
    Console(width=220).print(table)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def _quiet_logging() -> None:
    """One line per collection run; the Azure SDK's per-request HTTP logs only on warnings."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("azure", "apscheduler.executors", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _streamlit(env: dict[str, str], host: str, port: int) -> Any:
    """Start the dashboard as a subprocess; settings travel in the environment, never argv."""
    import os
    import subprocess

    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    full_env = {**os.environ, **env}
    if STATE.config_file is not None:
        full_env["FOUNDRY_MONITOR_CONFIG"] = str(STATE.config_file)
    return subprocess.Popen(command, env=full_env)


@app.command("dashboard")
def dashboard_cmd(
    port: Annotated[int, typer.Option(help="Port to serve on.", min=1, max=65535)] = 8501,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the Streamlit dashboard on the configured store.

    Example: foundry-monitor dashboard --port 8501
    """
    from collector.store import migrate

    cfg = settings()
    migrate.prepare(cfg.effective_database_url, cfg.retention_days).dispose()
    process = _streamlit({}, host, port)
    _interruptible()
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)


@app.command("demo")
def demo_cmd(
    port: Annotated[int, typer.Option(help="Dashboard port.", min=1, max=65535)] = 8501,
    days: Annotated[int, typer.Option(help="Days of simulated history.", min=1, max=30)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the simulated workload.")] = 1,
) -> None:
    """Emulator + collector + dashboard on a SQLite file, no Azure account needed.

    Starts the Foundry emulator (live simulated traffic), backfills it into
    DATA_DIR/demo.db, runs the collector's schedule and serves the dashboard. Ctrl-C stops all.

    Example: foundry-monitor demo --days 3 --port 8501
    """
    import signal
    import threading

    from collector.emulator import EmulatorServer, WorkloadConfig
    from collector.scheduler import run_forever
    from collector.store import migrate

    _interruptible()
    base = settings()
    server = EmulatorServer(WorkloadConfig(seed=seed, days=float(days), end=None)).start()
    stop = threading.Event()
    dashboard = None
    worker = None
    try:
        env = {
            **server.env,
            "FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{base.data_dir / 'demo.db'}",
        }
        values = {k.removeprefix("FOUNDRY_MONITOR_").lower(): v for k, v in env.items()}
        cfg = Settings.model_validate({**values, "data_dir": base.data_dir})
        typer.echo(f"emulator on {server.base_url}; store {cfg.effective_database_url}")
        engine = migrate.prepare(cfg.effective_database_url, cfg.retention_days)
        with _progress() as progress:
            collector = _make_collector(cfg, engine, progress)
            _print_reports(collector.run_once(backfill_days=days))
        _quiet_logging()
        worker = threading.Thread(target=run_forever, args=(cfg, collector, stop), daemon=True)
        worker.start()
        dashboard = _streamlit(env, "127.0.0.1", port)
        typer.echo(f"dashboard on http://127.0.0.1:{port}  (Ctrl-C stops everything)")
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.wait(0.5):
            if dashboard.poll() is not None:
                raise FoundryMonitorError(f"the dashboard exited with code {dashboard.returncode}")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if dashboard is not None and dashboard.poll() is None:
            dashboard.terminate()
            dashboard.wait(timeout=10)
        if worker is not None:
            worker.join(timeout=30)
        server.stop()
        typer.echo("demo stopped")


def _interruptible() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt even when the process started with SIGINT
    ignored, as a background job of a non-interactive shell does: ``kill -INT`` then stops the
    long-running commands as documented instead of being silently dropped."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)


def _mount_optional() -> None:
    """Sub-apps and commands that live in their own modules register here."""
    from collector.cli_read import register
    from collector.cli_reports import register as register_reports

    register(app)
    register_reports(app)
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
