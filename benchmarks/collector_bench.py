"""Collector backfill benchmark: peak RSS, wall time and Azure calls of `collect --once`.

The emulator runs in its own process (`foundry-monitor emulator serve`), so the collector's
memory is measured alone: each backfill is a child process whose peak RSS comes from wait4().
Two windows (N and 2N days) show whether memory stays flat as the window grows.

    python benchmarks/collector_bench.py [--days 30] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from _doc import DOC, write_section  # benchmarks/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"


def stats(base_url: str, ca: str, token: str) -> dict:
    context = ssl.create_default_context(cafile=ca)
    request = urllib.request.Request(
        base_url + "/_emulator/stats", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return json.loads(response.read())


def backfill(env: dict[str, str], days: int) -> dict[str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [EXE, "collect", "--once", "--backfill-days", str(days)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"collect failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return {"seconds": time.monotonic() - started, "rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30, help="the larger window (days)")
    parser.add_argument("--out", default=str(DOC))
    args = parser.parse_args()
    end = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    workdir = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    serve_log = workdir / "serve.out"
    with serve_log.open("w") as out:
        server = subprocess.Popen(
            [EXE, "emulator", "serve", "--days", str(args.days + 1), "--end", end],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while not serve_log.read_text().strip():
            if server.poll() is not None:
                raise SystemExit(serve_log.read_text())
            time.sleep(0.2)
        ready = json.loads(serve_log.read_text().splitlines()[0])
        token = ready["env"]["FOUNDRY_MONITOR_STATIC_TOKEN"]
        results = []
        for days in (args.days // 2, args.days):
            db = workdir / f"bench-{days}.db"
            env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
            env.update(ready["env"])
            env["FOUNDRY_MONITOR_DATABASE_URL"] = f"sqlite:///{db}"
            env["FOUNDRY_MONITOR_RETENTION_DAYS"] = str(args.days + 1)
            before = stats(ready["base_url"], ready["ca_cert"], token)["requests"]
            print(f"backfilling {days} days ...", flush=True)
            measured = backfill(env, days)
            after = stats(ready["base_url"], ready["ca_cert"], token)["requests"]
            calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            results.append(
                {"days": days, **measured, "calls": calls, "db_mb": db.stat().st_size / 2**20}
            )
            print(results[-1], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    write(Path(args.out), results)


def write(path: Path, results: list[dict]) -> None:
    small, large = results
    growth = large["rss_mb"] / small["rss_mb"] - 1
    lines = [
        "## Collector backfill (`benchmarks/collector_bench.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; SQLite store; the emulator's "
        "default workload served by `foundry-monitor emulator serve` in another process.",
        "",
        "| window | wall time | peak RSS of `collect --once` | Azure calls (metrics / logs / costs / arm) | SQLite file |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        c = r["calls"]
        lines.append(
            f"| {r['days']} days | {r['seconds']:.0f} s | {r['rss_mb']:.0f} MB | "
            f"{c.get('metrics', 0)} / {c.get('logs', 0)} / {c.get('costs', 0)} / {c.get('arm', 0)} | {r['db_mb']:.0f} MB |"
        )
    verdict = "met" if large["rss_mb"] < 300 and abs(growth) <= 0.20 else "missed"
    lines += [
        "",
        f"Target: peak RSS < 300 MB for 30 days and flat (within 20 %) when the window doubles: "
        f"**{verdict}** ({large['rss_mb']:.0f} MB; {growth:+.0%} from {small['days']} to {large['days']} days). "
        "Memory stays flat because the runner reads and commits one chunk at a time.",
    ]
    write_section("collector-bench", "\n".join(lines), path)


if __name__ == "__main__":
    main()
