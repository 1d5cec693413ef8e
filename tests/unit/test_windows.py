"""Window planning: where a source starts and stops, and how a window is chunked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from collector.windows import Plan, cost_days, floor_minute, plan

NOW = datetime(2026, 11, 20, 12, 34, 56, 789_000, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = timedelta(days=30)
OVERLAP = timedelta(minutes=15)
LAG = timedelta(minutes=3)


def test_floor_minute_drops_seconds_and_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert floor_minute(datetime(2026, 11, 20, 14, 5, 59, 999, tzinfo=plus_two)) == datetime(
        2026, 11, 20, 12, 5, tzinfo=UTC
    )


def test_a_first_run_reads_the_whole_retention_window_up_to_now_less_the_lag() -> None:
    p = plan(None, NOW, RETENTION, OVERLAP, LAG)
    assert p == Plan(floor_minute(NOW - RETENTION), floor_minute(NOW - LAG), True)
    assert p.end == datetime(2026, 11, 20, 12, 31, tzinfo=UTC)


def test_a_later_run_starts_at_the_watermark_less_the_overlap() -> None:
    watermark = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    p = plan(watermark, NOW, RETENTION, OVERLAP, LAG)
    assert (p.start, p.moves_watermark) == (watermark - OVERLAP, True)


def test_a_watermark_older_than_the_retention_window_starts_at_its_edge() -> None:
    p = plan(NOW - 90 * DAY, NOW, RETENTION, OVERLAP, LAG)
    assert p.start == floor_minute(NOW - RETENTION)


def test_a_backfill_moves_the_watermark_only_when_it_reaches_back_to_it() -> None:
    recent = NOW - timedelta(hours=1)
    reaching = plan(recent, NOW, RETENTION, OVERLAP, LAG, backfill=2 * DAY)
    assert reaching.start == floor_minute(NOW - 2 * DAY) and reaching.moves_watermark
    short = plan(NOW - 3 * DAY, NOW, RETENTION, OVERLAP, LAG, backfill=DAY)
    assert short.start == floor_minute(NOW - DAY) and not short.moves_watermark
    capped = plan(None, NOW, RETENTION, OVERLAP, LAG, backfill=365 * DAY)
    assert capped.start == floor_minute(NOW - RETENTION) and capped.moves_watermark


def test_chunks_cover_the_window_exactly_in_order() -> None:
    p = Plan(NOW - timedelta(hours=7), NOW, True)
    chunks = p.chunks(timedelta(hours=3))
    assert [b - a for a, b in chunks] == [timedelta(hours=3)] * 2 + [timedelta(hours=1)]
    assert chunks[0][0] == p.start and chunks[-1][1] == p.end
    assert all(chunks[i][1] == chunks[i + 1][0] for i in range(len(chunks) - 1))
    empty = Plan(NOW, NOW - timedelta(minutes=1), True)
    assert empty.empty and empty.chunks(timedelta(hours=1)) == []


def test_cost_days_reread_the_month_and_the_recent_days() -> None:
    today = date(2026, 11, 20)
    assert cost_days(None, today, 7, 30) == (date(2026, 10, 21), today)  # first run: retention
    mid = datetime(2026, 11, 19, 6, tzinfo=UTC)
    assert cost_days(mid, today, 7, 30) == (date(2026, 11, 1), today)  # the month so far
    early = date(2026, 11, 3)
    assert cost_days(datetime(2026, 11, 2, tzinfo=UTC), early, 7, 30) == (date(2026, 10, 27), early)
    old = datetime(2026, 10, 1, tzinfo=UTC)
    assert cost_days(old, today, 7, 30) == (date(2026, 9, 30), today)  # from the watermark
    assert cost_days(mid, today, 7, 30, backfill_days=60) == (date(2026, 9, 21), today)
