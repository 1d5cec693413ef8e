"""Two ``foundry-monitor run`` processes on one Postgres store, collecting from a live emulator:
the active one announces the episode once; when it is stopped the standby takes over, evaluates
the same episode and sends nothing again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from collector.emulator import EmulatorServer, WorkloadConfig
from collector.store import migrate
from collector.store.engine import make_engine
from collector.store.schema import TABLES
from tests.integration.test_alerts_delivery import Receiver, receiver  # noqa: F401

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
RULES = [
    {
        "name": "traffic",
        "signal": "requests",
        "op": ">",
        "threshold": 0,
        "window_minutes": 5,
        "scope": "all",
        "notify": ["webhook"],
    }
]


def _wait_for(check: Callable[[], Any], what: str, procs: list[subprocess.Popen[str]]) -> Any:
    """Poll ``check`` until it returns something true (a state to wait on, not a fixed sleep)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a run process exited ({p.returncode}) before {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
def test_two_run_processes_announce_an_episode_once(
    pg_server: Any,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = pg_server.create_database("alerts_two_runs")
    engine = make_engine(url)
    migrate.upgrade(engine)
    server = EmulatorServer(WorkloadConfig(seed=3, days=0.1, end=None)).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env.update(
        {
            **server.env,
            "XDG_DATA_HOME": str(tmp_path),
            "FOUNDRY_MONITOR_DATABASE_URL": url,
            "FOUNDRY_MONITOR_RETENTION_DAYS": "1",
            "FOUNDRY_MONITOR_WORKSPACE_ID": "",  # no request logs: the rule reads metrics
            "FOUNDRY_MONITOR_METRICS_INTERVAL_S": "10",
            "FOUNDRY_MONITOR_ALERT_RULES": json.dumps(RULES),
            "FOUNDRY_MONITOR_ALERT_WEBHOOK_URL": receiver.url,
            "FOUNDRY_MONITOR_REPORT_WEEK_CRON": "",
            "FOUNDRY_MONITOR_REPORT_MONTH_CRON": "",
        }
    )
    state = TABLES["alert_state"]

    def version() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(state.c.version)).scalar() or 0)

    def start(name: str) -> subprocess.Popen[str]:
        out = (tmp_path / f"{name}.log").open("w")
        return subprocess.Popen(
            [EXE, "run"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )

    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(start("first"))
        _wait_for(lambda: receiver.received, "the firing message", procs)
        procs.append(start("second"))  # a replica: stands by while the first holds the lock
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(timeout=240) == 0
        active = procs[1:]
        # the standby took over: its evaluation (states read, messages due claimed) has run
        log = tmp_path / "second.log"
        _wait_for(lambda: "alerts evaluated" in log.read_text(), "the standby's evaluation", active)
        assert version() > 0
        assert [r["status"] for r in receiver.received] == ["firing"]
        assert receiver.received[0]["alerts"][0]["labels"]["alertname"] == "traffic"
    except Exception:
        for log in sorted(tmp_path.glob("*.log")):
            print(log.name, log.read_text()[-3000:])
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
        server.stop()
        engine.dispose()
