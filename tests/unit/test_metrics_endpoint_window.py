"""The /metrics endpoint's window, its exposition from a snapshot, and its start-up errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from collector.metrics_endpoint import (
    DeploymentFigures,
    Snapshot,
    StoreMetrics,
    last_complete_window,
)
from collector.runner import RunReport

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("12:07:30", "11:55", "12:00"),  # 12:04:30 after the metrics' delay
        ("12:08:00", "12:00", "12:05"),
        ("00:02:59", "23:50", "23:55"),  # the day before
    ],
)
def test_the_window_is_the_last_complete_five_minutes_after_the_metrics_delay(
    now: str, start: str, end: str
) -> None:
    at = datetime.fromisoformat(f"2026-11-02T{now}+00:00")
    got = last_complete_window(at)
    assert [t.strftime("%H:%M") for t in got] == [start, end]


def _samples(metrics: StoreMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The exposition as a real scrape parses it: (name, sorted labels) -> value."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_add_up_each_sources_runs_and_unknown_figures_are_left_out() -> None:
    metrics = StoreMetrics(engine=None)  # type: ignore[arg-type]
    metrics.record_runs(
        [
            RunReport("metrics", "s1", rows=10, calls=2, throttled=1),
            RunReport("metrics", "s2", rows=5, calls=1, status="error", error="boom"),
        ]
    )
    metrics.record_runs([RunReport("metrics", "s1", rows=1, calls=1)])
    at = datetime(2026, 11, 2, 12, 8, tzinfo=UTC)
    metrics._snapshot = Snapshot(  # what a refresh would have read
        at,
        last_complete_window(at),
        [
            DeploymentFigures(
                ("res", "chat", "claude-sonnet-4-5"),
                {"2xx": 3, "429": 1, "4xx_other": 0, "5xx": 0},
                0.25,
                None,
                {
                    "input": 7,
                    "output": 0,
                    "cache_read": 0,
                    "cache_write_5m": 0,
                    "cache_write_1h": 0,
                },
                Decimal("1.5"),
                None,
            )
        ],
        {("metrics", "s1"): at},
    )
    got = _samples(metrics)
    assert got[("foundry_monitor_collection_runs_total", (("source", "metrics"),))] == 3
    assert got[("foundry_monitor_collected_rows_total", (("source", "metrics"),))] == 16
    assert got[("foundry_monitor_azure_calls_total", (("source", "metrics"),))] == 4
    assert got[("foundry_monitor_azure_throttled_calls_total", (("source", "metrics"),))] == 1
    assert got[("foundry_monitor_collection_errors_total", (("source", "metrics"),))] == 1
    who = (("deployment", "chat"), ("model", "claude-sonnet-4-5"), ("resource", "res"))
    key = tuple(sorted((*who, ("status_class", "429"))))
    assert got[("foundry_monitor_deployment_requests_5m", key)] == 1
    assert got[("foundry_monitor_deployment_throttled_ratio_5m", who)] == 0.25
    spend = "foundry_monitor_deployment_spend_month_to_date_usd"
    assert got[(spend, tuple(sorted((*who, ("basis", "estimated")))))] == 1.5
    names = {name for name, _ in got}
    assert "foundry_monitor_deployment_latency_p95_seconds_5m" not in names  # not known
    assert (spend, tuple(sorted((*who, ("basis", "billed"))))) not in got  # never 0 for unknown
    success = (("scope", "s1"), ("source", "metrics"))
    assert got[("foundry_monitor_last_success_timestamp_seconds", success)] == at.timestamp()
    assert (
        got[("foundry_monitor_window_end_timestamp_seconds", ())]
        == datetime(2026, 11, 2, 12, 5, tzinfo=UTC).timestamp()
    )


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
        env |= {
            "FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "FOUNDRY_MONITOR_SUBSCRIPTIONS": "00000000-0000-0000-0000-0000000000f1",
            "FOUNDRY_MONITOR_METRICS_PORT": str(port),
        }
        done = subprocess.run([EXE, "run"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: cannot serve /metrics on 127.0.0.1:{port}")
    assert "FOUNDRY_MONITOR_METRICS_PORT" in lines[-1] and "Traceback" not in done.stderr
