"""The store suite: runs on SQLite and on a real PostgreSQL server (the ``db_url`` fixture)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

from collector.errors import RowKeyMissing, StoreError
from collector.store import migrate, partitions, retention
from collector.store.engine import make_engine
from collector.store.partitions import include_object
from collector.store.schema import PARTITIONED, TABLES, Base
from collector.store.types import to_utc
from collector.store.writer import COPY_THRESHOLD, upsert

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _request_rows(
    n: int, start: datetime = T0, step: timedelta = timedelta(seconds=7)
) -> list[dict]:
    return [
        {
            "ts": start + i * step,
            "correlation_id": f"{i:08x}-0000-4000-8000-{i:012x}",
            "deployment_id": 1 + i % 3,
            "operation": "Messages_Create",
            "status_code": (200, 429, 500)[i % 3],
            "duration_ms": 100 + i,
            "caller_ip": "10.0.0.1",
        }
        for i in range(n)
    ]


def _all_rows(engine: Engine, table: str) -> list[tuple]:
    t = TABLES[table]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]


def _user_tables(engine: Engine) -> set[str]:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {n for n in names if not partitions.day_of_partition(n)}


def test_upgrade_creates_every_table(store: Engine) -> None:
    assert _user_tables(store) == set(TABLES)


def test_models_and_migrations_agree(store: Engine) -> None:
    with store.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_round_trips(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert(conn, "request_log", _request_rows(5))
    with pytest.raises(StoreError, match=r"would destroy rows .*\(request_log\).*--force"):
        migrate.downgrade(engine, "base")  # the rows are not rebuilt by any upgrade
    assert _user_tables(engine) == set(TABLES)
    migrate.downgrade(engine, "base", force=True)
    assert _user_tables(engine) == set()
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert _user_tables(engine) == set(TABLES)
    assert migrate.current(engine) is not None
    engine.dispose()


@pytest.mark.parametrize("size", [10, COPY_THRESHOLD + 5])
def test_writing_the_same_batch_twice_leaves_identical_rows(store: Engine, size: int) -> None:
    rows = _request_rows(size)
    with store.begin() as conn:
        assert upsert(conn, "request_log", rows) == size
    first = _all_rows(store, "request_log")
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    assert _all_rows(store, "request_log") == first
    assert len(first) == size


def test_upsert_updates_non_key_columns(store: Engine) -> None:
    rows = _request_rows(3)
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
        upsert(conn, "request_log", [{**rows[0], "status_code": 503, "duration_ms": 9}])
    with store.connect() as conn:
        t = TABLES["request_log"]
        got = conn.execute(
            select(t.c.status_code, t.c.duration_ms).where(
                t.c.correlation_id == rows[0]["correlation_id"]
            )
        ).one()
    assert tuple(got) == (503, 9)


def test_duplicates_inside_one_batch_keep_the_last(store: Engine) -> None:
    rows = _request_rows(2)
    with store.begin() as conn:
        upsert(conn, "request_log", [rows[0], rows[1], {**rows[0], "duration_ms": 1}])
    with store.connect() as conn:
        t = TABLES["request_log"]
        assert conn.execute(select(func.count()).select_from(t)).scalar() == 2
        assert (
            conn.execute(
                select(t.c.duration_ms).where(t.c.correlation_id == rows[0]["correlation_id"])
            ).scalar()
            == 1
        )


def test_timestamps_come_back_as_aware_utc(store: Engine) -> None:
    with store.begin() as conn:
        upsert(conn, "request_log", _request_rows(1))
    with store.connect() as conn:
        ts = conn.execute(select(TABLES["request_log"].c.ts)).scalar()
    assert ts == T0 and ts.tzinfo is not None


@pytest.mark.parametrize("size", [10, COPY_THRESHOLD + 5])
def test_timestamps_in_any_zone_are_found_by_the_same_instant(store: Engine, size: int) -> None:
    rows = _request_rows(size, start=T0 + timedelta(microseconds=123_456))
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), None]  # None: naive means UTC
    for i, row in enumerate(rows):
        zone = zones[i % len(zones)]
        row["ts"] = row["ts"].replace(tzinfo=None) if zone is None else row["ts"].astimezone(zone)
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    t = TABLES["request_log"]
    with store.connect() as conn:
        for row in rows[:3]:
            found = conn.execute(select(t.c.correlation_id).where(t.c.ts == row["ts"])).all()
            assert [r.correlation_id for r in found] == [row["correlation_id"]]
        assert conn.execute(select(func.min(t.c.ts))).scalar() == T0 + timedelta(
            microseconds=123_456
        )


def test_a_large_batch_overlapping_stored_rows_in_its_middle_updates_them(store: Engine) -> None:
    rows = _request_rows(3 * COPY_THRESHOLD)
    other = _request_rows(1, start=T0 - timedelta(days=1))
    with store.begin() as conn:
        upsert(conn, "request_log", rows[COPY_THRESHOLD : 2 * COPY_THRESHOLD])
    with store.begin() as conn:
        upsert(conn, "request_log", other)  # written before, in the same transaction
        upsert(conn, "request_log", [{**row, "duration_ms": 1} for row in rows])
    stored = _all_rows(store, "request_log")
    duration = TABLES["request_log"].c.keys().index("duration_ms")
    assert len(stored) == len(rows) + 1
    assert sorted(row[duration] for row in stored) == [1] * len(rows) + [other[0]["duration_ms"]]


def test_a_column_missing_from_a_later_row_of_a_bulk_batch_is_written_as_null(
    store: Engine,
) -> None:
    rows = _request_rows(COPY_THRESHOLD + 5)
    rows[-1] = {k: v for k, v in rows[-1].items() if k != "caller_ip"}
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    t = TABLES["request_log"]
    with store.connect() as conn:
        ips = dict(conn.execute(select(t.c.correlation_id, t.c.caller_ip)).all())
    assert ips[rows[-1]["correlation_id"]] is None
    assert ips[rows[0]["correlation_id"]] == "10.0.0.1"


def test_a_row_without_a_key_is_refused_before_anything_is_written(store: Engine) -> None:
    rows = _request_rows(4)
    rows[2] = {**rows[2], "correlation_id": None}
    with pytest.raises(RowKeyMissing, match="correlation_id"), store.begin() as conn:
        upsert(conn, "request_log", rows)
    assert _all_rows(store, "request_log") == []


@pytest.mark.parametrize("size", [10, COPY_THRESHOLD + 5])
def test_a_batch_failing_midway_leaves_nothing_half_written(store: Engine, size: int) -> None:
    good = _request_rows(size)
    bad = _request_rows(size, start=T0 + timedelta(days=1))
    bad[size // 2] = {**bad[size // 2], "status_code": None}  # NOT NULL violated in the middle
    with (
        pytest.raises(StoreError, match=r"writing \d+ rows to request_log failed"),
        store.begin() as conn,
    ):
        upsert(conn, "request_log", good)
        upsert(conn, "request_log", bad)
    assert _all_rows(store, "request_log") == []


def test_deployment_upserts_on_resource_and_name(store: Engine) -> None:
    now = T0
    base = {
        "resource_id": "/subscriptions/s/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/a",
        "name": "support-bot",
        "model": "claude-sonnet-4-5",
        "capacity": 10,
        "first_seen": now,
        "last_seen": now,
    }
    with store.begin() as conn:
        upsert(conn, "deployment", [base])
        upsert(conn, "deployment", [{**base, "capacity": 20}])
    rows = _all_rows(store, "deployment")
    assert len(rows) == 1
    assert rows[0][TABLES["deployment"].c.keys().index("capacity")] == 20


def test_a_row_omitting_defaulted_columns_gets_their_defaults_and_an_update_keeps_them(
    store: Engine,
) -> None:
    resource = "/subscriptions/s/resourcegroups/g/providers/microsoft.cognitiveservices/accounts/a"
    base = {"day": date(2026, 11, 1), "computed_at": T0, "status": "provisional"}
    with store.begin() as conn:
        upsert(
            conn,
            "resource",
            [
                {
                    "id": resource,
                    "subscription_id": "s",
                    "resource_group": "g",
                    "name": "a",
                    "kind": "AIServices",
                    "location": "eastus2",
                    "first_seen": T0,
                    "last_seen": T0,
                }
            ],
        )
        dep = upsert(conn, "deployment", [{"resource_id": resource, "name": "d"}])
        dep_id = conn.execute(select(TABLES["deployment"].c.id)).scalar()
        upsert(conn, "spend_daily", [{**base, "deployment_id": dep_id, "input_tokens": 5}])
        written = conn.execute(select(TABLES["spend_daily"])).mappings().one()
        assert (written["cache_read_tokens"], written["claude"], written["unpriced"]) == (
            0,
            True,
            False,
        )
        conn.execute(TABLES["spend_daily"].update().values(cache_read_tokens=7, claude=False))
        upsert(conn, "spend_daily", [{**base, "deployment_id": dep_id, "input_tokens": 6}])
        again = conn.execute(select(TABLES["spend_daily"])).mappings().one()
    assert dep == 1
    assert (again["input_tokens"], again["cache_read_tokens"], again["claude"]) == (6, 7, False)


def test_money_keeps_its_cents(store: Engine) -> None:
    row = {
        "day": date(2026, 11, 1),
        "scope": "/subscriptions/s",
        "resource_id": "r",
        "meter": "m",
        "publisher_type": "Marketplace",
        "charge_type": "Usage",
        "currency": "USD",
        "cost": Decimal("1234.567891"),
        "revision": 0,
        "fetched_at": T0,
        "changed_at": T0,
    }
    with store.begin() as conn:
        upsert(conn, "cost_daily", [row])
    with store.connect() as conn:
        assert conn.execute(select(TABLES["cost_daily"].c.cost)).scalar() == Decimal("1234.567891")


def _fill_raw_tables(store: Engine, days: int, now: datetime) -> None:
    start = now - timedelta(days=days)
    step = timedelta(minutes=37)
    count = int(timedelta(days=days) / step) + 1
    with store.begin() as conn:
        upsert(conn, "request_log", _request_rows(count, start=start, step=step))
        upsert(
            conn,
            "metric_minute",
            [
                {
                    "ts": start + i * step,
                    "deployment_id": 1,
                    "metric": "ModelRequests",
                    "status_code": 200,
                    "total": float(i),
                }
                for i in range(count)
            ],
        )
        upsert(
            conn,
            "latency_hist",
            [
                {
                    "ts": start + i * step,
                    "deployment_id": 1,
                    "status_class": "2xx",
                    "bucket": 40,
                    "count": 1,
                }
                for i in range(count)
            ],
        )
        upsert(
            conn,
            "cost_daily",
            [
                {
                    "day": (now - timedelta(days=d)).date(),
                    "scope": "s",
                    "resource_id": "r",
                    "meter": "m",
                    "publisher_type": "Marketplace",
                    "charge_type": "Usage",
                    "currency": "USD",
                    "cost": Decimal(1),
                    "revision": 0,
                    "fetched_at": now,
                    "changed_at": now,
                }
                for d in range(0, 420, 7)
            ],
        )


def test_prune_keeps_every_row_inside_the_window_and_nothing_outside(store: Engine) -> None:
    now = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    _fill_raw_tables(store, days=40, now=now)
    before = {name: _all_rows(store, name) for name in PARTITIONED}
    result = retention.prune(store, retention_days=30, rollup_days=400, now=now)
    cutoff = now - timedelta(days=30)
    assert result.cutoff == cutoff
    for name, column in PARTITIONED.items():
        index = TABLES[name].c.keys().index(column)
        kept = _all_rows(store, name)
        expected = [row for row in before[name] if row[index] >= cutoff]
        assert kept == expected, name
        assert 0 < len(kept) < len(before[name])
    with store.connect() as conn:
        days = conn.execute(select(TABLES["cost_daily"].c.day)).scalars().all()
    assert days and min(days) >= (now - timedelta(days=400)).date()


def test_prune_drops_whole_partitions_on_postgres(pg_store: Engine) -> None:
    store = pg_store
    now = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    _fill_raw_tables(store, days=40, now=now)
    with store.connect() as conn:
        old_days = sorted(partitions.existing(conn, "request_log"))
    assert old_days[0] <= (now - timedelta(days=40)).date()
    result = retention.prune(store, retention_days=30, now=now)
    with store.connect() as conn:
        remaining = sorted(partitions.existing(conn, "request_log"))
    cutoff_day = (now - timedelta(days=30)).date()
    assert remaining[0] == cutoff_day
    assert f"request_log_p{old_days[0]:%Y%m%d}" in result.dropped_partitions
    assert (
        len([p for p in result.dropped_partitions if p.startswith("request_log")])
        == (cutoff_day - old_days[0]).days
    )


def test_rows_of_different_shapes_in_one_batch_keep_every_column(store: Engine) -> None:
    rows = [
        {"ts": T0, "deployment_id": 1, "metric": "ModelRequests", "status_code": 200, "total": 5.0},
        {
            "ts": T0,
            "deployment_id": 1,
            "metric": "TimeToLastByte",
            "status_code": 0,
            "count": 5.0,
            "average": 812.5,
            "maximum": 2000.0,
        },
    ]
    with store.begin() as conn:
        upsert(conn, "metric_minute", rows)
    t = TABLES["metric_minute"]
    with store.connect() as conn:
        got = conn.execute(
            select(t.c.metric, t.c.total, t.c["count"], t.c.average).order_by(t.c.metric)
        ).all()
    assert [tuple(r) for r in got] == [
        ("ModelRequests", 5.0, None, None),
        ("TimeToLastByte", None, 5.0, 812.5),
    ]


def test_a_store_at_head_opens_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    """The dashboard and commands prepare the store on start: at head that must not wait for
    the write lock a collector's long write holds (SQLite)."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    migrate.prepare(url).dispose()
    writer = sqlite3.connect(tmp_path / "locked.db", timeout=0.1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a collector mid-write
        engine = migrate.prepare(url)
        assert migrate.current(engine) is not None
        engine.dispose()
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.parametrize("batch", [4, 7])
def test_prune_in_batches_smaller_than_a_minute_deletes_exactly_the_rows_before_the_cutoff(
    store: Engine, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite deletes a WITHOUT ROWID table by key ranges (migration 0012): a batch smaller than
    the rows sharing one time still moves on, and no row at or after the cut-off goes."""
    monkeypatch.setattr(retention, "SQLITE_DELETE_BATCH", batch)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        {"ts": start + timedelta(minutes=i), "deployment_id": dep, "metric": metric,
         "status_code": 0, "total": float(i)}
        for i in range(50)
        for dep in (1, 2, 3)
        for metric in ("InputTokens", "OutputTokens")
    ]  # fmt: skip
    with store.begin() as conn:
        upsert(conn, "metric_minute", rows)
    now = start + timedelta(days=30, minutes=17, seconds=30)
    result = retention.prune(store, retention_days=30, now=now)
    m = TABLES["metric_minute"]
    with store.connect() as conn:
        kept = conn.execute(select(m.c.ts).order_by(m.c.ts)).scalars().all()
    assert result.deleted["metric_minute"] == 18 * 6
    assert len(kept) == 32 * 6 and min(to_utc(ts) for ts in kept) == start + timedelta(minutes=18)


def test_sqlite_prunes_request_log_by_time_ranges_even_with_many_rows_at_one_instant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    monkeypatch.setattr(retention, "SQLITE_DELETE_BATCH", 3)  # batches smaller than one instant
    now = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    cutoff = now - timedelta(days=30)
    rows = _request_rows(7, start=cutoff - timedelta(hours=1), step=timedelta(0))  # one instant
    rows += _request_rows(11, start=cutoff - timedelta(minutes=30), step=timedelta(minutes=6))
    for i, row in enumerate(rows):
        row["correlation_id"] = f"{i:08x}-0000-4000-8000-{i:012x}"
    with engine.begin() as conn:
        upsert(conn, "request_log", rows)
    result = retention.prune(engine, retention_days=30, now=now)
    kept = sorted(row["ts"] for row in rows if row["ts"] >= cutoff)
    assert result.deleted["request_log"] == len(rows) - len(kept) == 12
    with engine.connect() as conn:
        stored = conn.execute(select(TABLES["request_log"].c.ts).order_by("ts")).scalars().all()
    assert stored == kept
    engine.dispose()
