"""Migration 0012 (issue 19: metric names and status classes as codes, SQLite ``WITHOUT ROWID``
tables, no second indexes) on a store filled by the seeded workload builder, on both databases:
every row of the per-minute tables and their rollups is carried down to 0010's layout and back,
and every figure ``summary --json``, ``lookup --json``, the dashboard's queries and the reports
show is the same before the downgrade and after the upgrade."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, inspect, select

from collector.cli.read import register
from collector.config import load_settings
from collector.reports import build_report, period_before
from collector.store import migrate, queries
from collector.store.queries import headroom
from collector.store.schema import TABLES
from collector.store.types import to_utc
from tests import workload_store
from tests.cli_run import CliRun

END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)  # a Thursday noon: peak hours, 429 bursts
DAYS = 1.25  # a whole UTC day (daily rollups) and ragged ends
#: The tables 0012 re-encodes or rebuilds.
CHANGED = (
    "metric_minute", "metric_15m", "metric_hour", "metric_day",
    "latency_hist", "latency_hist_15m", "latency_hist_hour", "latency_hist_day",
    "latency_pct_15m", "latency_pct_hour", "latency_pct_day", "throttle_hour", "pool_minute",
    "pool_hour",
)  # fmt: skip


class Run(CliRun):
    register = staticmethod(register)


@pytest.fixture
def built(db_url: str) -> Iterator[workload_store.WorkloadStore]:
    store = workload_store.build(db_url, seed=2, days=DAYS, end=END, deployments=4)
    try:
        yield store
    finally:
        store.engine.dispose()


def _plain(value: Any) -> Any:
    """A comparable form: dataclasses as dicts, floats to 9 significant digits (Postgres may add
    a rewritten table's rows in another order), times in UTC."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.9g}")
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, Decimal | date | str | int | bool) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy arrays of the headroom figures
        return _plain(value.tolist())
    if hasattr(value, "__dict__"):
        return _plain(vars(value))
    return value


def _figures(engine: Engine, run: Run, failed_ids: list[str]) -> dict[str, Any]:
    """Everything the readers show over the store's window and a ragged part of it."""
    start, end = END - timedelta(days=DAYS), END
    ragged = (start + timedelta(minutes=37), end - timedelta(minutes=23))
    figures: dict[str, Any] = {}
    for name, (lo, hi) in {"whole": (start, end), "ragged": ragged}.items():
        figures[f"summary {name}"] = queries.summary(engine, lo, hi)
        for step in ("1m", "15m", "1h", "1d"):
            figures[f"timeseries {name} {step}"] = queries.timeseries(engine, lo, hi, step=step)
        for step in ("5m", "15m", "1h", "1d"):
            figures[f"latency {name} {step}"] = queries.latency_percentiles_over_time(
                engine, lo, hi, step=step
            )
            figures[f"latency all {name} {step}"] = queries.latency_percentiles_over_time(
                engine, lo, hi, step=step, per_deployment=False
            )
        figures[f"codes {name}"] = queries.status_code_totals(engine, lo, hi)
        figures[f"codes over time {name}"] = queries.status_codes_over_time(
            engine, lo, hi, step="1h"
        )
        figures[f"throttle causes {name}"] = queries.throttle_causes(engine, lo, hi)
        figures[f"pool throttling {name}"] = queries.pool_throttling(engine, lo, hi, step="1h")
        figures[f"headroom {name}"] = headroom.pool_headroom(engine, lo, hi)
        figures[f"utilization {name}"] = headroom.pool_utilization_series(engine, lo, hi, "1h")
        figures[f"unlogged {name}"] = queries.deployments_without_logs(engine, lo, hi)
        figures[f"token hours {name}"] = queries.token_hours(engine, lo, hi)
        figures[f"spend {name}"] = queries.spend_days(engine, lo, hi)
    figures["log lag"] = queries.log_lag(engine, END + timedelta(minutes=30))
    figures["newest"] = queries.newest_minutes(engine)
    figures["latency minutes"] = queries.latency_minutes(engine, END - timedelta(hours=2), END)
    figures["lookups"] = [queries.lookup(engine, ident) for ident in failed_ids]
    config = load_settings(database_url=engine.url.render_as_string(hide_password=False)).reports
    figures["report"] = build_report(engine, period_before("day", END.date()), config).lines
    iso = "%Y-%m-%dT%H:%M"
    code, out, err = run(
        "summary", "--since", f"{start:{iso}}", "--until", f"{end:{iso}}", "--json"
    )
    assert (code, err) == (0, "")
    figures["summary --json"] = json.loads(out)
    for ident in failed_ids:
        code, out, err = run("lookup", ident, "--json")
        assert (code, err) == (0, ""), ident
        figures[f"lookup --json {ident}"] = json.loads(out)
    return _plain(figures)


def _failed_ids(engine: Engine) -> list[str]:
    """The apim-request-ids of three failed requests, the first in time."""
    log = TABLES["request_log"]
    with engine.connect() as conn:
        found = list(
            conn.execute(
                select(log.c.correlation_id)
                .where(log.c.status_code >= 400)
                .order_by(log.c.ts, log.c.correlation_id)
                .limit(3)
            ).scalars()
        )
    assert found
    return found


def _rows(engine: Engine, *, reflected: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the changed tables with names and classes as text: through today's models
    (which decode the codes) or through the tables as stored (0010's layout)."""
    out = {}
    with engine.connect() as conn:
        for name in CHANGED:
            table = Table(name, MetaData(), autoload_with=conn) if reflected else TABLES[name]
            columns = sorted(table.c.keys())
            out[name] = sorted(
                (
                    tuple(_plain(to_utc(v) if isinstance(v, datetime) else v) for v in row)
                    for row in conn.execute(select(*(table.c[c] for c in columns)))
                ),
                key=repr,
            )
    return out


@dataclasses.dataclass
class Shown:
    """A built store with what the readers show of it before a migration is taken down."""

    engine: Engine
    run: Run
    failed_ids: list[str]
    figures: dict[str, Any]

    def unchanged(self) -> bool:
        return _figures(self.engine, self.run, self.failed_ids) == self.figures


@pytest.fixture
def shown(
    built: workload_store.WorkloadStore,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Shown:
    run = Run(monkeypatch, capsys, db_url)
    failed_ids = _failed_ids(built.engine)
    figures = _figures(built.engine, run, failed_ids)
    assert figures["summary whole"] and figures["throttle causes whole"]
    return Shown(built.engine, run, failed_ids, figures)


def test_migration_0012_keeps_every_row_and_figure_down_to_0010_and_back(shown: Shown) -> None:
    engine = shown.engine
    rows = _rows(engine, reflected=False)
    assert all(rows[name] for name in CHANGED)

    migrate.downgrade(engine, "0010")
    assert migrate.current(engine) == "0010"
    indexes = {i["name"] for i in inspect(engine).get_indexes("metric_minute")}
    assert "ix_metric_minute_deployment_ts" in indexes
    assert _rows(engine, reflected=True) == rows  # names and classes back as text, every row

    migrate.upgrade(engine)
    assert "ix_metric_minute_deployment_ts" not in {
        i["name"] for i in inspect(engine).get_indexes("metric_minute")
    }
    assert _rows(engine, reflected=False) == rows
    assert shown.unchanged()


def _every_row(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, read through today's models (which read SQLite's times stored
    either way), as sorted text."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            name: sorted(repr(_plain(tuple(row))) for row in conn.execute(select(table)))
            for name, table in TABLES.items()
            if name in present
        }


def _sqlite_time_kinds(engine: Engine) -> set[str]:
    """SQLite's storage classes of every stored time (``DATETIME`` columns)."""
    kinds: set[str] = set()
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            for column in inspect(conn).get_columns(name):
                if str(column["type"]).upper() == "DATETIME":
                    kinds |= set(
                        conn.exec_driver_sql(
                            f'SELECT DISTINCT typeof("{column["name"]}") FROM "{name}"'
                        ).scalars()
                    )
    return kinds - {"null"}


def test_migration_0014_keeps_every_row_and_figure_down_to_0013_and_back(shown: Shown) -> None:
    engine = shown.engine
    rows = _every_row(engine)
    assert rows["request_log"] and rows["collection_run"] and rows["metric_hour"]
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:  # whole seconds as integers, times with microseconds (request logs) as floats
        assert _sqlite_time_kinds(engine) == {"integer", "real"}

    migrate.downgrade(engine, "0013")
    assert _every_row(engine) == rows
    if sqlite:
        assert _sqlite_time_kinds(engine) == {"text"}

    migrate.upgrade(engine)
    if sqlite:
        assert _sqlite_time_kinds(engine) == {"integer", "real"}
    assert _every_row(engine) == rows
    assert shown.unchanged()
