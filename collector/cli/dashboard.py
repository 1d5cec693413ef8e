"""``foundry-monitor dashboard``: the Streamlit dashboard on the configured store."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from collector.cli.context import CliContext, cli_context
from collector.cli.terminal import interruptible

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def start_streamlit(context: CliContext, env: dict[str, str], host: str, port: int) -> Any:
    """Start the dashboard as a subprocess; settings travel in the environment, never argv."""
    import os
    import subprocess

    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # viewers get an exception's type and a generic message, never its traceback (source
        # paths, code); the full text goes to the server's console
        "--client.showErrorDetails", "type",
    ]  # fmt: skip
    full_env = {**os.environ, **env}
    if context.config_file is not None:
        full_env["FOUNDRY_MONITOR_CONFIG"] = str(context.config_file)
    return subprocess.Popen(command, env=full_env)


LOOPBACK_BINDS = frozenset({"127.0.0.1", "localhost", "::1"})


def exposure_warning(host: str, sign_in: bool) -> str | None:
    """The warning for a dashboard reachable beyond this machine without sign-in (None: fine)."""
    if sign_in or host.strip().lower() in LOOPBACK_BINDS:
        return None
    return (
        f"warning: the dashboard listens on {host} without sign-in: anyone who can reach this "
        "port sees every deployment, request id and spend figure; set "
        "FOUNDRY_MONITOR_DASHBOARD_AUTH=true (README: Dashboard sign-in) or bind to 127.0.0.1"
    )


def dashboard_cmd(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve on.", min=1, max=65535)] = 8501,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the Streamlit dashboard on the configured store.

    Example: foundry-monitor dashboard --port 8501
    """
    context = cli_context(ctx)
    context.prepared_engine().dispose()
    warning = exposure_warning(host, context.settings().dashboard_auth)
    if warning:
        logging.getLogger("foundry_monitor.dashboard").warning(warning)
        typer.echo(warning, err=True)
    process = start_streamlit(context, {}, host, port)
    interruptible()
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to ``app``."""
    app.command("dashboard")(dashboard_cmd)
