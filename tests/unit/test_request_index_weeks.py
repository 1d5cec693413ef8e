"""The weeks a batch of ``request_id_index`` entries touches (:func:`request_index.mondays`):
the writer creates those week slices, and only those."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.store.request_index import Entry, by_week, micros, mondays

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
LAST_US = timedelta(microseconds=1)


def _entries(*times: datetime) -> list[Entry]:
    return [(b"id%d" % i, 1, micros(t)) for i, t in enumerate(times)]


@pytest.mark.parametrize(
    ("times", "weeks"),
    [
        ((), set()),
        ((MONDAY, MONDAY + timedelta(days=7) - LAST_US), {date(2026, 11, 2)}),
        ((MONDAY - LAST_US, MONDAY), {date(2026, 10, 26), date(2026, 11, 2)}),
        # three weeks apart: the two weeks between have no entry and get no slice
        ((MONDAY, MONDAY + timedelta(days=21, hours=1)), {date(2026, 11, 2), date(2026, 11, 23)}),
        ((datetime(1970, 1, 1, tzinfo=UTC),), {date(1969, 12, 29)}),
    ],
)
def test_the_weeks_are_those_with_an_entry(times: tuple[datetime, ...], weeks: set[date]) -> None:
    found = _entries(*times)
    assert mondays(found) == weeks == set(by_week(found))
