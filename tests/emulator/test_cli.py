"""``foundry-monitor emulator serve`` and ``truth`` started like a user starts them."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app
from collector.config import load_settings

EXPECTED_ENV = {
    "FOUNDRY_MONITOR_ARM_ENDPOINT",
    "FOUNDRY_MONITOR_METRICS_ENDPOINT",
    "FOUNDRY_MONITOR_LOGS_ENDPOINT",
    "FOUNDRY_MONITOR_ARM_AUDIENCE",
    "FOUNDRY_MONITOR_METRICS_AUDIENCE",
    "FOUNDRY_MONITOR_LOGS_AUDIENCE",
    "FOUNDRY_MONITOR_CA_BUNDLE",
    "FOUNDRY_MONITOR_STATIC_TOKEN",
    "FOUNDRY_MONITOR_SUBSCRIPTIONS",
    "FOUNDRY_MONITOR_WORKSPACE_ID",
    "FOUNDRY_MONITOR_COST_SCOPES",
}


def test_serve_prints_one_ready_line_whose_env_the_settings_accept(tmp_path: Path) -> None:
    out = tmp_path / "serve.out"
    with out.open("w") as handle:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "foundry-monitor"),
                "emulator",
                "serve",
                "--days",
                "0.05",
                "--end",
                "2025-11-20T12:00:00Z",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while not out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = out.read_text()
        assert text.strip(), f"emulator serve printed nothing within 20 s ({process.poll()})"
        info = json.loads(text.splitlines()[0])
        assert set(info["env"]) == EXPECTED_ENV, text
        assert info["env"]["FOUNDRY_MONITOR_CA_BUNDLE"] == info["ca_cert"]
        context = ssl.create_default_context(cafile=info["ca_cert"])
        with urllib.request.urlopen(info["base_url"] + "/_emulator/health", context=context) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        settings = load_settings(
            **{k.removeprefix("FOUNDRY_MONITOR_").lower(): v for k, v in info["env"].items()}
        )
        assert settings.metrics_endpoint.endswith("/metrics/{region}")
        assert settings.workspace_id == info["env"]["FOUNDRY_MONITOR_WORKSPACE_ID"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert not Path(info["ca_cert"]).exists()  # the temporary CA is removed on stop


def test_truth_writes_the_documented_shape(tmp_path: Path) -> None:
    target = tmp_path / "truth.json"
    result = CliRunner().invoke(
        app,
        [
            "emulator",
            "truth",
            "--seed",
            "4",
            "--days",
            "0.1",
            "--end",
            "2025-11-20T12:00:00Z",
            "--out",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads(target.read_text())
    assert set(truth) >= {"deployments", "billed", "failed_requests"}
    day = truth["deployments"][0]["days"][0]
    assert set(day) >= {
        "day",
        "requests_by_status",
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "estimated_cost",
    }
    failed = truth["failed_requests"][0]
    assert set(failed) >= {
        "apim_request_id",
        "request_id",
        "deployment",
        "resource",
        "status",
        "time",
    }
    assert failed["request_id"].startswith("req_")


def test_every_emulator_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for command in ("serve", "truth"):
        result = runner.invoke(
            app, ["emulator", command, "--help"], env={**os.environ, "COLUMNS": "200"}
        )
        assert result.exit_code == 0
        assert "Example:" in result.output


def test_serve_refuses_a_bad_fault_spec() -> None:
    result = CliRunner().invoke(app, ["emulator", "serve", "--faults", "metrics:418"])
    assert result.exit_code != 0
    assert "bad fault" in result.output
