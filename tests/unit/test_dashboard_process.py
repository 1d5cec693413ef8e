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


@pytest.mark.parametrize(
    ("host", "sign_in", "warned"),
    [
        ("127.0.0.1", False, False),
        ("localhost", False, False),
        ("::1", False, False),
        ("0.0.0.0", False, True),
        ("10.1.2.3", False, True),
        ("0.0.0.0", True, False),
    ],
)
def test_a_dashboard_bound_beyond_loopback_without_sign_in_is_warned_about(
    host: str, sign_in: bool, warned: bool
) -> None:
    warning = dashboard.exposure_warning(host, sign_in)
    assert (warning is not None) is warned
    if warning:
        assert host in warning and "FOUNDRY_MONITOR_DASHBOARD_AUTH=true" in warning
