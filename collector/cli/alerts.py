"""``foundry-monitor alerts list|status|evaluate|replay|silence|test``: the alert rules, their
state, an evaluation on demand, replay over stored history, silences and a test message."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from collector.cli.context import cli_context
from collector.cli.read import DATE_HELP, window
from collector.errors import ConfigError
from collector.text import terminal, visible

alerts_app = typer.Typer(
    help="Alert rules: state, evaluation, replay over history, silences.", no_args_is_help=True
)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: str, option: str = "--for") -> timedelta:
    """``90m``, ``2h`` or ``1d`` as a timedelta (at most 90 days); ConfigError otherwise."""
    match = _DURATION.match(value)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"{option} {value[:20]!r} is not a duration: use e.g. 30m, 2h or 1d")
    span = timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    if span > timedelta(days=90):
        raise ConfigError(f"{option} {value[:20]!r} is longer than 90 days: silence for less")
    return span


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _table(*columns: str) -> object:
    from rich.table import Table

    return Table(*columns)


def _print(table: object) -> None:
    from rich.console import Console

    Console(width=200).print(table)


_JSON_HELP = "Print JSON instead of a table."


@alerts_app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """The configured rules (the shipped set unless FOUNDRY_MONITOR_ALERT_RULES is set).

    Example: foundry-monitor alerts list --json
    """
    settings = cli_context(ctx).settings().alerts
    if as_json:
        rules = [dataclasses.asdict(r) | {"condition": r.describe()} for r in settings.rules]
        typer.echo(json.dumps(rules, indent=2))
        return
    table = _table("rule", "condition", "severity", "notify", "about")
    for rule in settings.rules:
        table.add_row(  # type: ignore[attr-defined]
            terminal(rule.name),
            terminal(rule.describe()),
            rule.severity,
            ", ".join(rule.notify) or "-",
            terminal(rule.description),
        )
    _print(table)


@alerts_app.command("status")
def status_cmd(
    ctx: typer.Context,
    all_scopes: Annotated[
        bool, typer.Option("--all", help="Also list the scopes that are ok.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Each rule's state per scope (pending, firing, resolved), its latest value, the silences.

    Example: foundry-monitor alerts status --all
    """
    from collector.alerts.evaluate import OK, shown_since, shown_state
    from collector.alerts.run import as_state
    from collector.store import queries

    context = cli_context(ctx)
    rules = {r.name: r for r in context.settings().alerts.rules}
    with context.store() as engine:
        now = datetime.now(UTC)
        states = queries.alert_states(engine)
        silences = queries.alert_silences(engine, active_at=now)
    rows = []
    for s in states:
        if s.rule not in rules:
            continue
        current = as_state(s)
        state = shown_state(current, now)
        if state == OK and not all_scopes:
            continue
        since = shown_since(current, state)
        rows.append((s, state, since))
    if as_json:
        iso = _iso
        body = {
            "states": [
                {
                    "rule": s.rule,
                    "scope": s.scope,
                    "state": state,
                    "since": iso(since),
                    "latest": s.last_value,
                    "evaluated_to": iso(s.until),
                }
                for s, state, since in rows
            ],
            "silences": [
                {"rule": x.rule, "scope": x.scope, "ends_at": iso(x.ends_at)} for x in silences
            ],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    table = _table("rule", "scope", "state", "since", "latest", "evaluated to")
    for s, state, since in rows:
        table.add_row(  # type: ignore[attr-defined]
            terminal(s.rule),
            terminal(s.scope),
            state,
            f"{since:%Y-%m-%d %H:%M}" if since else "-",
            "-" if s.last_value is None else f"{s.last_value:.4g}",
            f"{s.until:%Y-%m-%d %H:%M}" if s.until else "-",
        )
    shown = len(rows)
    if shown:
        _print(table)
    else:
        typer.echo("no rule is pending or firing" + ("" if states else " (never evaluated)"))
    for silence in silences:
        typer.echo(
            f"silenced: {visible(silence.rule)} scope {visible(silence.scope)} until "
            f"{silence.ends_at:%Y-%m-%d %H:%M} UTC"
        )


@alerts_app.command("evaluate")
def evaluate_cmd(ctx: typer.Context) -> None:
    """Evaluate every rule now (as ``run`` does after each collection) and send what is due.

    Example: foundry-monitor alerts evaluate
    """
    from collector.alerts.run import evaluate

    context = cli_context(ctx)
    settings = context.settings().alerts
    settings.check_targets()
    with context.store() as engine:
        report = evaluate(engine, settings)
    for rule, counts in report.states.items():
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no scope"
        typer.echo(f"{rule}: {summary}")
    for rule, scope, kind, target in report.sent:
        typer.echo(f"sent {kind} of {rule} for {scope} to {target}")
    for rule, scope, kind, target, error in report.failed:
        typer.echo(f"failed {kind} of {rule} for {scope} to {target}: {error}", err=True)
    if report.failed:
        raise typer.Exit(1)


@alerts_app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help=f"Start of the window. {DATE_HELP}")],
    until: Annotated[str | None, typer.Option(help="End of the window (default: now).")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of episodes.")] = False,
) -> None:
    """Evaluate the rules over stored history minute by minute and list the episodes that would
    have fired; nothing is stored or sent. Tune thresholds on your own data first.

    Example: foundry-monitor alerts replay --since 2026-11-01 --until 2026-11-08 --rule throttled
    """
    from collector.alerts.run import replay

    start, end = window(since, until)
    context = cli_context(ctx)
    settings = context.settings().alerts
    rules = [settings.rule(rule)] if rule else None
    with context.store() as engine:
        found = replay(engine, settings, start, end, rules=rules)
    if as_json:
        typer.echo(json.dumps([e.as_json() for e in found], indent=2))
        return
    if not found:
        typer.echo("no episode")
        return
    table = _table("rule", "scope", "start", "end", "minutes", "peak")
    for e in found:
        length = int(((e.end or end) - e.start) / timedelta(minutes=1))
        table.add_row(  # type: ignore[attr-defined]
            terminal(e.rule),
            terminal(e.scope),
            f"{e.start:%Y-%m-%d %H:%M}",
            f"{e.end:%Y-%m-%d %H:%M}" if e.end else "(open)",
            str(length),
            f"{e.peak:.4g}",
        )
    _print(table)


@alerts_app.command("silence")
def silence_cmd(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="The rule's name.")],
    scope: Annotated[
        str | None, typer.Option(help="Only this scope (e.g. RESOURCE/DEPLOYMENT); default: all.")
    ] = None,
    for_: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")] = "2h",
    comment: Annotated[str | None, typer.Option(help="Why (shown by status).")] = None,
) -> None:
    """Send no message of a rule (or one of its scopes) for a while; states are still kept.

    Example: foundry-monitor alerts silence throttled --scope contoso-ai-eus2/support-bot --for 2h
    """
    from collector.store import alerts as alert_rows

    span = parse_duration(for_)
    context = cli_context(ctx)
    settings = context.settings().alerts
    chosen = settings.rule(rule)
    now = datetime.now(UTC)
    silence = alert_rows.Silence(
        chosen.name,
        (scope or alert_rows.ANY_SCOPE).strip()[:400],
        now,
        now + span,
        now,
        (comment or None) and str(comment)[:400],
    )
    with context.store() as engine, engine.begin() as conn:
        alert_rows.add_silence(conn, silence)
    where = "every scope" if silence.scope == alert_rows.ANY_SCOPE else silence.scope
    typer.echo(f"silenced {chosen.name} for {where} until {silence.ends_at:%Y-%m-%d %H:%M} UTC")


@alerts_app.command("test")
def test_cmd(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="The rule whose targets get a test message.")],
) -> None:
    """Send a made-up firing message of a rule to its targets (nothing is stored).

    Example: foundry-monitor alerts test throttled
    """
    from collector.alerts.deliver import OK, send
    from collector.alerts.message import FIRING, Alert

    settings = cli_context(ctx).settings().alerts
    chosen = settings.rule(rule)
    if not chosen.notify:
        raise ConfigError(
            f"rule {chosen.name!r} notifies nobody: add notify = [...] to it, or set "
            "FOUNDRY_MONITOR_ALERT_NOTIFY"
        )
    settings.check_targets()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    alert = Alert(
        FIRING, chosen, "test", (), now, now, None, chosen.threshold, chosen.threshold,
        settings.link_base,
    )  # fmt: skip
    failed = False
    for target in chosen.notify:
        result = send(alert, target, settings)
        typer.echo(
            f"{target}: {result.status} ({result.attempts} attempt(s))"
            + (f": {result.error}" if result.error else "")
        )
        failed |= result.status != OK
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` group to ``app``."""
    app.add_typer(alerts_app, name="alerts")
