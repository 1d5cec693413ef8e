"""``foundry-monitor alerts ...`` as a user runs it (the installed script in a subprocess)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from collector.store import migrate
from collector.store.engine import make_engine
from tests import seed
from tests.integration.test_cli_store import run

RULES = json.dumps(
    [
        {"name": "throttled", "signal": "rate_429", "op": ">", "threshold": 0.1},
        {"name": "quiet", "signal": "requests", "op": "<", "threshold": 1, "window_minutes": 10},
    ]
)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[dict[str, str], seed.Seed]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    data = seed.build(engine)
    engine.dispose()
    return {"FOUNDRY_MONITOR_DATABASE_URL": url, "FOUNDRY_MONITOR_ALERT_RULES": RULES}, data


def test_replay_lists_the_episodes_as_json(
    seeded: tuple[dict[str, str], seed.Seed], tmp_path: Path
) -> None:
    env, data = seeded
    since, until = data.start.isoformat(), data.end.isoformat()
    result = run(
        "alerts", "replay", "--since", since, "--until", until, "--rule", "throttled", "--json",
        env=env, home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    episodes = json.loads(result.stdout)
    assert episodes and {e["rule"] for e in episodes} == {"throttled"}
    assert set(episodes[0]) == {
        "rule", "signal", "scope", "deployment", "resource", "start", "end", "peak",
    }  # fmt: skip
    table = run("alerts", "replay", "--since", since, "--until", until, env=env, home=tmp_path)
    assert table.returncode == 0 and "quiet" in table.stdout and "throttled" in table.stdout


def test_silence_then_status_and_evaluate(
    seeded: tuple[dict[str, str], seed.Seed], tmp_path: Path
) -> None:
    env, _ = seeded
    listed = run("alerts", "list", env=env, home=tmp_path)
    assert listed.returncode == 0 and "rate_429 > 0.1 over 5 min" in listed.stdout
    done = run("alerts", "silence", "quiet", "--for", "90m", env=env, home=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("silenced quiet for every scope")
    evaluated = run("alerts", "evaluate", env=env, home=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    status = run("alerts", "status", "--all", env=env, home=tmp_path)
    assert status.returncode == 0 and "silenced: quiet scope *" in status.stdout
    as_json = json.loads(run("alerts", "status", "--all", "--json", env=env, home=tmp_path).stdout)
    assert as_json["silences"] == [
        {"rule": "quiet", "scope": "*", "ends_at": as_json["silences"][0]["ends_at"]}
    ]
    assert {s["rule"] for s in as_json["states"]} == {"throttled", "quiet"}
    rules = json.loads(run("alerts", "list", "--json", env=env, home=tmp_path).stdout)
    assert next((r["name"], r["condition"]) for r in rules) == (
        "throttled",
        "rate_429 > 0.1 over 5 min, per deployment",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("silence", "nope"), "no alert rule named 'nope': the rules are throttled, quiet"),
        (("silence", "quiet", "--for", "2x"), "--for '2x' is not a duration"),
        (("replay", "--since", "yesterday"), "--since 'yesterday' is not a date"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    seeded: tuple[dict[str, str], seed.Seed], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    env, _ = seeded
    result = run("alerts", *args, env=env, home=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}")


def test_a_bad_rule_in_the_environment_stops_the_command_in_one_line(tmp_path: Path) -> None:
    bad = json.dumps([{"name": "x", "signal": "rate_429", "op": ">", "threshold": "lots"}])
    result = run("alerts", "list", env={"FOUNDRY_MONITOR_ALERT_RULES": bad}, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: FOUNDRY_MONITOR_ALERT_RULES is invalid: rule 'x': threshold must be a number, "
        "e.g. 0.1"
    )


def test_the_replay_window_must_be_ordered(
    seeded: tuple[dict[str, str], seed.Seed], tmp_path: Path
) -> None:
    env, data = seeded
    later = (data.start + timedelta(hours=1)).isoformat()
    result = run(
        "alerts", "replay", "--since", later, "--until", data.start.isoformat(),
        env=env, home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "must be before --until" in result.stderr
