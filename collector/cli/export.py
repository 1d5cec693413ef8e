"""``foundry-monitor export focus``: the reconciled Claude spend as a FOCUS 1.0 cost file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.context import cli_context
from collector.cli.read import DATE_HELP, parse_time
from collector.errors import ConfigError

export_app = typer.Typer(help="Export the store for other tools (FOCUS cost files).")


def _format(value: str | None, out: Path) -> str:
    from collector.export.focus import FORMATS

    chosen = (value or ("parquet" if out.suffix.lower() == ".parquet" else "csv")).strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(f"--format {value!r} is not known: choose {' or '.join(FORMATS)}")
    return chosen


@export_app.command("focus")
def focus_cmd(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help=f"First day (inclusive); {DATE_HELP}.")],
    until: Annotated[str, typer.Option(help="End (exclusive), e.g. the day after the last.")],
    out: Annotated[Path, typer.Option(help="File to write (replaced if it exists).")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv or parquet (default: parquet for a .parquet file, else csv)."
        ),
    ] = None,
) -> None:
    """Claude spend as FOCUS 1.0 cost rows, for the FinOps toolkit or a warehouse.

    One row per deployment and day of allocated Claude spend, one per resource-day for the
    bill's unallocated rest; BilledCost sums to the Claude Marketplace charges per resource
    group and day. Covers the UTC days [--since, --until) touches. The columns are in the
    README ("FOCUS export").

    Example: foundry-monitor export focus --since 2026-11-01 --until 2026-12-01 --out nov.parquet
    """
    from collector.export.focus import write_csv, write_parquet
    from collector.export.source import read_focus

    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start >= end:
        raise ConfigError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    chosen = _format(fmt, out)
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder: give a file name such as focus.csv")
    context = cli_context(ctx)
    cfg = context.settings()
    with context.store() as engine:
        rows = read_focus(engine, start, end, cfg.spend.bill_attribution)
    count = write_parquet(rows, out) if chosen == "parquet" else write_csv(rows, out)
    typer.echo(f"wrote {count} FOCUS rows to {out}")
    if not count:  # on stderr: stdout stays the one line
        typer.echo(
            "note: no Claude spend in the window (has the collector refreshed spend? try: "
            "foundry-monitor collect --once)",
            err=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``export`` group to ``app``."""
    app.add_typer(export_app, name="export")
