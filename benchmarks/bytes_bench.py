"""Bytes per deployment-day of every table and index, on SQLite and Postgres (issue 19).

Builds the seeded workload store (``tests/workload_store.build``: the emulator's workload loaded
by the product's collector) at a small scale, then measures each table and index: SQLite's
``dbstat`` after ``VACUUM``, Postgres's ``pg_relation_size`` / ``pg_indexes_size`` summed over
partitions after ``VACUUM``. Bytes per deployment-day do not depend on the scale. Writes the
"bytes per deployment-day" section of docs/benchmarks.md, with the baseline given by
``--baseline`` (a JSON file an earlier run wrote with ``--save``) beside it.

    python -m benchmarks.bytes_bench --deployments 10 --days 3 --save before.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from benchmarks._doc import log, write_section
from tests.pg import PostgresServer
from tests.workload_store import build

END = datetime(2026, 3, 4, tzinfo=UTC)
Sizes = dict[str, dict[str, int]]  # table -> {"table": bytes, "index": bytes}

_PG_SIZES = """
SELECT coalesce(parent.relname, c.relname) AS name,
       sum(pg_relation_size(c.oid)) AS heap,
       sum(pg_indexes_size(c.oid)) AS idx,
       sum(pg_total_relation_size(c.oid)) AS total
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class parent ON parent.oid = i.inhparent
WHERE c.relkind IN ('r', 'p')
GROUP BY 1
"""


def sqlite_sizes(engine: Engine) -> Sizes:
    """Bytes of each table and of its indexes (``dbstat`` pages after ``VACUUM``)."""
    sizes: Sizes = {}
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        owners = dict(
            conn.exec_driver_sql(
                "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
            ).all()
        )
        kinds = dict(conn.exec_driver_sql("SELECT name, type FROM sqlite_master").all())
        for name, pgsize in conn.exec_driver_sql(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
        ):
            owner = owners.get(name, name)
            part = "index" if kinds.get(name) == "index" else "table"
            sizes.setdefault(owner, {"table": 0, "index": 0})[part] += int(pgsize)
    return sizes


def postgres_sizes(engine: Engine) -> Sizes:
    """Bytes of each table (its partitions summed) and of its indexes, after ``VACUUM``."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(_PG_SIZES).all()
    sizes: Sizes = {}
    for name, _heap, idx, total in rows:
        # a table's TOAST counts as table; total - heap - idx is TOAST and the free-space maps
        sizes[str(name)] = {"table": int(total) - int(idx), "index": int(idx)}
    return sizes


def measure(kind: str, folder: Path, deployments: int, days: float) -> Sizes:
    server = PostgresServer.start() if kind == "postgres" else None
    try:
        if server is None:
            url = f"sqlite:///{folder / 'bytes.db'}"
        else:
            url = server.create_database("bytes")
        log(f"[{kind}] building {deployments} deployments x {days} days")
        store = build(url, days=days, end=END, deployments=deployments)
        sizes = sqlite_sizes(store.engine) if server is None else postgres_sizes(store.engine)
        store.engine.dispose()
        return sizes
    finally:
        if server is not None:
            server.stop()


def _per_day(value: int, deployment_days: float) -> str:
    return f"{value / deployment_days / 1024:,.1f}"


def render(
    results: dict[str, Sizes],
    baseline: dict[str, Sizes] | None,
    deployment_days: float,
    scale: str,
) -> str:
    lines = [
        "## Bytes per deployment-day",
        "",
        f"`benchmarks/bytes_bench.py`: the seeded workload store ({scale}) loaded by the "
        "collector, sizes after VACUUM (SQLite `dbstat`; Postgres `pg_relation_size` + TOAST "
        "and `pg_indexes_size`, partitions summed), in KiB per deployment-day. Tables under "
        "1 KiB per deployment-day on both databases are summed in *other*.",
        "",
    ]
    for kind, sizes in results.items():
        before = (baseline or {}).get(kind, {})
        names = sorted(
            set(sizes) | set(before),
            key=lambda n: -sum(sizes.get(n, before.get(n, {})).values()),
        )
        head = "| table | table KiB | index KiB |"
        rule = "|---|---:|---:|"
        if before:
            head += " before: table | before: index | after / before |"
            rule += "---:|---:|---:|"
        lines += [f"### {kind}", "", head, rule]
        other_now = other_before = 0
        for name in names:
            now, old = sizes.get(name, {}), before.get(name, {})
            if max(sum(now.values()), sum(old.values())) / deployment_days < 1024:
                other_now += sum(now.values())
                other_before += sum(old.values())
                continue
            row = (
                f"| `{name}` | {_per_day(now.get('table', 0), deployment_days)} | "
                f"{_per_day(now.get('index', 0), deployment_days)} |"
            )
            if before:
                ratio = sum(now.values()) / max(sum(old.values()), 1)
                row += (
                    f" {_per_day(old.get('table', 0), deployment_days)} | "
                    f"{_per_day(old.get('index', 0), deployment_days)} | {ratio:.2f} |"
                )
            lines.append(row)
        total_now = sum(sum(v.values()) for v in sizes.values())
        total_before = sum(sum(v.values()) for v in before.values())
        if before:
            lines.append(
                f"| other | {_per_day(other_now, deployment_days)} | | "
                f"{_per_day(other_before, deployment_days)} | | |"
            )
            lines.append(
                f"| **whole store** | **{_per_day(total_now, deployment_days)}** | | "
                f"**{_per_day(total_before, deployment_days)}** | | "
                f"**{total_now / max(total_before, 1):.2f}** |"
            )
        else:
            lines.append(f"| other | {_per_day(other_now, deployment_days)} | |")
            lines.append(f"| **whole store** | **{_per_day(total_now, deployment_days)}** | |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--save", type=Path, help="write the sizes measured as JSON here")
    parser.add_argument("--baseline", type=Path, help="sizes of an earlier run (JSON)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Sizes] = {}
    with tempfile.TemporaryDirectory(prefix="bytes-bench-") as tmp:
        for kind in kinds:
            results[kind] = measure(kind, Path(tmp), args.deployments, args.days)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1))
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    scale = f"{args.deployments} deployments x {args.days:g} days"
    body = render(results, baseline, args.deployments * args.days, scale)
    print(body)
    if not args.no_doc:
        write_section("bytes", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
