"""``foundry-monitor emulator serve`` and ``foundry-monitor emulator truth``."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import isodate
import typer

from collector.emulator.faults import parse_faults
from collector.emulator.logs_api import DEFAULT_LATE_MINUTES, DEFAULT_LATE_SHARE
from collector.emulator.server import DEFAULT_TOKEN, EmulatorServer
from collector.emulator.truth import truth_json
from collector.emulator.workload import Workload, WorkloadConfig, floor_minute

app = typer.Typer(
    help="A local stand-in for Azure (ARM, Monitor metrics, Log Analytics, Cost Management) "
    "over HTTPS, backed by a deterministic simulated Claude workload with known ground truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SeedOption = Annotated[int, typer.Option(help="Workload seed: same seed and end, same data.")]
DaysOption = Annotated[float, typer.Option(help="Days of history before the end.", min=0.01)]


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = isodate.parse_datetime(value)
    except (ValueError, isodate.ISO8601Error):
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.", min=0)] = 0,
    seed: SeedOption = 1,
    days: DaysOption = 30.0,
    end: Annotated[
        str | None,
        typer.Option(
            help="Pin the end of traffic (ISO, UTC if no offset); the clock then stays there. "
            "Without it the emulator is live: traffic and the clock follow the wall clock."
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="Pinned clock, e.g. two days after --end so every cost is final."),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(help="Fault spec, e.g. 'metrics:429*3,logs:partial,any:slow=1.5s*2'."),
    ] = None,
    token: Annotated[str, typer.Option(help="Bearer token the emulator accepts.")] = DEFAULT_TOKEN,
    cost_page_size: Annotated[int, typer.Option(help="Cost Management page size.", min=1)] = 1000,
    max_rows: Annotated[
        int, typer.Option(help="Log Analytics row limit before a partial result.", min=1)
    ] = 500_000,
    ca_dir: Annotated[
        Path | None, typer.Option(help="Folder for the CA certificate (default: a temp folder).")
    ] = None,
    late_log_share: Annotated[
        float,
        typer.Option(help="Share of calls whose log rows arrive late (0 to 1).", min=0.0, max=1.0),
    ] = DEFAULT_LATE_SHARE,
    late_log_minutes: Annotated[
        tuple[int, int],
        typer.Option(help="How late those rows arrive: low and high, in minutes."),
    ] = DEFAULT_LATE_MINUTES,
) -> None:
    """Serve Azure's REST APIs on loopback HTTPS until stopped (Ctrl-C or SIGTERM).

    Prints one JSON line when ready: {"base_url", "ca_cert", "env"}; export env to point the
    collector at the emulator.

    Example: foundry-monitor emulator serve --seed 7 --days 30 --end 2025-11-20T12:00:00Z
    """
    try:
        parse_faults(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    if not 0 < late_log_minutes[0] <= late_log_minutes[1]:
        raise typer.BadParameter(
            "expected LOW HIGH with 0 < LOW <= HIGH", param_hint="--late-log-minutes"
        )
    config = WorkloadConfig(seed=seed, days=days, end=_parse_time(end, "--end"))
    server = EmulatorServer(
        config,
        faults=faults,
        host=host,
        port=port,
        token=token,
        now=_parse_time(now, "--now"),
        cost_page_size=cost_page_size,
        max_rows=max_rows,
        ca_dir=ca_dir,
        late_log_share=late_log_share,
        late_log_minutes=late_log_minutes,
    ).start()

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    ready = {"base_url": server.base_url, "ca_cert": str(server.ca_cert_path), "env": server.env}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


@app.command("truth")
def truth(
    out: Annotated[Path, typer.Option(help="JSON file to write ('-' for stdout).")],
    seed: SeedOption = 1,
    days: DaysOption = 30.0,
    end: Annotated[
        str | None, typer.Option(help="End of traffic (ISO); default: now, to the minute.")
    ] = None,
) -> None:
    """Write the ground truth of a workload as JSON.

    Per deployment-day: model format, requests by status, tokens (cache writes by TTL, cache
    tokens by ContextLength), latency percentiles, mean time to first token, costs; per
    resource-day: the Claude Marketplace bill and the Azure-meter charges; a sample of failed
    requests with both ids.

    Example: foundry-monitor emulator truth --seed 7 --end 2025-11-20T12:00:00Z --out truth.json
    """
    pinned = _parse_time(end, "--end") or floor_minute(datetime.now(UTC))
    text = truth_json(Workload(WorkloadConfig(seed=seed, days=days, end=pinned)))
    if str(out) == "-":
        sys.stdout.write(text)
    else:
        out.write_text(text)
        typer.echo(f"truth written to {out}", err=True)
