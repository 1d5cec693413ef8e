"""Replicas on a fresh store. Three ``foundry-monitor run`` processes started together on a fresh Postgres database and the
live_emulator, as the README's "any number of run processes" promises: all come up, the schema is
created once, one collects while the others stand by (a session advisory lock), nothing is stored
twice, no output holds a traceback, and a standby takes over when the active one stops. Two
``collect --once`` started together on a fresh SQLite file both succeed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text

from collector.emulator import EmulatorServer, WorkloadConfig
from collector.store import migrate
from collector.store.engine import make_engine
from collector.store.queries import RUN_SUCCEEDED
from collector.store.schema import TABLES
from tests.pg import PostgresServer

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
SOURCES = ("inventory", "metrics", "logs", "costs")
RUNNING = "collector running"
STANDING_BY = "another collector holds the lock: standing by"


@pytest.fixture(scope="module")
def live_emulator() -> Iterator[EmulatorServer]:
    """A live emulator with two hours of history up to the wall clock."""
    server = EmulatorServer(WorkloadConfig(seed=9, days=2 / 24)).start()
    try:
        yield server
    finally:
        server.stop()


class Replica:
    """One ``run`` process, its output in a file (a PIPE can fill up and block it)."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [EXE, "run"], env=env, stdout=self._out, stderr=subprocess.STDOUT, text=True
        )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self._out.close()


def wait_for(
    condition: Callable[[], bool], what: str, replicas: list[Replica], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [r for r in replicas if r.process.poll() is not None]
        assert not dead, f"a run process exited: {dead[0].output}"
        time.sleep(0.5)
    outputs = "\n---\n".join(r.output[-3000:] for r in replicas)
    pytest.fail(f"timed out waiting for {what}:\n{outputs}")


def succeeded_sources(engine: Engine) -> set[str]:
    runs = TABLES["collection_run"]
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.source).where(runs.c.status == RUN_SUCCEEDED)).all()
    return {source for (source,) in rows}


@pytest.fixture
def replicas(
    live_emulator: EmulatorServer, pg_server: PostgresServer, tmp_path: Path
) -> Iterator[tuple[list[Replica], Engine]]:
    url = pg_server.create_database("run_replicas")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env |= live_emulator.env | {
        "FOUNDRY_MONITOR_DATABASE_URL": url,
        "FOUNDRY_MONITOR_DATA_DIR": str(tmp_path),
        "FOUNDRY_MONITOR_RETENTION_DAYS": "1",
    }
    started = [Replica(env, tmp_path / f"run-{i}.log") for i in range(3)]
    engine = make_engine(url)
    try:
        yield started, engine
    finally:
        for replica in started:
            replica.stop()
        engine.dispose()


@pytest.mark.postgres
def test_three_run_processes_on_a_fresh_postgres(replicas: tuple[list[Replica], Engine]) -> None:
    started, engine = replicas

    def all_collected() -> bool:
        try:
            return set(SOURCES) <= succeeded_sources(engine)
        except Exception:  # the schema is not there yet
            return False

    wait_for(all_collected, "a first collection of every source", started, timeout=240)
    wait_for(
        lambda: sum(STANDING_BY in r.output for r in started) == 2,
        "two standby processes",
        started,
        timeout=60,
    )
    assert [RUNNING in r.output for r in started].count(True) == 1
    # the schema was created once, at head
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    assert versions == [head]
    # nothing stored twice: one row per deployment and per resource of the tenant
    deployment, resource = TABLES["deployment"], TABLES["resource"]
    with engine.connect() as conn:
        pairs = conn.execute(select(deployment.c.resource_id, deployment.c.name)).all()
        resources = conn.execute(select(func.count()).select_from(resource)).scalar_one()
        failed = conn.execute(
            select(TABLES["collection_run"].c.error).where(
                TABLES["collection_run"].c.status != RUN_SUCCEEDED
            )
        ).all()
    assert len(pairs) == len(set(pairs)) and pairs
    assert resources == len({rid for rid, _ in pairs})
    assert not failed, failed
    # a standby takes over when the active process stops
    active = next(r for r in started if RUNNING in r.output)
    assert active.stop() == 0
    standbys = [r for r in started if r is not active]
    wait_for(
        lambda: any(RUNNING in r.output for r in standbys),
        "a standby to take over",
        standbys,
        timeout=90,
    )
    for replica in started:
        assert replica.stop() == 0, replica.output
        assert "Traceback" not in replica.output, replica.output


def test_two_collect_once_on_a_fresh_sqlite_file(
    live_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """SQLite has no advisory lock: both collect; migrations (BEGIN IMMEDIATE) and upserts keep
    the store whole."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env |= live_emulator.env | {
        "FOUNDRY_MONITOR_DATABASE_URL": url,
        "FOUNDRY_MONITOR_DATA_DIR": str(tmp_path),
        "FOUNDRY_MONITOR_RETENTION_DAYS": "1",
    }
    logs = [tmp_path / f"collect-{i}.log" for i in range(2)]
    files = [log.open("w") for log in logs]
    processes = [
        subprocess.Popen(
            [EXE, "collect", "--once"], env=env, stdout=f, stderr=subprocess.STDOUT, text=True
        )
        for f in files
    ]
    codes = [p.wait(timeout=300) for p in processes]
    for f in files:
        f.close()
    outputs = [log.read_text(errors="replace") for log in logs]
    assert codes == [0, 0], outputs
    assert not [o for o in outputs if "Traceback" in o], outputs
    engine = make_engine(url)
    try:
        assert set(SOURCES) <= succeeded_sources(engine)
        deployment = TABLES["deployment"]
        with engine.connect() as conn:
            pairs = conn.execute(select(deployment.c.resource_id, deployment.c.name)).all()
        assert pairs and len(pairs) == len(set(pairs))
    finally:
        engine.dispose()
