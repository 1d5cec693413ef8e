"""How ``foundry-monitor dashboard`` starts Streamlit."""

from __future__ import annotations

from typing import Any

import pytest

from collector.cli import dashboard
from collector.cli.context import CliContext


def test_viewers_never_see_a_traceback_and_settings_stay_out_of_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: dict[str, Any] = {}

    def fake_popen(command: list[str], env: dict[str, str]) -> object:
        started.update(command=command, env=env)
        return object()

    monkeypatch.setattr("subprocess.Popen", fake_popen)
    dashboard.start_streamlit(CliContext(), {"FOUNDRY_MONITOR_X": "secret"}, "127.0.0.1", 8501)
    command = started["command"]
    assert command[command.index("--client.showErrorDetails") + 1] == "type"
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert not any("secret" in part for part in command)
    assert started["env"]["FOUNDRY_MONITOR_X"] == "secret"
