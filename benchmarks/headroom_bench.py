"""Headroom benchmark: the Capacity page and its reads over 30 days x 100 deployments.

Run from the repository root (on demand; it is not a test)::

    python benchmarks/headroom_bench.py [--db sqlite,postgres] [--deployments 100] [--days 30]
        [--ab REF]

On each database (SQLite in a temporary file; PostgreSQL 15 started by ``tests/pg.py``) it
writes the inventory the dashboard benchmark uses (10 resources in 2 subscriptions, 3 regions,
four Claude models; every fifth deployment Data Zone Standard, the rest Global Standard) and,
for ``--days`` days, the ``pool_minute`` rows the rollups would write for it: one row per quota
pool and minute with accepted requests, 429s, ITPM and OTPM (a diurnal demand with noise and
bursts; what a minute asks beyond the pool's limits is answered 429, as Foundry does, so the
accepted usage never exceeds them). The Capacity page over 30 days reads only these (and the
inventory), so the raw minutes are left out to keep the build short; ``dashboard_bench.py`` times the page over a
store with every raw table too. Then it times ``pool_headroom`` (without per-deployment
minutes, as the page asks for beyond a week) and ``pool_utilization_series`` (cold, then the
median of 5 warm calls) and the page itself in ``AppTest`` (``?range=30d``, no cached figure,
median of 3), each against its 24-hour baseline, and rewrites the ``headroom-bench`` section
of ``docs/benchmarks.md``. With ``--ab REF`` it also times ``pool_headroom`` as of the git revision ``REF`` against
this checkout's on the same store (interleaved, median of 5, statements counted, answers checked
equal).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._doc import machine, write_section  # noqa: E402
from benchmarks.dashboard_bench import (  # noqa: E402
    MODELS,
    REGIONS,
    RESOURCES,
    SUBSCRIPTIONS,
    default_settings,
    log,
    render_page,
    resource_id,
    resource_name,
    settle,
)
from collector.pools import pool_key  # noqa: E402
from collector.quota_limits import QuotaSettings, pool_limits  # noqa: E402
from collector.store import migrate, rollup  # noqa: E402
from collector.store.queries.headroom import (  # noqa: E402
    pool_headroom,
    pool_utilization_series,
)
from collector.store.writer import upsert  # noqa: E402
from dashboard import common  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

SECTION = "headroom-bench"
WARM_RUNS, PAGE_RUNS = 5, 3
BATCH = 50_000


def build(url: str, deployments: int, days: int, end: datetime) -> tuple[int, int]:
    """Inventory, ``pool_minute`` rows and their ``pool_hour`` rollup; returns (pools, rows)."""
    engine = migrate.prepare(url)
    rng = np.random.default_rng(17)
    resources = [
        {"id": resource_id(r), "subscription_id": SUBSCRIPTIONS[r % len(SUBSCRIPTIONS)], "resource_group": "rg",
         "name": resource_name(r), "kind": "AIServices", "location": REGIONS[r % len(REGIONS)],
         "first_seen": end - timedelta(days=days), "last_seen": end}
        for r in range(RESOURCES)
    ]  # fmt: skip
    deps, pools = [], set()
    for i in range(deployments):
        r, model = i % RESOURCES, MODELS[i % len(MODELS)][0]
        sku = "DataZoneStandard" if i % 5 == 0 else "GlobalStandard"
        deps.append(
            {"resource_id": resource_id(r), "name": f"{model}-{i:03d}", "model": model,
             "model_version": "1", "model_format": "Anthropic", "sku": sku, "capacity": 100,
             "first_seen": end - timedelta(days=days), "last_seen": end}
        )  # fmt: skip
        pools.add(
            pool_key(
                SUBSCRIPTIONS[r % len(SUBSCRIPTIONS)], model, "1", sku, resources[r]["location"]
            )
        )
    with engine.begin() as conn:
        upsert(conn, "resource", resources)
        upsert(conn, "deployment", deps)
    minutes = days * 1440
    start = end - timedelta(minutes=minutes)
    hour = (np.arange(minutes) // 60 + start.hour) % 24
    curve = 0.35 + 2.2 * np.exp(-(((hour - 14.5) / 4.0) ** 2))
    rows = 0
    for key in sorted(pools):
        demand = curve * rng.uniform(10, 60) * rng.lognormal(0, 0.2, minutes)
        demand *= np.where(rng.random(minutes) < 0.03, 2.5, 1.0)
        # Foundry answers 429 to what a minute asks beyond any of the pool's limits, so the
        # accepted requests and tokens (what pool_minute holds) never exceed them
        limits = pool_limits(key)
        cap = min(
            limits.rpm or np.inf, (limits.itpm or np.inf) / 1800, (limits.otpm or np.inf) / 400
        )
        rpm = np.minimum(demand, cap)
        s429 = np.round(demand - rpm)
        batch = []
        for m in np.flatnonzero(rpm >= 0.5):
            batch.append(
                {"ts": start + timedelta(minutes=int(m)), **key._asdict(),
                 "requests": float(round(rpm[m])), "status_429": float(s429[m]),
                 "itpm": float(round(rpm[m] * 1800)), "otpm": float(round(rpm[m] * 400))}
            )  # fmt: skip
            if len(batch) >= BATCH:
                with engine.begin() as conn:
                    rows += upsert(conn, "pool_minute", batch)
                batch = []
        if batch:
            with engine.begin() as conn:
                rows += upsert(conn, "pool_minute", batch)
    with engine.begin() as conn:  # what the store's write path does after the minutes
        rollup.refresh_pool_hours(conn, rollup.floor_time(start, rollup.HOUR), end + rollup.HOUR)
    # as the dashboard benchmark: without it, Postgres's autovacuum vacuums and analyzes the
    # fresh tables in the middle of the timings
    settle(engine)
    engine.dispose()
    return len(pools), rows


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """(cold seconds, median warm seconds)."""
    started = time.perf_counter()
    action()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm)


Headroom = Callable[..., list[Any]]


def reference(ref: str) -> tuple[str, Headroom]:
    """``pool_headroom`` as of the git revision ``ref``, and the revision's short hash: the
    revision's ``collector/store/queries`` package loaded beside this checkout's under another
    name (the rest of the code is this checkout's, so only the reads differ)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        ).stdout

    folder = Path(tempfile.mkdtemp(prefix="headroom-ref-"))
    atexit.register(shutil.rmtree, folder, True)
    package = folder / "_ref_queries"
    package.mkdir()
    for path in git("ls-tree", "--name-only", ref, "collector/store/queries/").split():
        if path.endswith(".py"):
            text = git("show", f"{ref}:{path}").replace("collector.store.queries", "_ref_queries")
            (package / Path(path).name).write_text(text)
    sys.path.insert(0, str(folder))
    module = importlib.import_module("_ref_queries.headroom")
    return git("rev-parse", "--short", ref).strip(), module.pool_headroom


def a_b(engine: Any, call: Headroom, ref: Headroom, since: datetime, until: datetime) -> ABRow:
    """The reference's and this checkout's ``pool_headroom`` on the same store and window,
    interleaved, median of ``WARM_RUNS`` warm calls each, with their statement counts; fails
    unless the answers are equal."""
    count = [0]

    def counted(*_: object) -> None:
        count[0] += 1

    quota = QuotaSettings()
    answers: list[list[Any]] = []
    statements: list[int] = []
    seconds: list[list[float]] = []
    for headroom in (ref, call):
        event.listen(engine, "before_cursor_execute", counted)
        count[0] = 0
        answers.append(headroom(engine, since, until, quota, deployments=False))
        event.remove(engine, "before_cursor_execute", counted)
        statements.append(count[0])
        seconds.append([])
    if answers[0] != answers[1]:
        raise SystemExit("pool_headroom answers differ from the reference's")
    for _ in range(WARM_RUNS):
        for i, headroom in enumerate((ref, call)):
            started = time.perf_counter()
            headroom(engine, since, until, quota, deployments=False)
            seconds[i].append(time.perf_counter() - started)
    old, new = (statistics.median(x) for x in seconds)
    return old, new, statements[0], statements[1]


#: (reference's median seconds, this checkout's, reference's statements, this checkout's)
ABRow = tuple[float, float, int, int]


def run(
    kind: str, deployments: int, days: int, ref: Headroom | None = None
) -> tuple[list[tuple[str, str, float, float, float]], ABRow | None]:
    """Rows (database, what, seconds over 30 days (cold), warm, 24-hour baseline), and the A/B
    against ``ref`` over the same 30 days (None without ``ref``)."""
    folder = Path(tempfile.mkdtemp(prefix="headroom-bench-"))
    server = None
    try:
        if kind == "postgres":
            server = PostgresServer.start()
            url = server.create_database("headroom_bench")
        else:
            url = f"sqlite:///{folder / 'headroom.db'}"
        now = datetime.now(UTC)
        end = common.floor_minute(now) + timedelta(minutes=1)
        started = time.perf_counter()
        pools, rows = build(url, deployments, days, end)
        log(
            f"[{kind}] {pools} pools, {rows:,} pool_minute rows in {time.perf_counter() - started:.0f} s"
        )
        engine = migrate.prepare(url)
        quota = QuotaSettings()
        out = []
        for name, call in (
            ("pool_headroom", lambda s, u: pool_headroom(engine, s, u, quota, deployments=False)),
            (
                "pool_utilization_series",
                lambda s, u: pool_utilization_series(engine, s, u, common.step_for(u - s), quota),
            ),
        ):
            long = timed(lambda c=call: c(end - timedelta(days=days), end), WARM_RUNS)
            short = timed(lambda c=call: c(end - timedelta(hours=24), end), WARM_RUNS)
            out.append((kind, name, long[0], long[1], short[1]))
        compared = None
        if ref is not None:
            call = cast(Headroom, pool_headroom)
            compared = a_b(engine, call, ref, end - timedelta(days=days), end)
        engine.dispose()
        os.environ["FOUNDRY_MONITOR_DATABASE_URL"] = url
        render_page("views/capacity.py", "1h", "")  # imports and the engine: not counted
        page, base = [], []
        for range_key, into in (("30d", page), ("24h", base)):
            for _ in range(PAGE_RUNS):
                seconds, problems, title = render_page("views/capacity.py", range_key, "")
                if problems or title != "Capacity":
                    raise SystemExit(f"the Capacity page failed: {title!r} {problems}")
                into.append(seconds)
        out.append((kind, "Capacity page (AppTest)", page[0], statistics.median(page),
                    statistics.median(base)))  # fmt: skip
        return out, compared
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def render(
    rows: list[tuple[str, str, float, float, float]],
    command: str,
    days: int,
    compared: Mapping[str, ABRow] | None = None,
    ref: str = "",
) -> str:
    lines = [
        "## Capacity page (headroom per quota pool)",
        "",
        f"`{command}`: the inventory of 100 deployments and {days} days of `pool_minute` (one row "
        "per quota pool and minute, what the page reads beyond a week); each read cold, then "
        "warm (median of 5), against its 24-hour baseline; the page in AppTest with no cached "
        "figure (first run, then the median of 3). Target: the page under a second.",
        "",
        f"| database | read | {days} days, cold | {days} days, warm (median) | 24 hours, warm "
        "| ratio |",
        "|---|---|---|---|---|---|",
    ]
    for kind, name, cold, warm, base in rows:
        ratio = f"{warm / base:.1f}x" if base else "-"
        lines.append(f"| {kind} | {name} | {cold:.3f} s | {warm:.3f} s | {base:.3f} s | {ratio} |")
    lines += [
        "",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f} on 2 cores: under load the "
        "absolute times grow, ratios less so. The store is settled before the timings as in "
        "`dashboard_bench.py` (SQLite: WAL checkpoint; Postgres: `VACUUM (ANALYZE)`, the state "
        "autovacuum reaches on its own a minute after a fill, and which it would otherwise "
        "reach in the middle of the timings). The 30-day `pool_headroom` reads the counts, 429s "
        "and daily peaks from `pool_hour` (one row per pool and hour, one read for every pool) "
        "and the minutes of the ragged ends (one read per end); the hour maxima bound the reads "
        "of the minutes: the peak reads the minutes at the hours' largest maximum, no more "
        "than the p99's rank `t` (when it finds `t`, a pool held at its limit, "
        "the p99 is that value too); else the p99 reads only the minutes >= a bound from the "
        "hours whose largest minute reaches it (the `t`-th largest hour maximum holds at least "
        "`t` minutes, a tighter guess first); the minutes at or above 80 % / 100 % of a limit "
        "only the runs of hours whose largest minute reaches 80 % of a limit. On Postgres each "
        "of these is one statement for every pool (keys and bounds `unnest`-ed from arrays "
        "into `LATERAL` range scans); on SQLite a pool at a time. The series with steps of an "
        "hour or more reads `pool_hour`.",
    ]
    if compared:
        lines += [
            "",
            f"A/B: `pool_headroom` as of `{ref}` (its `collector/store/queries` loaded beside "
            f"this checkout's) and this checkout's, on the same store over the same {days} "
            "days, interleaved, median of 5 warm calls each; the answers are equal (checked).",
            "",
            f"| database | `{ref}` | this checkout | ratio | statements (`{ref}` -> this) |",
            "|---|---|---|---|---|",
        ]
        for kind, (old, new, n_old, n_new) in compared.items():
            lines.append(
                f"| {kind} | {old:.3f} s | {new:.3f} s | {old / new:.1f}x | {n_old} -> {n_new} |"
            )
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--ab", metavar="REF", help="also time pool_headroom as of this git revision (A/B)"
    )
    args = parser.parse_args(argv)
    rows, compared = [], {}
    commit, ref = reference(args.ab) if args.ab else ("", None)
    with default_settings():
        for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
            got, ab = run(kind, args.deployments, args.days, ref)
            rows += got
            if ab is not None:
                compared[kind] = ab
    command = (
        f"python benchmarks/headroom_bench.py --db {args.db} --deployments {args.deployments} "
        f"--days {args.days}" + (f" --ab {args.ab}" if args.ab else "")
    )
    section = render(rows, command, args.days, compared, f"{args.ab} {commit}".strip())
    write_section(SECTION, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
