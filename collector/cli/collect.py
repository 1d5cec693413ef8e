"""``foundry-monitor collect`` (each source once) and ``run`` (the collector's schedule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from collector.cli.context import cli_context, make_collector
from collector.cli.terminal import ProgressBar, interruptible, print_reports, quiet_logging
from collector.config import Settings
from collector.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from collector.metrics_endpoint import MetricsServer


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

    With FOUNDRY_MONITOR_METRICS_PORT set it also serves Prometheus metrics on
    http://FOUNDRY_MONITOR_METRICS_HOST:PORT/metrics (loopback by default).

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
    endpoint = serve_metrics(cfg, engine)

    def extra_jobs(scheduler: Any) -> None:
        add_report_jobs(scheduler, cfg, engine)
        if endpoint is not None:
            from collector.metrics_endpoint import attach

            attach(endpoint.metrics, scheduler)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interruptible()
    try:
        run_forever(cfg, collector, stop, extra_jobs=extra_jobs)
    except KeyboardInterrupt:
        stop.set()
    finally:
        if endpoint is not None:
            endpoint.stop()


def serve_metrics(cfg: Settings, engine: Engine) -> MetricsServer | None:
    """The Prometheus endpoint when FOUNDRY_MONITOR_METRICS_PORT is set (None otherwise)."""
    if cfg.metrics_port is None:
        return None
    from collector.metrics_endpoint import serve

    try:
        endpoint = serve(engine, cfg.metrics_host, cfg.metrics_port, cfg.quota)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve /metrics on {cfg.metrics_host}:{cfg.metrics_port} "
            f"({exc.strerror or exc}): choose another FOUNDRY_MONITOR_METRICS_PORT or "
            "FOUNDRY_MONITOR_METRICS_HOST"
        ) from None
    host, port = endpoint.address
    typer.echo(f"metrics on http://{host}:{port}/metrics", err=True)
    return endpoint


def register(app: typer.Typer) -> None:
    """Add ``collect`` and ``run`` to ``app``."""
    app.command("collect")(collect_cmd)
    app.command("run")(run_cmd)
