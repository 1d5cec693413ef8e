"""The ``foundry-monitor`` Typer app and ``main()``, the console script.

Each command group lives in its own module and registers its module-level commands here; core
errors (:class:`~collector.errors.FoundryMonitorError`) become one line on stderr and an exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from collector.cli import (
    alerts,
    collect,
    dashboard,
    db,
    demo,
    doctor,
    emulator,
    export,
    headroom,
    read,
    reports,
)
from collector.cli.context import CliContext
from collector.errors import FoundryMonitorError
from collector.text import visible

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
headroom.register(app)  # headroom
reports.register(app)  # report
export.register(app)  # the export group
alerts.register(app)  # the alerts group
emulator.register(app)  # the emulator group


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:400]


def error_line(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code for an error a user's input or environment causes: 2 for bad
    input (a value, a path, a URL, a revision), 1 for a failure (the database is down). None
    for anything else: a bug, which keeps its traceback."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

    if isinstance(exc, FoundryMonitorError):  # ours: written to be shown whole
        return str(exc), exc.exit_code
    if isinstance(exc, OverflowError):
        return (
            "a date or a number of days is out of range: use a date between year 1 and 9999 "
            "and a day count of at most a few thousand",
            2,
        )
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        reason = exc.strerror or type(exc).__name__
        return f"{reason}{where}: check the path or the folder's permissions", 2
    if (
        isinstance(exc, ModuleNotFoundError)
        and exc.name
        and not exc.name.startswith(("collector", "dashboard"))
    ):  # a database driver (or other extra) that is not installed
        return (
            f"the Python package {exc.name!r} is not installed: FOUNDRY_MONITOR_DATABASE_URL "
            "takes sqlite:///PATH or postgresql+psycopg://... (psycopg 3 is installed)",
            2,
        )
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return (
            f"FOUNDRY_MONITOR_DATABASE_URL is unusable ({_one_line(exc)}): expected "
            "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB",
            2,
        )
    if isinstance(exc, OperationalError):
        return (
            f"cannot reach the database ({_one_line(getattr(exc, 'orig', exc))}): check "
            "FOUNDRY_MONITOR_DATABASE_URL and that the server runs",
            1,
        )
    if isinstance(exc, DatabaseError):
        return (
            f"the database cannot be used ({_one_line(getattr(exc, 'orig', exc))}): is "
            "FOUNDRY_MONITOR_DATABASE_URL a foundry-monitor database?",
            2,
        )
    if isinstance(exc, CommandError):
        return f"{_one_line(exc)}: see 'foundry-monitor db current' and migrations/versions", 2
    return None


def main() -> None:
    """Console-script entry point: one line on stderr and an exit code for every error a user
    can cause (README: exit codes); a traceback only for a bug."""
    try:
        app()
    except Exception as exc:
        known = error_line(exc)
        if known is None:
            raise
        line, code = known
        typer.echo(f"error: {visible(line)}", err=True)  # it may quote Azure or a name
        sys.exit(code)
