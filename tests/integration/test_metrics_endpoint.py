"""``foundry-monitor run`` with FOUNDRY_MONITOR_METRICS_PORT on the live emulator, as a user runs
it: a real scrape of /metrics shows each deployment's series and the last success of every
source, with the values ``summary`` gives over the same 5 minutes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.azure import AzureClients, CallCounter
from collector.config import Settings
from collector.emulator import EmulatorServer, StaticTokenCredential, WorkloadConfig
from collector.metrics_endpoint import STATUS_CLASSES, TOKEN_KINDS, last_complete_window
from collector.runner import Collector
from collector.store import migrate

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
SOURCES = ("inventory", "metrics", "logs", "costs", "spend")
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Samples = dict[str, list[tuple[dict[str, str], float]]]


def _scrape(port: int) -> Samples | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _one(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for got, v in samples.get(name, []) if labels.items() <= got.items()]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def _window(samples: Samples) -> tuple[datetime, datetime]:
    """The five minutes the scrape's figures are over."""
    start = _one(samples, "foundry_monitor_window_start_timestamp_seconds")
    end = _one(samples, "foundry_monitor_window_end_timestamp_seconds")
    assert start is not None and end is not None
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def _settled(samples: Samples | None) -> bool:
    """Every source ran once and the last refresh read the store after the last success."""
    if samples is None:
        return False
    runs = {
        labels["source"] for labels, _ in samples.get("foundry_monitor_collection_runs_total", [])
    }
    success = samples.get("foundry_monitor_last_success_timestamp_seconds", [])
    refreshed = _one(samples, "foundry_monitor_store_refresh_timestamp_seconds")
    return (
        set(SOURCES) <= runs
        and set(SOURCES) <= {labels["source"] for labels, _ in success}
        and refreshed is not None
        and refreshed >= max(v for _, v in success)
    )


def _backfill(env: dict[str, str]) -> None:
    values = {
        k.removeprefix("FOUNDRY_MONITOR_").lower(): v
        for k, v in env.items()
        if k.startswith("FOUNDRY_MONITOR_")
    }
    settings = Settings(**values)
    engine = migrate.prepare(settings.effective_database_url, settings.retention_days)
    try:
        credential = StaticTokenCredential(settings.static_token.get_secret_value())

        def clients(counter: CallCounter) -> AzureClients:
            return AzureClients(settings, credential, counter)

        reports = Collector(settings, engine, clients).run_once(backfill_days=0.1)
        assert all(r.status == "ok" for r in reports), [r.error for r in reports]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Samples, dict[str, str], Path]]:
    """``run`` on the live emulator, every job once (hour-long intervals), scraped once every
    job has run and the endpoint has re-read the store; the process is stopped afterwards."""
    tmp_path = tmp_path_factory.mktemp("metrics-endpoint")
    with EmulatorServer(WorkloadConfig(seed=3, days=0.1, end=None)) as server:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
        env |= server.env
        env |= {
            "FOUNDRY_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "FOUNDRY_MONITOR_METRICS_PORT": str(port),
            "FOUNDRY_MONITOR_RETENTION_DAYS": "1",
            **{
                f"FOUNDRY_MONITOR_{job.upper()}_INTERVAL_S": "3600"
                for job in ("metrics", "logs", "inventory", "costs", "spend")
            },
        }
        _backfill(env)  # as `collect --once` first: `run` then reads since the watermarks
        log = tmp_path / "run.log"
        with log.open("w") as out:
            process = subprocess.Popen([EXE, "run"], stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            samples = _scrape(port)
            while not _settled(samples):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)  # polling interval of the scrape
                samples = _scrape(port)
            assert samples is not None
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert f"metrics on http://127.0.0.1:{port}/metrics" in log.read_text()
        yield samples, env, log


def _summary(
    env: dict[str, str], since: datetime, until: datetime, command: str = "summary"
) -> list[dict[str, Any]]:
    done = subprocess.run(
        [EXE, command, "--since", since.isoformat(), "--until", until.isoformat(), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_a_scrape_during_run_equals_summary_over_the_same_five_minutes(
    live_run: tuple[Samples, dict[str, str], Path],
) -> None:
    samples, env, _ = live_run
    since, until = _window(samples)
    refreshed = _one(samples, "foundry_monitor_store_refresh_timestamp_seconds")
    assert refreshed is not None
    at = datetime.fromtimestamp(refreshed, UTC)
    assert (since, until) == last_complete_window(at)
    rows = _summary(env, since, until)
    assert sum(r["requests"] for r in rows) > 0, "the live workload has traffic in the window"
    for r in rows:
        who = {"resource": r["resource"], "deployment": r["deployment"], "model": r["model"] or ""}
        for status, key in zip(
            STATUS_CLASSES,
            ("status_2xx", "status_429", "status_4xx_other", "status_5xx"),
            strict=True,
        ):
            got = _one(
                samples, "foundry_monitor_deployment_requests_5m", status_class=status, **who
            )
            assert got == r[key], (who, status)
        assert (
            _one(samples, "foundry_monitor_deployment_throttled_ratio_5m", **who) == r["rate_429"]
        )
        p95 = _one(samples, "foundry_monitor_deployment_latency_p95_seconds_5m", **who)
        assert p95 == (None if r["p95_ms"] is None else r["p95_ms"] / 1000), who
        for kind in TOKEN_KINDS:
            key = f"{kind}_tokens"
            assert _one(samples, "foundry_monitor_deployment_tokens_5m", kind=kind, **who) == r[key]
    assert any(r["p95_ms"] for r in rows) and any(r["input_tokens"] for r in rows)

    estimated = [
        v
        for labels, v in samples["foundry_monitor_deployment_spend_month_to_date_usd"]
        if labels["basis"] == "estimated"
    ]
    assert estimated and any(estimated)
    month_start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for r in _summary(env, month_start, at):
        who = {"resource": r["resource"], "deployment": r["deployment"], "model": r["model"] or ""}
        for basis in ("estimated", "billed"):
            got = _one(
                samples, "foundry_monitor_deployment_spend_month_to_date_usd", basis=basis, **who
            )
            want = r[f"spend_{basis}"]
            assert (got is None and want is None) or got == pytest.approx(want, abs=1e-9), (
                who,
                basis,
            )


def test_a_scrape_shows_each_quota_pools_busiest_minute_as_headroom_does(
    live_run: tuple[Samples, dict[str, str], Path],
) -> None:
    samples, env, _ = live_run
    since, until = _window(samples)
    pools = _summary(env, since, until, command="headroom")
    busy = [p for p in pools if any(p[f"peak_{k}"] for k in ("rpm", "itpm", "otpm"))]
    assert busy, "the live workload uses some pool in the window"
    for p in busy:
        for limit in ("rpm", "itpm", "otpm"):
            who = {"pool": p["pool"], "model": p["model"], "limit": limit}
            assert _one(samples, "foundry_monitor_pool_peak_minute_5m", **who) == p[f"peak_{limit}"]
            assert (
                _one(samples, "foundry_monitor_pool_limit_per_minute", **who) == p[f"limit_{limit}"]
            )
            ratio = _one(samples, "foundry_monitor_pool_utilization_ratio_5m", **who)
            assert ratio == pytest.approx(p[f"utilization_{limit}"]), who


def test_the_scrape_shows_the_collectors_own_health(
    live_run: tuple[Samples, dict[str, str], Path],
) -> None:
    samples, _, _ = live_run
    for source in SOURCES:
        assert _one(samples, "foundry_monitor_collection_runs_total", source=source)
        assert _one(samples, "foundry_monitor_collection_errors_total", source=source) == 0
        assert _one(samples, "foundry_monitor_collected_rows_total", source=source) is not None
    assert _one(samples, "foundry_monitor_azure_calls_total", source="metrics")
    assert _one(samples, "foundry_monitor_collected_rows_total", source="metrics")
    scopes = [
        labels["scope"]
        for labels, _ in samples["foundry_monitor_last_success_timestamp_seconds"]
        if labels["source"] == "metrics"
    ]
    assert scopes, "one last-success series per scope"
    lags = {labels["job"] for labels, _ in samples["foundry_monitor_scheduler_lag_seconds"]}
    assert set(SOURCES) <= lags
