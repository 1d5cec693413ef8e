"""``--json`` on every read command: ``doctor`` and ``db current`` (``summary`` and ``lookup``
are covered in test_cli_read.py), run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collector.emulator import EmulatorServer
from collector.store import migrate

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
#: The commands that only read (Azure or the store) and print what they found.
READ_COMMANDS = [
    ["summary"],
    ["lookup"],
    ["doctor"],
    ["db", "current"],
    ["alerts", "list"],
    ["alerts", "status"],
    ["alerts", "replay"],
]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    return subprocess.run(
        [EXE, *args], env=clean | env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_every_read_command_offers_json(command: list[str], tmp_path: Path) -> None:
    done = _run(*command, "--help", env={"XDG_DATA_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "--json" in done.stdout


def test_doctor_json_lists_every_check_with_its_fix(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = emulator.env | {"FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    done = _run("doctor", "--json", env=env)
    checks = json.loads(done.stdout)
    assert {c["name"] for c in checks} >= {"credential", "inventory", "metrics", "logs", "costs"}
    assert all(set(c) == {"name", "target", "ok", "detail", "fix"} for c in checks)
    failed = [c for c in checks if not c["ok"]]
    assert done.returncode == (1 if failed else 0), done.stderr
    assert all(c["fix"] for c in failed)


def test_db_current_json_gives_the_revision_or_null(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {"FOUNDRY_MONITOR_DATABASE_URL": url}
    empty = json.loads(_run("db", "current", "--json", env=env).stdout)
    assert empty == {"revision": None, "database": migrate.safe_url(url)}
    migrate.upgrade(url)
    got = json.loads(_run("db", "current", "--json", env=env).stdout)
    assert got["revision"] == migrate.current(url) and got["revision"]
