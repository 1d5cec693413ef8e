"""``foundry-monitor demo`` as a user runs it: one command, a dashboard, Ctrl-C stops everything."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from collector.store.engine import make_engine
from collector.store.schema import TABLES

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def test_demo_backfills_serves_the_dashboard_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [EXE, "demo", "--days", "1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # as a background job of a non-interactive shell (a CI script) starts it: Ctrl-C
            # must still stop the demo
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        try:
            deadline = time.monotonic() + 240
            while not _healthy(port):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=90) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    assert "dashboard on http://127.0.0.1:" in text and "demo stopped" in text
    engine = make_engine(f"sqlite:///{tmp_path / 'foundry-monitor' / 'demo.db'}")
    with engine.connect() as conn:
        for table in ("metric_minute", "latency_hist", "request_log", "deployment"):
            assert conn.execute(select(func.count()).select_from(TABLES[table])).scalar(), table
    engine.dispose()
    assert not _healthy(port)


def test_sigterm_to_the_dashboard_stops_its_streamlit_child(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [EXE, "dashboard", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            deadline = time.monotonic() + 120
            while not _healthy(port):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            process.send_signal(signal.SIGTERM)  # a service manager's stop
            assert process.wait(timeout=60) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    assert not _healthy(port), "the Streamlit child is still serving"
