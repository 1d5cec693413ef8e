"""The ``foundry-monitor`` Typer app and ``main()``, the console script.

Each command group lives in its own module and registers its module-level commands here; core
errors (:class:`~collector.errors.FoundryMonitorError`) become one line on stderr and an exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from collector.cli import collect, dashboard, db, demo, doctor, emulator, read, reports
from collector.cli.context import CliContext
from collector.errors import FoundryMonitorError

app = typer.Typer(
    name="foundry-monitor",
    help="Observability and cost monitoring for Claude deployments in Microsoft Foundry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
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
    ctx.obj = CliContext(config_file=config)


db.register(app)  # the db group, then prune
collect.register(app)  # collect, run
doctor.register(app)
dashboard.register(app)
demo.register(app)
read.register(app)  # summary, lookup
reports.register(app)  # report
emulator.register(app)  # the emulator group


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except FoundryMonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
