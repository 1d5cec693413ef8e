"""What a wide layout of the per-minute tables would weigh, measured on the same data (issue 19:
"a compact layout ... chosen by measurement").

In the store ``bytes_bench`` has just built, three throw-away tables are filled from the stored
rows, then measured with everything else:

- ``_proj_wide_minute``: one row per deployment and minute, every series of ``metric_minute`` a
  column (``ModelRequests`` of status 200 and 429, each aggregation a metric has), the time as
  the minute's number on SQLite (an integer) and ``timestamptz`` on Postgres;
- ``_proj_wide_status``: ``ModelRequests`` of the other status codes, one row per deployment,
  minute and code (few: failures are rare);
- ``_proj_packed_hist``: one row per deployment, minute and status class, the histogram's
  buckets and counts packed in one text column (``"bucket:count,..."``; a binary packing would
  be smaller still).

SQLite tables are ``WITHOUT ROWID`` on their key, Postgres tables have their primary key and no
other index: what the issue proposes. The rollups are not rebuilt here.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

PREFIX = "_proj_"
#: What each projected table replaces.
REPLACES = {
    "metric_minute": ("_proj_wide_minute", "_proj_wide_status"),
    "latency_hist": ("_proj_packed_hist",),
}
#: The rollups of each replaced table (they would follow its layout).
ROLLUPS = {
    "metric_minute": ("metric_15m", "metric_hour", "metric_day"),
    "latency_hist": ("latency_hist_15m", "latency_hist_hour", "latency_hist_day"),
}
_REQUESTS = 1  # collector.store.types.METRIC_CODES["ModelRequests"]
_WIDE_STATUSES = (200, 429)
_AGGREGATIONS = ("total", "count", "minimum", "maximum", "average")


def _columns(conn: Connection) -> list[tuple[int, int, str]]:
    """(metric code, status code, aggregation) of every series stored with a value."""
    counts = ", ".join(f'count("{a}")' for a in _AGGREGATIONS)
    found = []
    for metric, status, *present in conn.exec_driver_sql(
        f"SELECT metric, status_code, {counts} FROM metric_minute GROUP BY metric, status_code "
        "ORDER BY metric, status_code"
    ):
        if metric == _REQUESTS and status not in _WIDE_STATUSES:
            continue  # into _proj_wide_status
        found += [(metric, status, a) for a, n in zip(_AGGREGATIONS, present, strict=True) if n]
    return found


def build(engine: Engine) -> None:
    """Create and fill the projected tables in ``engine``'s store."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        series = _columns(conn)
        names = [f"m{m}_s{s}_{a}" for m, s, a in series]
        minute = "CAST(ts AS INTEGER) / 60" if sqlite else "ts"
        ts_type = "INTEGER" if sqlite else "timestamptz"
        tail = " WITHOUT ROWID" if sqlite else ""
        conn.exec_driver_sql(
            f"CREATE TABLE {PREFIX}wide_minute (ts {ts_type} NOT NULL, "
            "deployment_id INTEGER NOT NULL, "
            + "".join(f"{n} {'REAL' if sqlite else 'double precision'}, " for n in names)
            + f"PRIMARY KEY (deployment_id, ts)){tail}"
        )
        picks = ", ".join(
            f'max(CASE WHEN metric = {m} AND status_code = {s} THEN "{a}" END)'
            for m, s, a in series
        )
        conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}wide_minute (ts, deployment_id, {', '.join(names)}) "
            f"SELECT {minute}, deployment_id, {picks} FROM metric_minute "
            f"GROUP BY {minute}, deployment_id"
        )
        conn.exec_driver_sql(
            f"CREATE TABLE {PREFIX}wide_status (ts {ts_type} NOT NULL, "
            "deployment_id INTEGER NOT NULL, status_code SMALLINT NOT NULL, "
            f"requests {'REAL' if sqlite else 'double precision'}, "
            f"PRIMARY KEY (deployment_id, ts, status_code)){tail}"
        )
        wide = ", ".join(map(str, _WIDE_STATUSES))
        conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}wide_status SELECT {minute}, deployment_id, status_code, total "
            f"FROM metric_minute WHERE metric = {_REQUESTS} AND status_code NOT IN ({wide})"
        )
        packed = (
            "group_concat(bucket || ':' || \"count\", ',')"
            if sqlite
            else "string_agg(bucket || ':' || \"count\", ',' ORDER BY bucket)"
        )
        conn.exec_driver_sql(
            f"CREATE TABLE {PREFIX}packed_hist (ts {ts_type} NOT NULL, "
            "deployment_id INTEGER NOT NULL, status_class SMALLINT NOT NULL, buckets TEXT, "
            f"PRIMARY KEY (deployment_id, ts, status_class)){tail}"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}packed_hist SELECT {minute}, deployment_id, status_class, "
            f"{packed} FROM latency_hist GROUP BY {minute}, deployment_id, status_class"
        )


def _size(sizes: dict[str, dict[str, int]], names: tuple[str, ...] | list[str]) -> int:
    return sum(sum(sizes.get(name, {}).values()) for name in names)


def figures(sizes: dict[str, dict[str, int]], before_total: int) -> dict[str, float]:
    """Shares of before: the store as measured ("now"), with the two tables replaced
    ("projected"), with the rollups shrunk by their minute table's ratio too (an estimate,
    "estimated"), and every table but the metric and histogram families ("floor")."""
    real = {k: v for k, v in sizes.items() if " (" not in k and not k.startswith(PREFIX)}
    now = _size(real, list(real))
    projected = scaled = float(now)
    for table, into in REPLACES.items():
        old, new = _size(real, [table]), _size(sizes, into)
        projected += new - old
        scaled += new - old - _size(real, ROLLUPS[table]) * (1 - new / max(old, 1))
    families = ("metric_", "latency_hist", "latency_pct_")
    floor = _size(real, [k for k in real if not k.startswith(families)])
    base = max(before_total, 1)
    return {
        "now": now / base,
        "projected": projected / base,
        "estimated": scaled / base,
        "floor": floor / base,
    }


def render(sizes: dict[str, dict[str, int]], before_total: int, per_day: float) -> list[str]:
    """The projection's lines: each replaced table beside what would replace it, and the store."""
    lines = [
        "| table now | KiB now | would be | KiB | ratio |",
        "|---|---:|---|---:|---:|",
    ]
    for table, into in REPLACES.items():
        old, new = _size(sizes, [table]), _size(sizes, into)
        lines.append(
            f"| `{table}` | {old / per_day / 1024:,.1f} | "
            + " + ".join(f"`{name.removeprefix(PREFIX)}`" for name in into)
            + f" | {new / per_day / 1024:,.1f} | {new / max(old, 1):.2f} |"
        )
    f = figures(sizes, before_total)
    return [
        *lines,
        "",
        f"- The whole store with these two tables replaced (rollups as they are): "
        f"{f['projected']:.2f} of before; with the rollups made wide too, estimated by shrinking "
        f"each by its minute table's ratio: {f['estimated']:.2f}.",
        "- Every table but the per-minute metric and histogram tables and their rollups "
        f"(`request_log` and its id index, `pool_minute`, inventory, costs, ...): "
        f"{f['floor']:.2f} of before, a floor no layout of the metric tables goes under.",
    ]
