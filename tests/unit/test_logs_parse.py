"""collector.sources.logs: request rows as Azure really sends them (see docs/architecture.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from collector import kql
from collector.sources import logs

TICKS_0 = 638_990_000_000_000_000  # .NET ticks, 2025-11
PROPS = {
    "modelDeploymentName": "claude-opus-4-5",
    "modelName": "claude-opus-4-5",
    "modelVersion": "20251101",
    "apiName": "Messages",
    "streamType": "Streaming",
    "requestTime": TICKS_0,
    "responseTime": TICKS_0 + 12_345 * 10_000,
    "callerObjectId": "6a0c8c9e-1111-4222-8333-944445555666",
    "promptTokens": 1200,
    "completionTokens": 345,
}
RID = (
    "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/RESOURCEGROUPS/RG-AI"
    "/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/CONTOSO-AI-EUS2"
)
GUID = "0F8FAD5B-D9CB-469F-A165-70867728950E"


@pytest.mark.parametrize(
    "value",
    [
        PROPS,
        json.dumps(PROPS),
        json.dumps(json.dumps(PROPS)),
        json.dumps(PROPS).encode(),
    ],
    ids=["object", "json-text", "json-string-of-text", "bytes"],
)
def test_properties_parse_whatever_their_encoding(value: Any) -> None:
    assert logs.parse_properties(value) == PROPS


@pytest.mark.parametrize("value", [None, "", "not json", "[1, 2]", json.dumps("plain"), 42])
def test_properties_that_are_no_object_are_empty(value: Any) -> None:
    assert logs.parse_properties(value) == {}


def test_ticks_are_hundred_nanoseconds() -> None:
    assert logs.ticks_ms(PROPS) == 12_345
    assert logs.ticks_ms({"requestTime": str(TICKS_0), "responseTime": str(TICKS_0 + 5_000)}) == 0.5
    assert logs.ticks_ms({"requestTime": TICKS_0}) is None


@pytest.mark.parametrize(
    ("reported", "expected"),
    [(812.0, 812), (812, 812), (-812.0, 12_345), (0, 12_345), (None, 12_345), ("", 12_345)],
)
def test_duration_comes_from_the_ticks_unless_duration_ms_is_positive(
    reported: Any, expected: int
) -> None:
    assert logs.duration_ms(reported, PROPS) == expected


def test_a_negative_duration_without_ticks_is_unknown() -> None:
    assert logs.duration_ms(-5, {}) is None
    assert logs.duration_ms(0, {"requestTime": TICKS_0, "responseTime": TICKS_0}) is None


def _table(*rows: dict[str, Any]) -> SimpleNamespace:
    columns = list(kql.REQUEST_ROW_COLUMNS)
    return SimpleNamespace(columns=columns, rows=[[row.get(c) for c in columns] for row in rows])


def _row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        kql.COL_TIME: datetime(2025, 11, 20, 10, 0, 1, tzinfo=UTC),
        kql.COL_RESOURCE_ID: RID,
        kql.COL_CORRELATION_ID: GUID,
        kql.COL_OPERATION: "Messages_Create",
        kql.COL_STATUS: "429",
        kql.COL_DURATION_MS: -3.0,
        kql.COL_CALLER_IP: "10.1.2.***",
        kql.COL_DEPLOYMENT: "claude-opus-4-5",
        kql.COL_MODEL: "claude-opus-4-5",
        kql.COL_PROPERTIES: json.dumps(json.dumps(PROPS)),
    }
    row.update(over)
    return row


def test_a_row_as_azure_sends_it_is_normalised() -> None:
    (row,) = logs.request_rows(_table(_row()))
    assert row.resource_id == RID.lower()
    assert row.correlation_id == GUID.lower()
    assert row.status_code == 429
    assert row.duration_ms == 12_345
    assert row.caller_ip == "10.1.2.***"
    assert row.caller_object_id == PROPS["callerObjectId"]
    assert (row.prompt_tokens, row.completion_tokens) == (1200, 345)
    assert row.model_version == "20251101"  # the column was empty: taken from properties_s


def test_the_nearly_empty_twin_is_dropped_and_duplicates_collapse() -> None:
    twin = _row(
        **{
            kql.COL_CORRELATION_ID: GUID.lower(),
            kql.COL_STATUS: "",
            kql.COL_DURATION_MS: None,
            kql.COL_DEPLOYMENT: "",
            kql.COL_MODEL: "",
            kql.COL_PROPERTIES: "",
        }
    )
    assert list(logs.request_rows(_table(twin))) == []
    poorer = _row(**{kql.COL_DURATION_MS: None, kql.COL_PROPERTIES: "", kql.COL_MODEL: ""})
    rows = logs.collapse(logs.request_rows(_table(poorer, _row(), twin, poorer)))
    assert len(rows) == 1
    assert rows[0].duration_ms == 12_345 and rows[0].model == "claude-opus-4-5"
