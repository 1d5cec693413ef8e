"""SQLite times as seconds since the epoch (``types.UTCDateTime``, migration 0014): every
microsecond reads back exactly, and the migration's SQL turns the old text into the very number
the product binds for the same time (or a stored row would not equal its own key)."""

from __future__ import annotations

import importlib.util
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

import migrations
from collector.store.types import epoch_seconds, from_stored, sqlite_text_times

TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _migration() -> ModuleType:
    path = Path(migrations.__file__).parent / "versions" / "0014_sqlite_epoch_times.py"
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MIGRATION = _migration()


@settings(max_examples=300, deadline=None)
@given(TIMES)
def test_a_time_reads_back_to_the_microsecond(moment: datetime) -> None:
    stored = epoch_seconds(moment)
    assert isinstance(stored, int) == (moment.microsecond == 0)
    assert from_stored(stored) == moment
    assert from_stored(epoch_seconds(moment.replace(tzinfo=None))) == moment  # naive is UTC


@settings(max_examples=300, deadline=None)
@given(TIMES)
def test_the_migration_converts_the_old_text_to_the_bound_number_and_back(
    moment: datetime,
) -> None:
    text = moment.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLAlchemy's old text
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (ts DATETIME PRIMARY KEY) WITHOUT ROWID")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    db.execute(f"UPDATE t SET ts = {MIGRATION._TO_SECONDS.format(c='ts')}")
    (stored,) = db.execute("SELECT ts FROM t").fetchone()
    assert stored == epoch_seconds(moment) and type(stored) is type(epoch_seconds(moment))
    # the row is found by the number the product binds for the same time
    assert db.execute("SELECT count(*) FROM t WHERE ts = ?", (epoch_seconds(moment),)).fetchone()
    assert db.execute("SELECT count(*) FROM t WHERE ts = ?", (stored,)).fetchone() == (1,)
    db.execute(f"UPDATE t SET ts = {MIGRATION._TO_TEXT.format(c='ts')}")
    assert db.execute("SELECT ts FROM t").fetchone() == (text,)


def test_the_text_of_before_0014_is_still_read_and_written_inside_sqlite_text_times() -> None:
    from sqlalchemy.dialects import sqlite

    from collector.store.types import UTCDateTime

    moment = datetime(2026, 3, 4, 12, 0, 0, 5, tzinfo=UTC)
    column = UTCDateTime()
    dialect = sqlite.dialect()
    bind = column.bind_processor(dialect)
    assert bind(moment) == epoch_seconds(moment)
    with sqlite_text_times():
        assert bind(moment) == "2026-03-04 12:00:00.000005"
    assert from_stored("2026-03-04 12:00:00.000005") == moment
