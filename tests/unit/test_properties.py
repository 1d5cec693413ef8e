"""Property-based tests (hypothesis) of what parses or bounds user and Azure input: the request-id
parser, the KQL builders, the collector's windows, the CLI's --since/--until and the settings.

Each property holds for every input: a value is either accepted in a well-defined form or refused
with the project's own error (one line), never with another exception; nothing a user types reaches
a query unvalidated.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector import kql
from collector.cli.read import parse_time, window
from collector.config import Settings, load_settings
from collector.domain import MAX_ID_LENGTH, RequestId, parse_request_id
from collector.errors import ConfigError, InvalidRequestId
from collector.windows import cost_days, floor_minute, plan

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQ = re.compile(r"req_[A-Za-z0-9]{1,120}")
#: No example database: the suite leaves no .hypothesis folder behind in the repository.
FAST = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

#: Text a user may paste: anything, biased toward ids, quotes, KQL and control characters.
pasted = st.one_of(
    st.text(),
    st.builds(lambda u, s: s[0] + str(u) + s[1], st.uuids(), st.tuples(st.text(), st.text())),
    st.from_regex(r"req_[A-Za-z0-9]{1,130}", fullmatch=True),
    st.text(alphabet=st.sampled_from(list("0123456789abcdefABCDEF-\"' \n\t\x00|;=~{}()\\"))),
)


# Request ids ------------------------------------------------------------------------------------
@FAST
@given(pasted)
@example('0f8fad5b-d9cb-469f-a165-70867728950e" or 1==1 //')
@example("0F8FAD5B-D9CB-469F-A165-70867728950E\n")
@example("\uff10f8fad5b-d9cb-469f-a165-70867728950e")  # a full-width digit
@example("req_١٢٣")  # Arabic-Indic digits are not ASCII
def test_a_parsed_request_id_is_a_canonical_guid_or_req_id(raw: str) -> None:
    try:
        parsed = parse_request_id(raw)
    except InvalidRequestId as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message
        assert len(message) < 400
        return
    if parsed.kind == "apim-request-id":
        assert GUID.fullmatch(parsed.value), parsed
    else:
        assert parsed.kind == "request-id" and REQ.fullmatch(parsed.value), parsed
    assert len(raw) <= MAX_ID_LENGTH


@FAST
@given(st.uuids(), st.sampled_from(["", " ", "'", '"', "\t", ' "', "' "]), st.booleans())
def test_a_guid_with_quotes_spaces_or_capitals_is_found(
    value: uuid.UUID, wrap: str, upper: bool
) -> None:
    text = str(value).upper() if upper else str(value)
    assert parse_request_id(wrap + text + wrap[::-1]) == RequestId("apim-request-id", str(value))


# KQL --------------------------------------------------------------------------------------------
@FAST
@given(pasted)
@example('0f8fad5b-d9cb-469f-a165-70867728950e" | take 1 //')
@example("0f8fad5b-d9cb-469f-a165-70867728950e\n| take 1")
def test_the_lookup_query_interpolates_nothing_but_a_guid(raw: str) -> None:
    try:
        query = kql.lookup_query(raw)
    except InvalidRequestId:
        return
    literals = re.findall(r'CorrelationId =~ "([^"]*)"', query)
    assert len(literals) == 1 and GUID.fullmatch(literals[0]), query
    assert query == kql.lookup_query(literals[0])  # the query depends on the GUID alone


@FAST
@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text()))
def test_the_request_rows_query_takes_only_a_positive_integer(slow_ms: object) -> None:
    try:
        query = kql.request_rows_query(slow_ms)  # type: ignore[arg-type]
    except ValueError:
        assert not (isinstance(slow_ms, int) and not isinstance(slow_ms, bool) and slow_ms >= 1)
        return
    assert isinstance(slow_ms, int) and slow_ms >= 1
    assert f"Duration >= {slow_ms}\n" in query


# Collection windows -----------------------------------------------------------------------------
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650))


@FAST
@given(
    st.one_of(st.none(), moments),
    moments,
    st.integers(1, 400).map(lambda d: timedelta(days=d)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=24)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=6)),
    st.one_of(st.none(), durations),
)
def test_a_plan_reads_whole_minutes_inside_the_retention_window(
    watermark: datetime | None,
    now: datetime,
    retention: timedelta,
    overlap: timedelta,
    lag: timedelta,
    backfill: timedelta | None,
) -> None:
    p = plan(watermark, now, retention, overlap, lag, backfill)
    assert p.end == floor_minute(now - lag)
    assert p.start >= floor_minute(now - retention)
    for edge in (p.start, p.end):
        assert edge.second == 0 and edge.microsecond == 0 and edge.tzinfo is not None
    if backfill is None and watermark is not None:
        assert p.start <= max(floor_minute(watermark), floor_minute(now - retention))
        assert p.moves_watermark
    if backfill is not None and watermark is not None and p.start > watermark:
        assert not p.moves_watermark  # a gap before the window: the watermark stays


@FAST
@given(
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=2)),
)
def test_chunks_cover_the_window_exactly_once(
    start: datetime, span: timedelta, size: timedelta
) -> None:
    p = plan(None, start + span, span + timedelta(days=1), timedelta(0), timedelta(0), span)
    pieces = p.chunks(size)
    if p.empty:
        assert pieces == []
        return
    assert pieces[0][0] == p.start and pieces[-1][1] == p.end
    assert all(a < b and b - a <= size for a, b in pieces)
    assert all(prev[1] == nxt[0] for prev, nxt in pairwise(pieces))


@FAST
@given(
    st.one_of(st.none(), moments),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(1, 400),
    st.integers(1, 400),
    st.one_of(st.none(), st.integers(1, 3650)),
)
def test_cost_days_always_cover_the_month_so_far_and_the_recent_days(
    watermark: datetime | None, today: date, reread: int, retention: int, backfill: int | None
) -> None:
    first, last = cost_days(watermark, today, reread, retention, backfill)
    assert last == today
    assert first <= today.replace(day=1) and first <= today - timedelta(days=reread)


# --since / --until ------------------------------------------------------------------------------
typed_times = st.one_of(
    st.text(max_size=40),
    st.datetimes(timezones=st.none()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.builds(
        lambda d, h: f"{d.isoformat()}T00:00{h}",
        st.dates(),
        st.sampled_from(["+14:00", "-14:00", "Z", "+23:59", "-23:59"]),
    ),
)


@FAST
@given(typed_times)
@example("0001-01-01T00:00+14:00")
@example("9999-12-31T23:59-14:00")
def test_a_typed_time_is_an_aware_utc_datetime_or_a_config_error(text: str) -> None:
    try:
        parsed = parse_time(text, "--since")
    except ConfigError as exc:
        assert str(exc).startswith("--since ") and "\n" not in str(exc)
        return
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


@FAST
@given(st.one_of(st.none(), typed_times), st.one_of(st.none(), typed_times))
@example(None, "0001-01-01")
@example("9999-12-31T22:00", "9999-12-31T23:00")
@example("0001-01-01", "0001-01-02")
def test_a_window_is_usable_or_a_config_error(since: str | None, until: str | None) -> None:
    """Usable: a step or a day can be added to and taken from either end without overflow."""
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    try:
        start, end = window(since, until, now)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert start < end
    for edge in (start, end):
        assert edge - timedelta(days=400) < edge + timedelta(days=400)


# Settings ---------------------------------------------------------------------------------------
NUMERIC = [
    name for name, field in Settings.model_fields.items() if field.annotation in (int, float)
]


def test_every_numeric_setting_has_an_upper_bound() -> None:
    """An unbounded interval, duration or threshold overflows a timedelta, a KQL literal or a
    comparison far from where it was set (or, as ``inf``, silently disables a check)."""
    unbounded = [
        name
        for name in NUMERIC
        if not {m.__class__.__name__ for m in Settings.model_fields[name].metadata} & {"Le", "Lt"}
    ]
    assert NUMERIC and not unbounded, unbounded


@FAST
@given(
    st.sampled_from(NUMERIC),
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(["inf", "-inf", "nan", "1e400", "0x10", "1_000", " 5 ", "", "true"]),
    ),
)
@example("spend_drift_threshold", "inf")  # accepted before: no drift was ever flagged
@example("metrics_interval_s", 10**20)  # accepted before: the scheduler's timedelta overflowed
@example("slow_request_ms", 2**70)  # accepted before: beyond KQL's long in the logs query
def test_a_numeric_setting_is_in_bounds_or_a_one_line_config_error(
    name: str, value: object
) -> None:
    try:
        accepted = load_settings(database_url="sqlite:///x.db", **{name: value})
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"FOUNDRY_MONITOR_{name.upper()}") and "\n" not in message
        return
    number = getattr(accepted, name)
    assert number == number and abs(number) != float("inf")  # neither nan nor infinite
    field = Settings.model_fields[name]
    for bound in field.metadata:
        for attr, ok in (
            ("ge", number >= getattr(bound, "ge", number)),
            ("gt", number > getattr(bound, "gt", number - 1)),
            ("le", number <= getattr(bound, "le", number)),
            ("lt", number < getattr(bound, "lt", number + 1)),
        ):
            if hasattr(bound, attr):
                assert ok, (name, number, bound)


PASSWORD = "s3cr3t-pw"


@FAST
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda a, b: f"{a}:{PASSWORD}@{b}",
            st.sampled_from(["postgresql+psycopg://u", "postgresql://", "sqlite:///", "x"]),
            st.text(max_size=40),
        ),
    )
)
@example(f"postgresql+psycopg://u:{PASSWORD}@h:notaport/db")
@example("sqlite:///\x00")
@example(f"postgresql://u:{PASSWORD}@[::1")
def test_a_database_url_is_accepted_or_a_one_line_config_error(url: str) -> None:
    try:
        load_settings(database_url=url)
    except ConfigError as exc:
        assert str(exc).startswith("FOUNDRY_MONITOR_DATABASE_URL") and "\n" not in str(exc)
        assert PASSWORD not in str(exc)  # never echoed back


@FAST
@given(st.text(max_size=60))
@example('{"bad')
@example('[{"deployment": "x", "monthly_usd": "nan"}]')
@example('[{"deployment": "x", "monthly_usd": 1e400}]')
def test_budgets_are_parsed_or_a_one_line_config_error(text: str) -> None:
    try:
        accepted = load_settings(database_url="sqlite:///x.db", budgets=text)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    for budget in accepted.spend.budgets:
        assert budget.monthly_usd.is_finite() and budget.monthly_usd > 0


@pytest.mark.parametrize("name", ["retention_days", "rollup_retention_days", "cost_reread_days"])
def test_the_largest_accepted_day_count_still_makes_a_window(name: str) -> None:
    days = next(m.le for m in Settings.model_fields[name].metadata if hasattr(m, "le"))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert plan(None, now, timedelta(days=days), timedelta(0), timedelta(0)).start < now
