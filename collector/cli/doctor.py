"""``foundry-monitor doctor``: the credential, permissions, diagnostic logs and cost queries."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collector.cli.context import cli_context
from collector.text import terminal

if TYPE_CHECKING:
    from rich.table import Table


def doctor_table(checks: list[Any]) -> Table:
    """The table ``doctor`` prints: Azure's error text and names shown as themselves."""
    from rich.table import Table

    table = Table("check", "target", "result", "detail", "fix")
    for check in checks:
        result = "[green]pass[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(
            terminal(check.name),
            terminal(check.target),
            result,
            terminal(check.detail),  # Azure's error text and stored names: never markup
            terminal(check.fix),
        )
    return table


def doctor_cmd(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of the checks instead of a table.")
    ] = False,
) -> None:
    """Check the credential, each scope's permissions, the diagnostic logs and the cost queries.

    Prints a table of passes and failures, with the fix for each failure; exits 1 on any failure.
    --json prints each check as {"name", "target", "ok", "detail", "fix"}.

    Example: foundry-monitor doctor --json
    """
    from rich.console import Console

    from collector.azure import make_clients
    from collector.doctor import run_checks

    context = cli_context(ctx)
    cfg = context.settings()
    engine = context.engine()
    checks = run_checks(cfg, make_clients(cfg), engine)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        Console(width=220).print(doctor_table(checks))
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to ``app``."""
    app.command("doctor")(doctor_cmd)
