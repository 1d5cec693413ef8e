"""``foundry-monitor collect`` (each source once) and ``run`` (the collector's schedule)."""

from __future__ import annotations

from typing import Annotated

import typer

from collector.cli.context import cli_context, make_collector
from collector.cli.terminal import ProgressBar, interruptible, print_reports, quiet_logging
from collector.errors import ConfigError


def collect_cmd(
    ctx: typer.Context,
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

    chosen = source or list(SOURCES)
    unknown = sorted(set(chosen) - set(SOURCES))
    if unknown:
        raise ConfigError(f"unknown source {unknown[0]!r}: choose from {', '.join(SOURCES)}")
    context = cli_context(ctx)
    cfg = context.settings()
    engine = context.prepared_engine()
    with ProgressBar() as progress:
        collector = make_collector(cfg, engine, progress)
        reports = collector.run_once(chosen, backfill_days)
    print_reports(reports)
    if any(r.status != "ok" for r in reports):
        raise typer.Exit(1)


def run_cmd(ctx: typer.Context) -> None:
    """Run the collector on its schedule until stopped (Ctrl-C).

    Example: FOUNDRY_MONITOR_METRICS_INTERVAL_S=120 foundry-monitor run
    """
    import signal
    import threading

    from collector.reports import add_report_jobs
    from collector.scheduler import run_forever

    quiet_logging()
    context = cli_context(ctx)
    cfg = context.settings()
    engine = context.prepared_engine()
    collector = make_collector(cfg, engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interruptible()
    try:
        run_forever(cfg, collector, stop, extra_jobs=lambda s: add_report_jobs(s, cfg, engine))
    except KeyboardInterrupt:
        stop.set()


def register(app: typer.Typer) -> None:
    """Add ``collect`` and ``run`` to ``app``."""
    app.command("collect")(collect_cmd)
    app.command("run")(run_cmd)
