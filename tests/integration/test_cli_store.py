"""The store commands as a user runs them: the installed ``foundry-monitor`` script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from collector.store.engine import make_engine
from collector.store.schema import TABLES

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"


def run(
    *args: str, env: dict[str, str] | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    clean.update({"XDG_DATA_HOME": str(home), **(env or {})})
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=clean, timeout=120, check=False
    )


def test_db_upgrade_creates_the_schema_in_the_default_sqlite_file(tmp_path: Path) -> None:
    result = run("db", "upgrade", home=tmp_path)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "foundry-monitor" / "foundry-monitor.db"
    assert db.exists()
    engine = make_engine(f"sqlite:///{db}")
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_commands_round_trip_on_both_databases(db_url: str, tmp_path: Path) -> None:
    env = {"FOUNDRY_MONITOR_DATABASE_URL": db_url}
    assert run("db", "upgrade", env=env, home=tmp_path).returncode == 0
    down = run("db", "downgrade", "base", env=env, home=tmp_path)
    assert down.returncode == 0, down.stderr
    assert run("db", "current", env=env, home=tmp_path).stdout.startswith("base")
    up = run("db", "upgrade", env=env, home=tmp_path)
    assert up.returncode == 0, up.stderr
    current = run("db", "current", env=env, home=tmp_path).stdout.strip()
    assert current and not current.startswith("base")


def test_prune_command_reports_what_it_removed(db_url: str, tmp_path: Path) -> None:
    result = run("prune", env={"FOUNDRY_MONITOR_DATABASE_URL": db_url}, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "request_log: 0 rows removed" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "FOUNDRY_MONITOR_RETENTION_DAYS",
            "abc",
            "FOUNDRY_MONITOR_RETENTION_DAYS='abc' is invalid: expected a whole number from 1 to 400",
        ),
        (
            "FOUNDRY_MONITOR_RETENTION_DAYS",
            "0",
            "FOUNDRY_MONITOR_RETENTION_DAYS='0' is invalid: expected a whole number from 1 to 400",
        ),
        (
            "FOUNDRY_MONITOR_DATABASE_URL",
            "mysql://x",
            "FOUNDRY_MONITOR_DATABASE_URL is invalid: expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        ),
        (
            "FOUNDRY_MONITOR_WORKSPACE_ID",
            "not-a-guid",
            "FOUNDRY_MONITOR_WORKSPACE_ID='not-a-guid' is invalid: expected the workspace GUID from the Log Analytics Overview page",
        ),
    ],
)
def test_a_bad_setting_exits_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = run("db", "upgrade", env={variable: value}, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {expected}"
    assert not (tmp_path / "foundry-monitor").exists()


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    result = run("db", "upgrade", env={"FOUNDRY_MONITOR_DATABASE_URL": url}, home=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database at")
    assert "secret" not in result.stderr


def test_config_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    db = tmp_path / "from-file.db"
    config.write_text(f'[foundry_monitor]\ndatabase_url = "sqlite:///{db}"\nretention_days = 14\n')
    result = run("--config", str(config), "db", "upgrade", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert db.exists()
    bad = run(
        "--config",
        str(config),
        "db",
        "upgrade",
        env={"FOUNDRY_MONITOR_RETENTION_DAYS": "x"},
        home=tmp_path,
    )
    assert bad.returncode == 2 and "FOUNDRY_MONITOR_RETENTION_DAYS" in bad.stderr


def test_an_unknown_setting_in_the_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[foundry_monitor]\nretention_dayz = 14\n")
    result = run("--config", str(config), "db", "upgrade", home=tmp_path)
    assert result.returncode == 2
    assert "unknown setting 'retention_dayz'" in result.stderr


def test_every_command_has_help_with_an_example(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from collector.cli import app

    def walk(group, prefix):  # type: ignore[no-untyped-def]
        for info in group.registered_commands:
            yield [*prefix, info.name or info.callback.__name__]
        for sub in group.registered_groups:
            yield from walk(sub.typer_instance, [*prefix, sub.name])

    commands = list(walk(app, []))
    assert ["db", "upgrade"] in commands and ["prune"] in commands
    # the installed command once, as a user runs it; every command's help in this process (a
    # process per command took 90 s of the suite)
    result = run("db", "upgrade", "--help", home=tmp_path)
    assert result.returncode == 0 and "Example" in result.stdout, result.stderr
    runner = CliRunner()
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"], env={"HOME": str(tmp_path)})
        assert shown.exit_code == 0, (command, shown.output)
        assert "Example" in shown.output, command


def test_a_downgrade_that_would_destroy_the_daily_rollups_is_refused_without_force(
    db_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from collector.store import migrate
    from collector.store.writer import upsert

    env = {"FOUNDRY_MONITOR_DATABASE_URL": db_url}
    assert run("db", "upgrade", env=env, home=tmp_path).returncode == 0
    engine = make_engine(db_url)
    head = migrate.current(engine)
    with engine.begin() as conn:  # one day of the 400-day rollups: the raw minutes are gone
        upsert(
            conn,
            "metric_day",
            [
                {
                    "ts": datetime(2026, 1, 5, tzinfo=UTC),
                    "deployment_id": 1,
                    "metric": "ModelRequests",
                    "status_code": 200,
                    "total": 96_638.0,
                }
            ],
        )
    refused = run("db", "downgrade", "0002", env=env, home=tmp_path)
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "metric_day" in refused.stderr and "--force" in refused.stderr
    assert migrate.current(engine) == head  # nothing was touched
    with engine.connect() as conn:
        assert conn.execute(TABLES["metric_day"].select()).first() is not None
    forced = run("db", "downgrade", "0002", "--force", env=env, home=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert migrate.current(engine) == "0002"
    engine.dispose()


def test_processes_starting_together_on_a_fresh_database_all_succeed(
    db_url: str, tmp_path: Path
) -> None:
    """Three 'db upgrade' and two 'prune' (which prepares the store and its partitions) at once:
    the schema and the partitions are created once, nobody crashes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")} | {
        "XDG_DATA_HOME": str(tmp_path),
        "FOUNDRY_MONITOR_DATABASE_URL": db_url,
    }
    commands = [["db", "upgrade"]] * 3 + [["prune"]] * 2
    processes = [
        subprocess.Popen(
            [EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in commands
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert all(code == 0 for code, _ in results), results
    engine = make_engine(db_url)
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("summary-far-future", 2),
        ("report-end-year-1", 2),
        ("prune-huge-retention", 2),
        ("db-upgrade-unknown-revision", 2),
        ("db-path-under-proc", 2),
        ("db-path-under-a-file", 2),
        ("db-port-not-a-number", 2),
        ("db-driver-not-installed", 2),
        ("db-file-not-a-database", 2),
        ("budgets-not-json", 2),
        ("report-out-is-a-file", 2),
        ("postgres-down", 1),
    ],
)
def test_no_input_a_user_can_type_prints_a_traceback(case: str, code: int, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    not_a_db = tmp_path / "not-a-db.db"
    not_a_db.write_text("this is not a database file, it is text" * 100)
    url = "FOUNDRY_MONITOR_DATABASE_URL"
    args, env = {
        "summary-far-future": (["summary", "--since", "9999-12-31T23:00:00"], {}),
        "report-end-year-1": (["report", "--end", "0001-01-01"], {}),
        "prune-huge-retention": (["prune", "--retention-days", "10000000"], {}),
        "db-upgrade-unknown-revision": (["db", "upgrade", "zzz"], {}),
        "db-path-under-proc": (["db", "upgrade"], {url: "sqlite:////proc/nope/store.db"}),
        "db-path-under-a-file": (["db", "upgrade"], {url: f"sqlite:///{a_file}/store.db"}),
        "db-port-not-a-number": (["db", "current"], {url: "postgresql://u@localhost:abc/db"}),
        "db-driver-not-installed": (["db", "current"], {url: "postgresql+asyncpg://u@h/db"}),
        "db-file-not-a-database": (["db", "current"], {url: f"sqlite:///{not_a_db}"}),
        "budgets-not-json": (["summary"], {"FOUNDRY_MONITOR_BUDGETS": "{bad"}),
        "report-out-is-a-file": (["report", "--out", str(a_file)], {}),
        "postgres-down": (["db", "current"], {url: "postgresql://u@127.0.0.1:1/db"}),
    }[case]
    result = run(*args, env=env, home=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
