"""The emulator's request-log rows are what Azure really sends, and its answers collapse them.

See docs/architecture.md, "What Azure really sends": two rows for some calls (one nearly empty),
upper-case ResourceId, properties_s a JSON object's text or a JSON string of it with .NET ticks,
DurationMs zero, negative or missing for some calls, masked caller IPs, late rows.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from azure.monitor.query import LogsQueryClient

from collector import kql
from collector.emulator import EmulatorServer
from collector.emulator.logs_api import EPOCH_TICKS, LogsApi
from collector.emulator.workload import guid_of, to_ms
from collector.sources import logs
from tests.emulator.conftest import END, START

HOUR = (to_ms(START) + 3_600_000, to_ms(START) + 2 * 3_600_000)


@pytest.fixture(scope="module")
def hour_rows(emulator: EmulatorServer) -> tuple[list[dict], int]:
    req = emulator.workload.requests(*HOUR)
    return emulator.logs.raw_rows(req), len(req)


def test_some_calls_have_a_second_nearly_empty_row(hour_rows: tuple[list[dict], int]) -> None:
    rows, calls = hour_rows
    per_id = Counter(r["CorrelationId"].lower() for r in rows)
    assert len(per_id) == calls
    twins = [r for r in rows if not r["properties_s"]]
    assert 0.15 * calls < len(twins) < 0.35 * calls
    assert all(per_id[t["CorrelationId"].lower()] == 2 for t in twins)
    assert any(
        t["CorrelationId"].isupper() or t["CorrelationId"] != t["CorrelationId"].lower()
        for t in twins
    )
    assert all(t["ResultSignature"] == "" and t["DurationMs"] is None for t in twins)


def test_ticks_carry_the_true_duration_when_duration_ms_does_not(
    emulator: EmulatorServer, hour_rows: tuple[list[dict], int]
) -> None:
    rows, _ = hour_rows
    req = emulator.workload.requests(*HOUR)
    truth = {guid_of(req.apim_id[i]): int(req.duration_ms[i]) for i in range(len(req))}
    full = [r for r in rows if r["properties_s"]]
    kinds: Counter = Counter()
    for row in full:
        props = logs.parse_properties(row["properties_s"])
        kinds["string" if isinstance(json.loads(row["properties_s"]), str) else "object"] += 1
        assert props["requestTime"] == EPOCH_TICKS + row["_ts"] * 10_000
        assert logs.ticks_ms(props) == truth[row["CorrelationId"]]
        assert logs.duration_ms(row["DurationMs"], props) == truth[row["CorrelationId"]]
        reported = row["DurationMs"]
        kinds[
            "missing"
            if reported is None
            else "zero"
            if reported == 0
            else "negative"
            if reported < 0
            else "right"
        ] += 1
        assert {"callerObjectId", "promptTokens", "completionTokens"} <= set(props)
        assert row["ResourceId"] == row["ResourceId"].upper()
        assert row["CallerIPAddress"].endswith(".***")
    assert kinds["string"] > 0 and kinds["object"] > 0
    assert kinds["missing"] > 0 and kinds["zero"] > 0 and kinds["negative"] > 0
    assert kinds["right"] > 0.8 * len(full)


def test_raw_rows_are_deterministic(emulator: EmulatorServer) -> None:
    req = emulator.workload.requests(*HOUR)
    again = LogsApi(emulator.workload, emulator.workload.catalog.workspace_id)
    assert again.raw_rows(req) == emulator.logs.raw_rows(req)


def test_answers_have_one_row_per_call(
    logs_client: LogsQueryClient, workspace_id: str, emulator: EmulatorServer
) -> None:
    start, end = START + timedelta(hours=1), START + timedelta(hours=2)
    result = logs_client.query_workspace(
        workspace_id, kql.request_rows_query(1, all_rows=True), timespan=(start, end)
    )
    ids = [row[kql.COL_CORRELATION_ID] for row in result.tables[0].rows]
    assert len(ids) == len(set(ids)) == len(emulator.workload.requests(*HOUR))
    assert all(i == i.lower() for i in ids)
    assert all(row[kql.COL_DEPLOYMENT] for row in result.tables[0].rows)


def test_a_twin_alone_in_a_window_is_dropped(emulator: EmulatorServer) -> None:
    """A call just before the window whose twin falls inside it yields no row at all."""
    req = emulator.workload.requests(*HOUR)
    traits = emulator.logs.traits(req)
    candidates = np.flatnonzero(traits.twin & (traits.twin_offset_ms > 0))
    i = int(candidates[0])
    ts = int(req.ts_ms[i])
    window_start = ts + 1  # the call's row is before the window, its twin inside
    assert ts + int(traits.twin_offset_ms[i]) >= window_start
    rows = emulator.logs._answer_rows(req, window_start, window_start + 60_000, None)
    assert guid_of(req.apim_id[i]) not in {r[2] for r in rows}


def test_some_rows_arrive_more_than_ten_minutes_late(emulator: EmulatorServer) -> None:
    workload = emulator.workload
    api = LogsApi(workload, workload.catalog.workspace_id, late_share=1.0, late_minutes=(11, 12))
    at = START + timedelta(hours=1)
    body = {
        "query": kql.request_rows_query(1, all_rows=True),
        "timespan": f"{(at - timedelta(minutes=30)).isoformat()}/{at.isoformat()}",
    }
    rows = api.query(workload.catalog.workspace_id, body, at)["tables"][0]["rows"]
    newest = max(r[0] for r in rows)
    assert newest < (at - timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M:%S")
    default = emulator.logs.query(workload.catalog.workspace_id, body, at)["tables"][0]["rows"]
    assert len(default) > len(rows)
    # the default workload: a few percent of the calls are late
    req = workload.requests(to_ms(START), to_ms(END))
    late = emulator.logs.traits(req).lag_ms > 10 * 60_000
    assert 0.01 < late.mean() < 0.06
