"""``foundry-monitor demo`` as a user runs it: one command, a dashboard, Ctrl-C stops everything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from collector.store.engine import make_engine
from collector.store.schema import TABLES
from tests.ports import free_port, streamlit_healthy

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"


@contextmanager
def _serving(
    tmp_path: Path, command: list[str], log: Path, wait_s: float, **popen: Any
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``foundry-monitor COMMAND --port PORT`` with no FOUNDRY_MONITOR_ setting and its data under
    ``tmp_path``, once its dashboard answers; killed at the end if still running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    with log.open("w") as out:
        process = subprocess.Popen(
            [EXE, *command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            **popen,
        )
        try:
            deadline = time.monotonic() + wait_s
            while not streamlit_healthy(f"http://127.0.0.1:{port}"):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            yield process, port
        finally:
            if process.poll() is None:
                process.kill()


def test_demo_backfills_serves_the_dashboard_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with _serving(
        tmp_path,
        ["demo", "--days", "1"],
        log,
        240,
        # as a background job of a non-interactive shell (a CI script) starts it: Ctrl-C
        # must still stop the demo
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    ) as (process, port):
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0, log.read_text()
    text = log.read_text()
    assert "dashboard on http://127.0.0.1:" in text and "demo stopped" in text
    engine = make_engine(f"sqlite:///{tmp_path / 'foundry-monitor' / 'demo.db'}")
    with engine.connect() as conn:
        for table in ("metric_minute", "latency_hist", "request_log", "deployment"):
            assert conn.execute(select(func.count()).select_from(TABLES[table])).scalar(), table
    engine.dispose()
    assert not streamlit_healthy(f"http://127.0.0.1:{port}")


def test_sigterm_to_the_dashboard_stops_its_streamlit_child(tmp_path: Path) -> None:
    log = tmp_path / "dashboard.log"
    with _serving(tmp_path, ["dashboard"], log, 120) as (process, port):
        process.send_signal(signal.SIGTERM)  # a service manager's stop
        assert process.wait(timeout=60) == 0, log.read_text()
    assert not streamlit_healthy(f"http://127.0.0.1:{port}"), "the Streamlit child is still serving"
