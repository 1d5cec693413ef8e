"""collector.kql: texts are stable, GUIDs are validated before interpolation."""

from __future__ import annotations

import pytest

from collector import kql
from collector.errors import InvalidRequestId


def test_every_query_reads_request_response_rows_of_cognitive_services() -> None:
    for text in (
        kql.request_rows_query(30_000),
        kql.request_rows_query(30_000, all_rows=True),
        kql.latency_histogram_query(),
        kql.lookup_query("0F8FAD5B-D9CB-469F-A165-70867728950E"),
        kql.diagnostics_check_query(),
    ):
        assert text.startswith("AzureDiagnostics\n")
        assert 'ResourceProvider == "MICROSOFT.COGNITIVESERVICES"' in text
        assert 'Category == "RequestResponse"' in text


def test_request_rows_query_keeps_failures_and_slow_requests() -> None:
    text = kql.request_rows_query(12_345)
    assert "Duration >= 12345" in text
    assert "toint(ResultSignature) < 200" in text
    assert "Duration >=" not in kql.request_rows_query(12_345, all_rows=True)


def test_request_rows_query_projects_the_documented_columns() -> None:
    text = kql.request_rows_query(1)
    project = next(line for line in text.splitlines() if line.startswith("| project"))
    names = [part.split("=")[0].strip() for part in project.removeprefix("| project ").split(", ")]
    assert tuple(names) == kql.REQUEST_ROW_COLUMNS


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_request_rows_query_refuses_bad_thresholds(bad: object) -> None:
    with pytest.raises(ValueError):
        kql.request_rows_query(bad)  # type: ignore[arg-type]


def test_histogram_query_uses_the_bucket_formula_and_status_class() -> None:
    text = kql.latency_histogram_query()
    assert "iff(isnull(Duration) or Duration < 1, 0, toint(floor(log10(Duration) * 20)))" in text
    assert "bin(TimeGenerated, 1m)" in text
    for column in kql.HISTOGRAM_COLUMNS:
        assert column in text


def test_lookup_query_lower_cases_a_valid_guid() -> None:
    text = kql.lookup_query(" 0F8FAD5B-D9CB-469F-A165-70867728950E ")
    assert 'CorrelationId =~ "0f8fad5b-d9cb-469f-a165-70867728950e"' in text


@pytest.mark.parametrize(
    "bad",
    ['" or 1==1 //', "req_011CSHoEeqs5C35K2UUqR7Fy", "0f8fad5b-d9cb-469f-a165-70867728950", ""],
)
def test_lookup_query_refuses_anything_but_a_guid(bad: str) -> None:
    with pytest.raises(InvalidRequestId, match="not an apim-request-id"):
        kql.lookup_query(bad)


def test_diagnostics_check_query_columns() -> None:
    text = kql.diagnostics_check_query()
    for column in kql.DIAGNOSTICS_COLUMNS:
        assert column in text


def _lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize(
    "text",
    [
        kql.request_rows_query(30_000),
        kql.request_rows_query(30_000, all_rows=True),
        kql.latency_histogram_query(),
        kql.lookup_query("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ],
)
def test_every_request_query_collapses_a_calls_rows_before_anything_else(text: str) -> None:
    lines = _lines(text)
    collapse = lines.index("| summarize arg_max(Completeness, *) by CorrelationKey")
    assert lines[collapse - 1] == "| extend CorrelationKey = tolower(CorrelationId)"
    assert lines[collapse + 1] == "| where isnotempty(tostring(p.modelDeploymentName))"
    # properties_s parsed twice when it holds a JSON string, the duration recovered from ticks
    assert '| extend p = iff(gettype(p0) == "string", parse_json(tostring(p0)), p0)' in lines
    assert "| extend Ticks = (tolong(p.responseTime) - tolong(p.requestTime)) / 10000.0" in lines
    assert (
        "| extend Duration = iff(DurationMs > 0, DurationMs, iff(Ticks > 0, Ticks, real(null)))"
        in lines
    )
    # every filter and aggregate on status or duration comes after the collapse
    for i, line in enumerate(lines):
        if "ResultSignature) <" in line or "count()" in line:
            assert i > collapse


def test_histogram_groups_resource_ids_whatever_their_case() -> None:
    assert "ResourceId = tolower(ResourceId)" in kql.latency_histogram_query()
    assert "ResourceId = tolower(ResourceId)" in kql.diagnostics_check_query()
