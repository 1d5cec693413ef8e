"""``request_id_index`` on both databases: written with every ``request_log`` batch, read by the
look-up, pruned by whole weeks, filled by migration 0011 from the stored rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect

from collector.errors import RequestNotFound
from collector.store import migrate, queries, request_index, retention
from collector.store.engine import make_engine
from collector.store.types import stored_time
from collector.store.writer import COPY_THRESHOLD, upsert

T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # a Thursday: its week began Monday 2 Nov


def _rows(n: int, start: datetime = T0, step: timedelta = timedelta(minutes=17)) -> list[dict]:
    return [
        {
            "ts": start + i * step,
            "correlation_id": f"{i:08x}-0000-4000-8000-{i:012x}",
            "client_request_id": f"req_011C{i:020d}" if i % 2 else None,
            "deployment_id": 1,
            "status_code": 500,
            "duration_ms": i,
        }
        for i in range(n)
    ]


def _entries(engine: Engine) -> dict[date, set[request_index.Entry]]:
    found: dict[date, set[request_index.Entry]] = {}
    with engine.connect() as conn:
        for monday, name in request_index.existing(conn).items():
            rows = conn.exec_driver_sql(f'SELECT id, kind, ts FROM "{name}"')
            found[monday] = {(bytes(i), int(k), int(t)) for i, k, t in rows}
    return found


def _request_log(engine: Engine) -> list[tuple]:
    """Every row as stored, its time read as an instant (SQLite stores text before 0014)."""
    with engine.connect() as conn:
        return [
            (stored_time(r[0]), *r[1:])
            for r in conn.exec_driver_sql("SELECT * FROM request_log ORDER BY ts, correlation_id")
        ]


def _without_rowid(engine: Engine) -> bool:
    """Whether SQLite stores request_log in its key's b-tree (never on Postgres)."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'request_log'"
        ).scalar()
    return "WITHOUT ROWID" in str(sql).upper()


def _expected(rows: list[dict]) -> dict[date, set[request_index.Entry]]:
    found: dict[date, set[request_index.Entry]] = {}
    for entry in request_index.entries(rows):
        found.setdefault(request_index.week_of(entry[2]), set()).add(entry)
    return found


@pytest.mark.parametrize("size", [10, COPY_THRESHOLD + 5])
def test_every_row_gets_its_ids_entries_in_its_weeks_slice_once(store: Engine, size: int) -> None:
    rows = _rows(size, step=timedelta(days=14) / size)  # two weeks and more: three slices
    for _ in range(2):  # the second write is a re-read: nothing new, nothing doubled
        with store.begin() as conn:
            upsert(conn, "request_log", rows)
    found = _entries(store)
    assert found == _expected(rows)
    assert sorted(found) == [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert sum(map(len, found.values())) == size + size // 2  # every id, every client id


def test_a_guid_is_stored_as_its_16_bytes_in_either_case() -> None:
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert request_index.encode(guid) == bytes.fromhex(guid.replace("-", ""))
    assert request_index.encode(guid.upper()) == request_index.encode(guid)
    assert request_index.encode("req_011CabcDEF") == b"req_011CabcDEF"
    assert request_index.week_of(request_index.micros(T0)) == date(2026, 11, 2)


def test_lookup_finds_both_ids_through_the_index(store: Engine) -> None:
    rows = _rows(40)
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    for row in (rows[3], rows[37]):
        by_apim = queries.lookup(store, row["correlation_id"].upper())
        by_client = queries.lookup(store, row["client_request_id"])
        for found in (by_apim, by_client):
            assert found.request.time == row["ts"]
            assert found.request.apim_request_id == row["correlation_id"]
            assert found.request.duration_ms == row["duration_ms"]
    with pytest.raises(RequestNotFound):
        queries.lookup(store, "0f8fad5b-d9cb-469f-a165-70867728950e")


def test_a_week_slice_made_by_another_process_is_probed_by_a_reader_that_looked_before(
    store: Engine,
) -> None:
    """The reader's list of week slices (kept between look-ups on SQLite) follows the schema:
    a collector writing into a new week, through its own engine, is seen at the next look-up."""
    first, later = _rows(1), _rows(1, start=T0 + timedelta(days=7))[0]
    later["correlation_id"] = "0f8fad5b-d9cb-469f-a165-70867728950e"
    with store.begin() as conn:
        upsert(conn, "request_log", first)
    assert queries.lookup(store, first[0]["correlation_id"]).request.time == T0
    with pytest.raises(RequestNotFound):
        queries.lookup(store, later["correlation_id"])
    collector = make_engine(store.url.render_as_string(hide_password=False))
    try:
        with collector.begin() as conn:
            upsert(conn, "request_log", [later])  # creates the week slice of 16 Nov
    finally:
        collector.dispose()
    assert queries.lookup(store, later["correlation_id"]).request.time == later["ts"]


def test_an_entry_whose_row_was_pruned_answers_not_found(store: Engine) -> None:
    rows = _rows(200, step=timedelta(hours=1))  # Thu 5 Nov 12:00 to Fri 13 Nov 19:00
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    now = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # cut-off Sat 7 Nov 00:00, inside a week
    result = retention.prune(store, retention_days=30, now=now)
    gone, kept = rows[11], rows[151]
    assert gone["ts"] < result.cutoff <= kept["ts"]
    with store.connect() as conn:  # the week's slice still holds the pruned row's entry
        assert request_index.probe(conn, request_index.APIM, [gone["correlation_id"]])
    for raw in (gone["correlation_id"], gone["client_request_id"]):
        with pytest.raises(RequestNotFound):
            queries.lookup(store, raw)
    assert queries.lookup(store, kept["correlation_id"]).request.time == kept["ts"]


def test_prune_drops_every_week_slice_that_ends_before_the_cutoff(store: Engine) -> None:
    rows = _rows(560, step=timedelta(hours=1))  # Thu 5 to Sat 28 Nov: weeks of 2, 9, 16, 23 Nov
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    now = datetime(2026, 12, 17, 6, 0, tzinfo=UTC)  # cut-off Tue 17 Nov 06:00
    result = retention.prune(store, retention_days=30, now=now)
    dropped = {"request_id_index_p20261102", "request_id_index_p20261109"}
    assert dropped <= set(result.dropped_partitions)
    found = _entries(store)
    assert sorted(found) == [date(2026, 11, 16), date(2026, 11, 23)]
    assert found == {k: v for k, v in _expected(rows).items() if k in found}


def test_migration_0011_fills_the_index_from_request_log_and_its_downgrade_drops_it(
    store: Engine,
) -> None:
    rows = _rows(COPY_THRESHOLD + 5, step=timedelta(minutes=23))  # 16 days, three weeks
    with store.begin() as conn:
        upsert(conn, "request_log", rows)
    ids = [rows[i]["correlation_id"] for i in (0, 500, 1004)]
    ids += [rows[i]["client_request_id"] for i in (1, 501)]
    before = [queries.lookup(store, i) for i in ids]
    entries = _entries(store)
    stored = _request_log(store)
    assert _without_rowid(store) == (store.dialect.name == "sqlite")

    migrate.downgrade(store, "0010")
    assert _request_log(store) == stored
    assert not _without_rowid(store)
    tables = set(inspect(store).get_table_names())
    assert not {t for t in tables if t.startswith("request_id_index")}
    indexes = {ix["name"] for ix in inspect(store).get_indexes("request_log")}
    assert {"ix_request_log_correlation_id", "ix_request_log_deployment_ts"} <= indexes

    migrate.upgrade(store)
    assert _request_log(store) == stored
    assert _without_rowid(store) == (store.dialect.name == "sqlite")
    assert _entries(store) == entries == _expected(rows)
    assert [queries.lookup(store, i) for i in ids] == before
    assert not {ix["name"] for ix in inspect(store).get_indexes("request_log")}
