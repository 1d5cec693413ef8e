"""The read commands ``summary`` and ``lookup``: thin shells over :mod:`collector.store.queries`.

``register(app)`` adds them to the ``foundry-monitor`` app. Core errors (:class:`InvalidRequestId`,
:class:`RequestNotFound`, :class:`ConfigError` for bad dates, ...) are raised, and ``main()`` in
:mod:`collector.cli.app` prints them as one line with their exit code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from collector.cli.context import cli_context, make_collector
from collector.errors import ConfigError, RequestNotFound
from collector.store import queries
from collector.text import terminal, visible

DATE_HELP = "UTC unless an offset is given: 2026-11-01, 2026-11-01T12:00, 2026-11-01T12:00Z, +02:00"
#: The options of the commands that read a window (``summary``, ``headroom``): [--since, --until)
#: and --json.
Since = Annotated[str | None, typer.Option(help=f"Window start (inclusive); {DATE_HELP}.")]
Until = Annotated[str | None, typer.Option(help="Window end (exclusive); default: now.")]
AsJsonList = Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")]


#: The times --since and --until may take: far enough from datetime's limits that a window, a
#: step or a day added to either end never overflows (0001-01-01+14:00 did, in UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 1, 1, tzinfo=UTC)


def parse_time(value: str, option: str) -> datetime:
    """An ISO date or date-time as an aware UTC datetime (naive means UTC) from
    :data:`EARLIEST` to :data:`LATEST`; ConfigError if bad."""
    text = value.strip()
    shown = repr(value[:40])
    try:
        parsed = datetime.fromisoformat(text)
        utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        raise ConfigError(
            f"{option} {shown} is not a date: use ISO 8601 such as 2026-11-01, "
            "2026-11-01T12:00, 2026-11-01T12:00Z or 2026-11-01T12:00+02:00"
        ) from None
    except OverflowError:  # its offset moves it out of the years datetime can hold
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ConfigError(
            f"{option} {shown} is out of range: use a time from {EARLIEST:%Y-%m-%d} to "
            f"{LATEST - timedelta(days=1):%Y-%m-%d} (UTC)"
        )
    return utc


def window(
    since: str | None, until: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The ``[since, until)`` window of the options; default: the 24 hours before now."""
    end = parse_time(until, "--until") if until else (now or datetime.now(UTC))
    start = parse_time(since, "--since") if since else max(end - timedelta(hours=24), EARLIEST)
    if start >= end:
        raise ConfigError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    return start, end


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, indent=2)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def summary_table(rows: list[queries.DeploymentSummary], since: datetime, until: datetime) -> Table:
    """The rich table ``summary`` prints."""
    table = Table(
        title=f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC",
        caption="latency: upper bound of the bucket holding each percentile (2xx); cache hit: "
        "cache reads / (input + cache writes + cache reads); spend in USD",
    )
    for name in ("resource", "deployment", "model"):
        table.add_column(name, no_wrap=True)
    for name in (
        "requests",
        "2xx",
        "429",
        "4xx other",
        "5xx",
        "429 rate",
        "error rate",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "input tok",
        "output tok",
        "cache hit",
        "spend est.",
        "spend billed",
    ):
        table.add_column(name, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            terminal(r.resource),  # names are the tenant's: never console markup
            terminal(r.deployment),
            terminal((r.model_label or r.model or "-") + ("" if r.claude else " (not Claude)")),
            f"{r.requests:,}",
            f"{r.status_2xx:,}",
            f"{r.status_429:,}",
            f"{r.status_4xx_other:,}",
            f"{r.status_5xx:,}",
            _pct(r.rate_429),
            _pct(r.error_rate),
            _ms(r.p50_ms),
            _ms(r.p95_ms),
            _ms(r.p99_ms),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            _pct(r.cache_hit_rate),
            _money(r.spend_estimated),
            _money(r.spend_billed),
        )
    return table


def lookup_json(found: queries.LookupResult) -> dict[str, Any]:
    """The ``lookup --json`` object."""
    req = found.request
    return {
        "apim_request_id": req.apim_request_id,
        "request_id": req.request_id,
        "resource": found.resource,
        "resource_id": found.resource_id,
        "deployment": found.deployment,
        "model": found.model,
        "model_version": found.model_version,
        "hosting": found.hosting,
        "status": req.status,
        "time": req.time,
        "duration_ms": req.duration_ms,
        "operation": req.operation,
        "api_name": req.api_name,
        "stream_type": req.stream_type,
        "request_bytes": req.request_bytes,
        "response_bytes": req.response_bytes,
        "matched_by": found.matched_by,
        "fix": found.fix,
        "minute": {
            "start": found.context.minute,
            "requests": found.context.requests,
            "status_429": found.context.status_429,
            "ttlb_avg_ms": found.context.ttlb_avg_ms,
            "other_failures": [asdict(r) for r in found.context.other_failures],
        },
    }


def lookup_lines(found: queries.LookupResult) -> list[str]:
    """The human-readable ``lookup`` answer."""
    req, ctx = found.request, found.context
    hosting = f"({found.hosting})" if found.hosting else None
    model = " ".join(x for x in (found.model or "-", found.model_version, hosting) if x)
    lines = [
        f"apim-request-id  {req.apim_request_id}",
        f"request-id       {req.request_id or '- (not in the logs Azure keeps)'}",
        f"time             {req.time.isoformat()}",
        f"status           {req.status}",
        f"duration         {_ms(req.duration_ms)} ms",
        f"resource         {visible(found.resource)}",  # the tenant's names: no escape runs
        f"deployment       {visible(found.deployment or '-')} (model {visible(model)})",
        f"fix              {found.fix}",
    ]
    if ctx.requests is None:
        lines.append(f"that minute      {ctx.minute:%H:%M} UTC: no metrics stored")
    else:
        lines.append(
            f"that minute      {ctx.minute:%H:%M} UTC: {ctx.requests} requests, "
            f"{ctx.status_429} throttled (429), TTLB avg {_ms(ctx.ttlb_avg_ms)} ms"
        )
    if ctx.other_failures:
        lines.append(
            f"other failures   {len(ctx.other_failures)} in that minute on this deployment:"
        )
        lines.extend(
            f"  {r.time:%H:%M:%S} {r.status} {r.apim_request_id}" for r in ctx.other_failures
        )
    else:
        lines.append("other failures   none in that minute on this deployment")
    return lines


def summary_cmd(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    resource: Annotated[
        str | None, typer.Option(help="Only this Foundry resource (name or ARM id).")
    ] = None,
    deployment: Annotated[str | None, typer.Option(help="Only this deployment name.")] = None,
    model: Annotated[str | None, typer.Option(help="Only deployments of this model.")] = None,
    as_json: AsJsonList = False,
) -> None:
    """Requests, 429s, errors, latency, tokens, prompt cache and spend per deployment.

    The window is [--since, --until), default the last 24 hours. A model deployed in more
    than one version shows its version and hosting, e.g. "claude-sonnet-4-5 (v1,
    Anthropic-hosted)". --json adds per deployment the cache tokens (read, 5-minute and
    1-hour writes), the cache hit rate, the estimated cache savings (USD), the mean time to
    first token (ms), whether it serves Claude, the model version, its hosting
    (Anthropic-hosted, Azure-hosted or null when not known) and the model label.

    Example: foundry-monitor summary --since 2026-11-01 --until 2026-11-02 --json
    """
    start, end = window(since, until)
    context = cli_context(ctx)
    with context.store() as engine:
        rows = queries.summary(
            engine, start, end, resource=resource, deployment=deployment, model=model
        )
        unlogged = queries.deployments_without_logs(
            engine, start, end, deployment_ids=[r.deployment_id for r in rows]
        )
    if as_json:
        typer.echo(_dumps([asdict(r) for r in rows]))
        return
    if not rows:
        typer.echo("no deployments match (has the collector run? try: foundry-monitor db current)")
        return
    table = summary_table(rows, start, end)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the columns, cut no name
        wide = Console(width=10_000)  # to measure the widest row
        console = Console(width=max(250, wide.measure(table).maximum))
    console.print(table)
    for item in unlogged:  # on stderr: the table stays the only thing on stdout
        typer.echo(f"note: {visible(item.notice)}", err=True)


def lookup_cmd(
    ctx: typer.Context,
    request_id: Annotated[
        str,
        typer.Argument(
            help="The apim-request-id (GUID) or the Anthropic request-id (req_...).",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    live: Annotated[
        bool,
        typer.Option("--live", help="When not stored, ask Log Analytics (apim-request-id only)."),
    ] = False,
) -> None:
    """Find a request by its apim-request-id or request-id: status, fix, its minute.

    Example: foundry-monitor lookup 0f8fad5b-d9cb-469f-a165-70867728950e --live
    """
    parsed = queries.parse_request_id(request_id)  # malformed: fails before the database
    context = cli_context(ctx)
    with context.store() as engine:
        try:
            found = queries.lookup(engine, request_id)
        except RequestNotFound:
            if not live or parsed.kind != "apim-request-id":
                raise
            if not make_collector(context.settings(), engine).fetch_request(parsed.value):
                raise
            found = queries.lookup(engine, request_id)
    if as_json:
        typer.echo(_dumps(lookup_json(found)))
    else:
        typer.echo("\n".join(lookup_lines(found)))


def register(app: typer.Typer) -> None:
    """Add ``summary`` and ``lookup`` to ``app``."""
    app.command("summary")(summary_cmd)
    app.command("lookup")(lookup_cmd)
