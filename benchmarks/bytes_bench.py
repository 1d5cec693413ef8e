"""Bytes per deployment-day of every table and index, on SQLite and Postgres (issue 19).

Builds the seeded workload store (``tests/workload_store.build``: the emulator's workload loaded
by the product's collector) at a small scale, then measures each table and index: SQLite's
``dbstat`` after ``VACUUM``, Postgres's ``pg_relation_size`` / ``pg_indexes_size`` summed over
partitions after ``VACUUM``. Bytes per deployment-day do not depend on the scale. Writes the
"bytes per deployment-day" section of docs/benchmarks.md, with the baseline given by
``--baseline`` (a JSON file an earlier run wrote with ``--save``) beside it.

    git checkout <before>; python -m benchmarks.bytes_bench --save before.json --no-doc
    git checkout <after>;  python -m benchmarks.bytes_bench --baseline before.json

Two runs of the same code differ by a few per cent on Postgres (see the section's note).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from benchmarks import bytes_projection
from benchmarks._doc import log, write_section
from collector.store import request_index
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


#: Row shape of the per-minute tables, for the section's explanation of what remains.
SHAPE_TABLES = ("metric_minute", "latency_hist", "pool_minute")


def row_shapes(engine: Engine) -> dict[str, tuple[int, int]]:
    """Rows and distinct minutes (with deployment, or pool) of each per-minute table."""
    keys = {
        "metric_minute": "ts, deployment_id",
        "latency_hist": "ts, deployment_id",
        "pool_minute": "ts, subscription_id, model, model_version, kind, zone",
    }
    with engine.connect() as conn:
        return {
            table: (
                int(conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar() or 0),
                int(
                    conn.exec_driver_sql(
                        f'SELECT count(*) FROM (SELECT DISTINCT {keys[table]} FROM "{table}") k'
                    ).scalar()
                    or 0
                ),
            )
            for table in SHAPE_TABLES
        }


def sqlite_sizes(engine: Engine) -> Sizes:
    """Bytes of each table and of its indexes (``dbstat`` pages after ``VACUUM``)."""
    sizes: Sizes = {}
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        owners: dict[str, str] = dict(
            conn.exec_driver_sql(
                "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
            ).all()
        )
        kinds: dict[str, str] = dict(
            conn.exec_driver_sql("SELECT name, type FROM sqlite_master").all()
        )
        for name, pgsize in conn.exec_driver_sql(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
        ):
            owner = owners.get(name, name)
            if owner.startswith(f"{request_index.TABLE}_p"):  # the week slices, as one table
                owner = request_index.TABLE
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
        bytes_projection.build(store.engine)
        sizes = sqlite_sizes(store.engine) if server is None else postgres_sizes(store.engine)
        for table, (rows, keys) in row_shapes(store.engine).items():
            sizes.setdefault(table, {"table": 0, "index": 0})
            sizes[f"{table} (rows, keys)"] = {"table": rows, "index": keys}
        store.engine.dispose()
        return sizes
    finally:
        if server is not None:
            server.stop()


def _stored(measured: Sizes) -> Sizes:
    """The store's own tables: not the row shapes, not the projection's throw-away tables."""
    return {
        k: v
        for k, v in measured.items()
        if "(rows, keys)" not in k and not k.startswith(bytes_projection.PREFIX)
    }


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
        "4 KiB per deployment-day are summed in *other*. On Postgres a row the collector's refresh "
        "rewrites leaves dead space that a plain VACUUM does not return; since the refresh writes "
        "only the rows that changed (`rollup.replace_window`), `pool_minute` went from 1,078 to "
        "511 KiB and `metric_15m` from 281 to 112 KiB (the whole store 0.71 -> 0.55 of before).",
        "",
    ]
    for kind, measured in results.items():
        sizes = _stored(measured)
        shapes = {k.split(" ")[0]: v for k, v in measured.items() if "(rows, keys)" in k}
        before = _stored((baseline or {}).get(kind, {}))
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
            if max(sum(now.values()), sum(old.values())) / deployment_days < 4096:
                other_now += sum(now.values())
                other_before += sum(old.values())
                continue
            row = (
                f"| `{name}` | {_per_day(now.get('table', 0), deployment_days)} | "
                f"{_per_day(now.get('index', 0), deployment_days)} |"
            )
            if before:
                was = sum(old.values())
                ratio = f"{sum(now.values()) / was:.2f}" if was else "new"
                row += (
                    f" {_per_day(old.get('table', 0), deployment_days)} | "
                    f"{_per_day(old.get('index', 0), deployment_days)} | {ratio} |"
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
        if any(k.startswith(bytes_projection.PREFIX) for k in measured):
            lines += [
                f"#### {kind}: what a wide layout would weigh (measured on the same rows)",
                "",
                *bytes_projection.render(measured, total_before or total_now, deployment_days),
                "",
            ]
        for table, shape in shapes.items():
            rows, keys = shape["table"], shape["index"]
            size = sum(sizes.get(table, {}).values())
            if rows and keys:
                lines.append(
                    f"- `{table}`: {rows / keys:.1f} rows per minute and "
                    f"{'pool' if table == 'pool_minute' else 'deployment'}, "
                    f"{size / rows:.0f} bytes per row (table and indexes)."
                )
        lines.append("")
    if baseline:
        lines += verdict(results, baseline)
    return "\n".join(lines)


#: The issue's target: the whole store per deployment-day at most this share of before.
TARGET = 0.20

CAUSES = """\
Why the target is missed (measured above): the layout keeps one row per series and minute (the
metric name and status code, or the status class and bucket, in the key): `metric_minute`
holds 7.6 rows per deployment-minute and `latency_hist` 5.9 (one per non-empty bucket). On
SQLite a row's time takes 4 bytes since migration 0014 (seconds since the epoch; the text it
replaced took 26), which took the whole store from 0.38 to 0.23 of before; what each row still
costs beyond its values is SQLite's record header and b-tree cell. On Postgres each row carries
a 24-byte tuple header and a 4-byte line pointer, and its key once more in the primary-key
index. What a wide layout would weigh is measured on the same rows (the sections "what a wide
layout would weigh" and the figures after each verdict above): one row per deployment and
minute with every series as a column, the other status codes in a sparse side table, and the
histogram's buckets packed in one column per deployment, minute and class. It would meet the
target on SQLite and not on Postgres, where the rest of the store alone is most of a fifth:
`request_log` with its id index, and `pool_minute`, which keeps its pool's five text key
columns in the table, in its key's index and in its covering index."""


def verdict(results: dict[str, Sizes], baseline: dict[str, Sizes]) -> list[str]:
    """The target's line per database and, when missed, its cause."""
    lines = ["### Target: the whole store at most a fifth of before, per deployment-day", ""]
    missed = False
    for kind, sizes in results.items():
        now = sum(sum(v.values()) for v in _stored(sizes).values())
        old = sum(sum(v.values()) for v in _stored(baseline.get(kind, {})).values())
        ratio = now / max(old, 1)
        missed |= ratio > TARGET
        line = f"- {kind}: {ratio:.2f} of before: {'met' if ratio <= TARGET else '**missed**'}"
        if ratio > TARGET and any(k.startswith(bytes_projection.PREFIX) for k in sizes):
            f = bytes_projection.figures(sizes, old)
            line += (
                f"; a wide layout, measured on the same rows: {f['projected']:.2f} "
                f"(rollups as now), about {f['estimated']:.2f} with wide rollups; every other "
                f"table alone: {f['floor']:.2f}"
            )
        lines.append(line)
    lines.append("")
    if missed:
        lines += [CAUSES, ""]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--save", type=Path, help="write the sizes measured as JSON here")
    parser.add_argument("--baseline", type=Path, help="sizes of an earlier run (JSON)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--results", type=Path, help="render the sizes a --save run wrote instead of measuring"
    )
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Sizes] = {}
    if args.results:
        results = json.loads(args.results.read_text())
    else:
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
