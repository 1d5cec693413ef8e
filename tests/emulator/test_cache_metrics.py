"""Anthropic prompt-cache metrics, time to first token, the non-Anthropic deployment and its Azure
meters, through the real SDK clients: every figure equals the ground truth."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from azure.mgmt.costmanagement.models import (
    QueryDefinition,
)

from collector.emulator import EmulatorServer
from collector.emulator.catalog import CONTEXT_LENGTHS
from collector.spend.credits import is_claude_charge
from tests.emulator.conftest import MetricSeries
from tests.emulator.test_sdk_clients import _cost_rows, _daily_definition, _truth_day

CACHE = {
    "cacheReadInputTokens": "cache_read_tokens",
    "ephemeral5mInputTokens": "cache_write_5m_tokens",
    "ephemeral1hInputTokens": "cache_write_1h_tokens",
}
USAGE = (
    "ModelRequests",
    "InputTokens",
    "OutputTokens",
    "TimeToLastByte",
    "NormalizedTimeToFirstToken",
    "ModelAvailabilityRate",
)
CACHE_FILTER = "ModelDeploymentName eq '*' and ContextLength eq '*'"


def test_cache_metrics_by_context_length_equal_the_truth(
    metric_series: MetricSeries, truth: dict
) -> None:
    got: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for resource, name, dims, data in metric_series(list(CACHE), CACHE_FILTER, ["Total"]):
        assert set(dims) == {"modeldeploymentname", "contextlength"}
        assert dims["contextlength"] in CONTEXT_LENGTHS
        assert all(p.average is None and p.count is None for p in data)  # Total only
        key = (resource, dims["modeldeploymentname"], name, dims["contextlength"])
        got[key] += int(sum(p.total or 0 for p in data))
    expected: dict[tuple[str, str, str, str], int] = {}
    for dep in truth["deployments"]:
        (day,) = dep["days"]
        for label, counts in day["cache_tokens_by_context_length"].items():
            for name, field in CACHE.items():
                expected[(dep["resource"], dep["deployment"], name, label)] = counts[field]
    assert dict(got) == expected
    assert any(label == ">200K" and total > 0 for (_r, _d, _n, label), total in got.items())
    # The split by ContextLength sums to each deployment-day's totals.
    for (resource, deployment), day in _truth_day(truth).items():
        for name, field in CACHE.items():
            split = sum(
                total
                for (r, d, n, _label), total in got.items()
                if (r, d, n) == (resource, deployment, name)
            )
            assert split == day[field]
        assert day["cache_write_tokens"] == (
            day["cache_write_5m_tokens"] + day["cache_write_1h_tokens"]
        )


def test_cache_metrics_without_the_context_length_split_sum_to_the_same_totals(
    metric_series: MetricSeries, truth: dict
) -> None:
    got: dict[tuple[str, str, str], int] = defaultdict(int)
    for resource, name, dims, data in metric_series(
        list(CACHE), "ModelDeploymentName eq '*'", ["Total"]
    ):
        got[(resource, dims["modeldeploymentname"], name)] += int(sum(p.total or 0 for p in data))
    for (resource, deployment), day in _truth_day(truth).items():
        for name, field in CACHE.items():
            assert got.get((resource, deployment, name), 0) == day[field]


def test_cache_metrics_have_no_series_for_the_openai_deployment(
    metric_series: MetricSeries, truth: dict
) -> None:
    formats = {(d["resource"], d["deployment"]): d["model_format"] for d in truth["deployments"]}
    assert ("OpenAI" in formats.values()) and ("Anthropic" in formats.values())
    cache = {
        (r, dims["modeldeploymentname"])
        for r, _n, dims, _d in metric_series(list(CACHE), CACHE_FILTER, ["Total"])
    }
    assert cache == {k for k, f in formats.items() if f == "Anthropic"}
    usage = metric_series(
        list(USAGE),
        "ModelDeploymentName eq '*'",
        ["Total", "Average"],
    )
    gpt = defaultdict(float)
    for r, name, dims, data in usage:
        if formats[(r, dims["modeldeploymentname"])] == "OpenAI":
            gpt[name] += sum((p.total or 0) + (p.average or 0) for p in data)
    assert set(gpt) == set(USAGE)
    assert all(v > 0 for v in gpt.values())


def test_time_to_first_token_equals_the_truth_and_precedes_the_last_byte(
    metric_series: MetricSeries, truth: dict
) -> None:
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 1e18, 0.0])
    for resource, name, dims, data in metric_series(
        ["NormalizedTimeToFirstToken", "TimeToLastByte"],
        "ModelDeploymentName eq '*'",
        ["Total", "Count", "Minimum", "Maximum"],
    ):
        acc = sums[(resource, dims["modeldeploymentname"], name)]
        for p in data:
            if p.count:
                acc[0] += p.total
                acc[1] += p.count
                acc[2] = min(acc[2], p.minimum)
                acc[3] = max(acc[3], p.maximum)
    for (resource, deployment), day in _truth_day(truth).items():
        total, count, low, high = sums[(resource, deployment, "NormalizedTimeToFirstToken")]
        assert count == day["requests_by_status"]["200"]
        assert total / count == pytest.approx(day["ttft_avg_ms"], rel=1e-12)
        assert 0 < low <= day["ttft_avg_ms"] <= high
        ttlb_total, ttlb_count, _l, _h = sums[(resource, deployment, "TimeToLastByte")]
        assert ttlb_count == count and total < ttlb_total


def test_metric_names_match_whatever_their_case_and_the_answer_case_is_switchable(
    metric_series: MetricSeries, emulator: EmulatorServer
) -> None:
    asked = ["CACHEREADINPUTTOKENS", "normalizedtimetofirsttoken", "InputTokens"]

    def names() -> list[str]:
        return sorted({n for _r, n, _d, _p in metric_series(asked, None, ["Total"])})

    assert names() == ["InputTokens", "NormalizedTimeToFirstToken", "cacheReadInputTokens"]
    emulator.set_metric_name_case("lower")
    assert names() == ["cachereadinputtokens", "inputtokens", "normalizedtimetofirsttoken"]
    emulator.set_metric_name_case("upper")
    assert names() == ["CACHEREADINPUTTOKENS", "INPUTTOKENS", "NORMALIZEDTIMETOFIRSTTOKEN"]
    with pytest.raises(ValueError):
        emulator.set_metric_name_case("title")


def _meter_definition() -> QueryDefinition:
    groups = ("ResourceId", "Meter", "PublisherType", "ServiceName", "MeterCategory", "ChargeType")
    return _daily_definition(1, groups, quantity=True)


def test_openai_tokens_are_billed_under_azure_meters_never_under_the_claude_meter(
    cost_client: Any, truth: dict
) -> None:
    columns, rows = _cost_rows(cost_client, _meter_definition())
    col = {name: i for i, name in enumerate(columns)}
    claude: dict[tuple[str, str], float] = {}
    azure: dict[tuple[str, str, str], tuple[Decimal, float]] = {}
    for row in rows:
        resource, meter = row[col["ResourceId"]], row[col["Meter"]]
        day = str(row[col["UsageDate"]])
        publisher_type, service = row[col["PublisherType"]], row[col["ServiceName"]]
        if is_claude_charge(publisher_type, meter, resource):
            assert (publisher_type, service) == ("Marketplace", "SaaS")
            assert "/microsoft.saas/resources/claude-" in resource
            claude[(resource, day)] = round(claude.get((resource, day), 0) + row[col["Cost"]], 2)
        else:
            assert publisher_type == "Azure" and service != "SaaS"
            assert "claude" not in meter.lower()
            azure[(resource, day, meter)] = (
                Decimal(str(row[col["Cost"]])),
                row[col["UsageQuantity"]],
            )
    expected_claude: dict[tuple[str, str], float] = {}
    for b in truth["billed"]:
        for c in b["charges"]:
            key = (c["resource_id"].lower(), b["day"].replace("-", ""))
            expected_claude[key] = round(expected_claude.get(key, 0) + c["cost"], 2)
    for c in truth["billed_unattributed"]:
        key = (c["resource_id"].lower(), c["day"].replace("-", ""))
        expected_claude[key] = round(expected_claude.get(key, 0) + c["cost"], 2)
    assert claude == expected_claude
    expected_azure = {
        (b["resource"].lower(), b["day"].replace("-", ""), b["meter"]): (
            Decimal(str(b["cost"])),
            b["quantity"],
        )
        for b in truth["billed_azure"]
    }
    assert azure == expected_azure
    # The gpt-4o-mini rows: input and output meters on the AIServices account, priced at
    # $0.15 / $0.60 per million tokens, summing to the deployment's true cost.
    (gpt,) = [d for d in truth["deployments"] if d["model_format"] == "OpenAI"]
    (day,) = gpt["days"]
    mine = [b for b in truth["billed_azure"] if b["deployment"] == gpt["deployment"]]
    assert {b["meter"] for b in mine} == {
        "gpt-4o-mini-0718-Inp-glbl Tokens",
        "gpt-4o-mini-0718-Outp-glbl Tokens",
    }
    assert all(b["resource"] == gpt["resource"] for b in mine)
    assert sum(Decimal(str(b["cost"])) for b in mine) == Decimal(str(day["true_cost"]))
    assert Decimal(str(day["true_cost"])) == (
        Decimal(day["input_tokens"]) * Decimal("0.15")
        + Decimal(day["output_tokens"]) * Decimal("0.60")
    ) / Decimal(1_000_000)
    # The Claude bill of the same account covers its Claude deployments only.
    claude_true = sum(
        d["days"][0]["true_cost"]
        for d in truth["deployments"]
        if d["resource"] == gpt["resource"] and d["model_format"] == "Anthropic"
    )
    (bill,) = [b for b in truth["billed"] if b["resource"] == gpt["resource"]]
    assert abs(bill["true_cost"] - claude_true) < 1e-6


def test_a_context_length_value_filter_keeps_only_that_label(
    metric_series: MetricSeries, truth: dict
) -> None:
    series = metric_series(
        ["cacheReadInputTokens"],
        "ModelDeploymentName eq '*' and ContextLength eq '>200K'",
        ["Total"],
    )
    got = {
        (r, dims["modeldeploymentname"]): int(sum(p.total or 0 for p in data))
        for r, _n, dims, data in series
    }
    assert {dims["contextlength"] for _r, _n, dims, _d in series} == {">200K"}
    expected = {
        (d["resource"], d["deployment"]): d["days"][0]["cache_tokens_by_context_length"][">200K"][
            "cache_read_tokens"
        ]
        for d in truth["deployments"]
        if ">200K" in d["days"][0]["cache_tokens_by_context_length"]
    }
    assert got == expected
    sonnet = {"claude-sonnet-4-5", "support-bot", "sonnet-anthropic-hosted"}
    assert {d for _r, d in got} <= sonnet  # Sonnet only
