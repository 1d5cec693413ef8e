"""The hostile-input suite, Azure side: an emulated tenant whose deployments carry hostile names
(:func:`tests.hostile.hostile_catalog`) and whose injected errors carry a hostile message
(:data:`tests.hostile.MESSAGE`), driven through ``collect --once``, ``doctor`` and ``summary`` as a
user runs them. Nothing crashes or prints a traceback, no escape sequence reaches the terminal, the
names arrive in the store intact (ARM, metrics dimensions, request logs), and Azure's message is
printed as text."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.azure import AzureClients, CallCounter
from collector.emulator import EmulatorServer, StaticTokenCredential, WorkloadConfig
from collector.runner import Collector
from collector.store import migrate
from tests import hostile
from tests.integration.conftest import emulator_settings

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
#: What a terminal acts on: escape sequences, the bell, bidi overrides.
TERMINAL_ACTIVE = ("\x1b", "\x07", "\u202e", "\x9b")
RENAMED = [
    hostile.DEPLOYMENTS[n]
    for n in (
        "claude-opus-4-5",
        "support-bot",
        "claude-haiku-4-5",
        "claude-opus-4-1",
        "gpt-4o-mini",
    )
]


@pytest.fixture(scope="module")
def live_emulator() -> Iterator[EmulatorServer]:
    """A live emulator (two hours of history up to the wall clock) under hostile names."""
    server = EmulatorServer(
        WorkloadConfig(seed=3, days=2 / 24, catalog=hostile.hostile_catalog()),
        fault_message=hostile.MESSAGE,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(live_emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("hostile-azure")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    return (
        clean
        | live_emulator.env
        | {
            "FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{folder / 'store.db'}",
            "FOUNDRY_MONITOR_DATA_DIR": str(folder),
            "FOUNDRY_MONITOR_RETENTION_DAYS": "1",
            "COLUMNS": "300",
        }
    )


@pytest.fixture(scope="module")
def collected(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(env, "collect", "--once")


@pytest.fixture(autouse=True)
def _no_faults(live_emulator: EmulatorServer) -> Iterator[None]:
    yield
    live_emulator.set_faults(None)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def assert_inert(done: subprocess.CompletedProcess[str]) -> None:
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert not [c for c in TERMINAL_ACTIVE if c in output], output


def test_collect_stores_every_hostile_name_intact(
    collected: subprocess.CompletedProcess[str], env: dict[str, str]
) -> None:
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert_inert(collected)
    done = run(env, "summary", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["deployment"]: r for r in json.loads(done.stdout)}
    assert set(rows) >= set(RENAMED)
    for name in RENAMED:
        assert rows[name]["requests"] > 0, name  # metrics matched by dimension value
        assert rows[name]["p50_ms"] is not None, name  # request logs matched by name


def test_summary_prints_the_hostile_names_as_text(
    collected: subprocess.CompletedProcess[str], env: dict[str, str]
) -> None:
    done = run(env, "summary")
    assert done.returncode == 0, done.stderr
    assert_inert(done)
    for name in RENAMED:
        assert hostile.visible(name) in done.stdout, name


def test_a_hostile_azure_error_is_printed_as_text_by_collect(
    collected: subprocess.CompletedProcess[str], live_emulator: EmulatorServer, env: dict[str, str]
) -> None:
    live_emulator.set_faults("metrics:500*200,logs:500*200")
    done = run(env, "collect", "--once", "--source", "metrics", "--source", "logs")
    assert done.returncode == 1, done.stdout + done.stderr
    assert_inert(done)
    flat = " ".join(done.stdout.split())
    assert "AuthorizationFailed:" in flat
    assert "[/bold]" in done.stdout and "[link=https://evil.example]here[/link]" in done.stdout


def test_a_hostile_azure_error_is_printed_as_text_by_doctor(
    collected: subprocess.CompletedProcess[str], live_emulator: EmulatorServer, env: dict[str, str]
) -> None:
    live_emulator.set_faults("any:500*200")
    done = run(env, "doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    assert_inert(done)
    assert "[re-authenticate](https://evil.example/login)" in done.stdout
    assert "[/bold]" in done.stdout


def test_doctor_on_a_healthy_hostile_tenant(
    collected: subprocess.CompletedProcess[str], env: dict[str, str]
) -> None:
    done = run(env, "doctor")
    assert_inert(done)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_collectors_log_line_stays_one_inert_line(
    live_emulator: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Azure's message in the one log line per run: a line break in it would forge log lines, an
    escape sequence would reach whoever tails the log."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = emulator_settings(live_emulator, url)
    credential = StaticTokenCredential(live_emulator.token)
    engine = migrate.prepare(url)

    def clients(counter: CallCounter) -> AzureClients:
        return AzureClients(settings, credential, counter, retry_backoff_factor=0.01)

    live_emulator.set_faults("arm:500*200")
    caplog.set_level(logging.INFO, logger="foundry_monitor.collector")
    try:
        [report] = Collector(settings, engine, clients).collect_inventory()
    finally:
        engine.dispose()
    assert report.error and "\n" in hostile.MESSAGE
    lines = [r.getMessage() for r in caplog.records if "status=" in r.getMessage()]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines), lines
    assert "[re-authenticate](https://evil.example/login)" in lines[0]
