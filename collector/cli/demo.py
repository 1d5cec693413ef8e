"""``foundry-monitor demo``: emulator, collector and dashboard on a SQLite file, no Azure needed.

With :mod:`collector.cli.emulator`, the only command module that imports :mod:`collector.emulator`.
:func:`load_workload` is the one way an emulator's workload gets into a store: the product's own
collector (inventory, metrics, logs, costs through the store's write path) and its spend refresh.
The demo uses it, and so do the tests' and the benchmarks' workload stores
(``tests/workload_store.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collector.cli.context import cli_context, make_collector
from collector.cli.dashboard import start_streamlit
from collector.cli.terminal import ProgressBar, interruptible, print_reports, quiet_logging
from collector.config import Settings
from collector.errors import FoundryMonitorError
from collector.store import migrate

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from collector.runner import Collector, RunReport


def emulator_settings(env: Mapping[str, str], **overrides: Any) -> Settings:
    """Settings pointing at the emulator whose ``FOUNDRY_MONITOR_*`` environment is ``env``
    (``EmulatorServer.env``), with ``overrides`` (setting names in lower case)."""
    values = {k.removeprefix("FOUNDRY_MONITOR_").lower(): v for k, v in env.items()}
    return Settings.model_validate({**values, **overrides})


def load_workload(
    cfg: Settings,
    engine: Engine,
    days: float,
    *,
    progress: Any = None,
    now: Callable[[], datetime] | None = None,
) -> tuple[Collector, list[RunReport]]:
    """Backfill ``days`` of the emulator ``cfg`` points at into ``engine`` as the product loads
    Azure: the collector's inventory, metrics, logs and costs through the store's one write path,
    then the spend refresh. ``now`` is the collector's clock (default: the wall clock). Returns
    the collector (to keep collecting) and its run reports."""
    collector = make_collector(cfg, engine, progress)
    if now is not None:
        collector.now = now
    return collector, collector.run_once(backfill_days=days)


def demo_cmd(
    ctx: typer.Context,
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

    interruptible()
    context = cli_context(ctx)
    base = context.settings()
    server = EmulatorServer(WorkloadConfig(seed=seed, days=float(days), end=None)).start()
    stop = threading.Event()
    dashboard = None
    worker = None
    try:
        env = {
            **server.env,
            "FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{base.data_dir / 'demo.db'}",
        }
        cfg = emulator_settings(env, data_dir=base.data_dir)
        typer.echo(
            f"emulator on {server.base_url}; store {migrate.safe_url(cfg.effective_database_url)}"
        )
        engine = context.prepared_engine(cfg)
        with ProgressBar() as progress:
            collector, reports = load_workload(cfg, engine, days, progress=progress)
            print_reports(reports)
        quiet_logging()
        worker = threading.Thread(target=run_forever, args=(cfg, collector, stop), daemon=True)
        worker.start()
        dashboard = start_streamlit(context, env, "127.0.0.1", port)
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


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo_cmd)
