"""The pure parts of the read API: id validation, fixes per status, steps, windows, messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.errors import InvalidRequestId
from collector.store.queries import (
    RequestId,
    not_found_message,
    parse_request_id,
    parse_step,
    status_fix,
    window_days,
)

GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
REQ = "req_011CSHoEeqs5C35K2UUqR7Fy"


@pytest.mark.parametrize(
    "raw",
    [
        GUID,
        GUID.upper(),
        f"  {GUID}  ",
        f'"{GUID}"',
        f"'{GUID.upper()}'",
        f' "{GUID}"\n',
        f"\t'{GUID}'\t",
        "0F8FAD5B-d9cb-469F-A165-70867728950E",
        f'"{GUID}',  # an unbalanced quote is trimmed too
    ],
)
def test_a_guid_in_any_case_with_quotes_or_spaces_is_an_apim_request_id(raw: str) -> None:
    assert parse_request_id(raw) == RequestId("apim-request-id", GUID)


@pytest.mark.parametrize("raw", [REQ, f" {REQ} ", f'"{REQ}"', "req_abc123"])
def test_a_req_id_is_an_anthropic_request_id_and_keeps_its_case(raw: str) -> None:
    parsed = parse_request_id(raw)
    assert parsed.kind == "request-id"
    assert parsed.value == raw.strip().strip('"')


HOSTILE = [
    "",
    "   ",
    "''",
    "hello",
    GUID[:-1],
    GUID + "0",
    GUID.replace("-", ""),
    "{" + GUID + "}",
    GUID.replace("a", "g"),
    "req_",
    "REQ_011CSHoEeqs5C35K2UUqR7Fy",
    "req_011CSHoEeqs5C35K2UUqR7Fy!",
    "req_011CSHoE eqs5C35K2UUqR7Fy",
    "req_011CSHoE-eqs5C35K2UUqR7Fy",
    "req_" + "a" * 121,
    f"{GUID}' OR '1'='1",
    f"{GUID}; DROP TABLE request_log; --",
    "' OR 1=1 --",
    f'{GUID}" | union AzureDiagnostics | take 100000 //',
    f"{GUID}\n| take 10",
    f"{GUID}\x00",
    f"\x1b[31m{GUID}",
    f"{GUID}\u200b",
    "０f8fad5b-d9cb-469f-a165-70867728950e",  # full-width digit
    "req_٣٣٣",  # Arabic-Indic digits
    GUID * 50,
    "x" * 100_000,
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_anything_else_is_rejected_with_what_an_id_looks_like(raw: str) -> None:
    with pytest.raises(InvalidRequestId) as err:
        parse_request_id(raw)
    message = str(err.value)
    assert "is not a request id" in message
    assert "0f8fad5b-d9cb-469f-a165-70867728950e" in message
    assert "req_011CSHoEeqs5C35K2UUqR7Fy" in message
    assert err.value.exit_code == 2
    # one printable line of bounded length, whatever came in
    assert message.isprintable() and len(message) < 400


def test_the_rejection_message_shows_the_start_of_the_input_escaped() -> None:
    with pytest.raises(InvalidRequestId) as err:
        parse_request_id("abc\n\x1bdef")
    assert str(err.value).startswith("'abc\\n\\x1bdef' is not a request id: expected an apim-")


def test_an_over_long_input_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidRequestId) as err:
        parse_request_id("x" * 5000)
    assert str(err.value).startswith(f"{'x' * 40!r}... is not a request id (too long)")


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (400, ["invalid request body"]),
        (401, ["wrong API key", "expired Entra ID token", "about an hour"]),
        (403, ["RBAC role", '"Cognitive Services User"']),
        (404, ["wrong deployment name", "region", "model"]),
        (408, ["timeout", "retry"]),
        (429, ["back off exponentially", "pooled per subscription and model", "more quota"]),
        (500, ["retry", "service side"]),
        (503, ["retry", "service side"]),
        (529, ["overloaded", "back-off"]),
        (200, ["nothing to fix"]),
        (418, ["client error"]),
        (599, ["server error", "retry"]),
    ],
)
def test_every_status_has_a_fix(status: int, words: list[str]) -> None:
    fix = status_fix(status)
    for word in words:
        assert word in fix, (status, word)
    assert "\n" not in fix


def test_a_guid_not_found_says_where_it_may_be() -> None:
    message = not_found_message(RequestId("apim-request-id", GUID))
    assert message.startswith(f"apim-request-id {GUID} is not in the store: ")
    assert "retention window" in message
    assert "not have ingested it yet" in message
    assert f"foundry-monitor lookup {GUID} --live" in message
    assert "\n" not in message


def test_a_request_id_not_found_explains_the_azure_logs_index_the_apim_request_id() -> None:
    message = not_found_message(RequestId("request-id", REQ))
    assert message == (
        f"request-id {REQ} is not in the store: Azure's request logs index the apim-request-id "
        "(their CorrelationId), not Anthropic's request-id, so a request-id can only be found "
        "when it was recorded separately. Ask the caller for the apim-request-id response "
        "header of the same call and look that up; give the request-id to Anthropic support"
    )


@pytest.mark.parametrize(
    ("step", "seconds"),
    [("1m", 60), ("5m", 300), ("1h", 3600), ("1d", 86400), (timedelta(minutes=5), 300)],
)
def test_steps(step: str | timedelta, seconds: int) -> None:
    assert parse_step(step) == seconds


@pytest.mark.parametrize("step", ["2m", "", "1w", timedelta(minutes=7)])
def test_an_unknown_step_is_refused(step: str | timedelta) -> None:
    with pytest.raises(ValueError, match="step must be one of 1m, 5m, 15m, 1h, 1d"):
        parse_step(step)


@pytest.mark.parametrize(
    ("since", "until", "days"),
    [
        (datetime(2026, 11, 1, 22, tzinfo=UTC), datetime(2026, 11, 2, 2, tzinfo=UTC), (1, 2)),
        (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), (1, 1)),
        (datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC), (1, 1)),
        (datetime(2026, 11, 1, 23, 59), datetime(2026, 11, 2, 0, 0, 1), (1, 2)),
    ],
)
def test_window_days_are_the_utc_days_the_half_open_window_touches(
    since: datetime, until: datetime, days: tuple[int, int]
) -> None:
    assert window_days(since, until) == (date(2026, 11, days[0]), date(2026, 11, days[1]))
