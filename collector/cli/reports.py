"""The ``report`` command: a cost report for a complete day, week or month, written and delivered.

``register(app)`` adds it to the ``foundry-monitor`` app. Bad options raise :class:`ConfigError`
before the store is touched; ``main()`` in :mod:`collector.cli.app` prints it as one line (exit
2). The same reports run on a schedule inside ``foundry-monitor run``: see
:func:`collector.reports.add_report_jobs`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from collector.cli.context import cli_context
from collector.reports.config import FORMATS, TARGETS, parse_choices
from collector.reports.period import check_kind, parse_end, period_before
from collector.text import visible


def report_cmd(
    ctx: typer.Context,
    period: Annotated[
        str, typer.Option("--period", "-p", help="day, week (Monday to Sunday) or month.")
    ] = "week",
    end: Annotated[
        str | None,
        typer.Option(
            help="Report the last complete period ending on or before this UTC date "
            "(ISO, e.g. 2026-11-02); default: today."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the files; default: FOUNDRY_MONITOR_REPORT_DIR."),
    ] = None,
    formats: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Comma-separated: html, csv (default: both)."),
    ] = None,
    deliver: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: folder, email, teams, slack (default: "
            "FOUNDRY_MONITOR_REPORT_DELIVER, i.e. folder). The files are always written."
        ),
    ] = None,
) -> None:
    """Cost report (HTML with charts, and CSV) of a complete day, week or month.

    Per deployment: spend estimated and billed, variance, provisional or
    final, tokens, requests, 429 and error rates, p95 latency, forecast to
    month end and budget state; daily spend charts, top movers against the
    previous period and the days flagged by reconciliation. Re-running a
    past period on the same store gives the same files.

    Example: foundry-monitor report --period week --end 2026-11-02 --deliver folder,email
    """
    from collector.reports.run import run_report

    kind = check_kind(period)
    end_day = parse_end(end, datetime.now(UTC).date())
    chosen_formats = parse_choices(formats, FORMATS, "--format") if formats is not None else None
    targets = parse_choices(deliver, TARGETS, "--deliver") if deliver is not None else None
    context = cli_context(ctx)
    cfg = context.settings()
    config = cfg.reports
    config.check_targets(targets or config.deliver)
    with context.store() as engine:
        made = run_report(
            engine,
            config,
            period_before(kind, end_day),
            formats=chosen_formats,
            targets=targets,
            out_dir=out,
        )
    typer.echo(f"{made.report.period.label} (UTC)")
    for path in made.files.paths:
        typer.echo(f"wrote {path}")
    for result in made.results:
        line = f"{result.target}: {result.status} ({result.attempts} attempt(s))"
        typer.echo(line + (f": {visible(result.error)}" if result.error else ""))
    if not made.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report_cmd)
