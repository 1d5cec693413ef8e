"""Metric points from SDK results: names matched whatever their case, labels kept."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from collector import metric_names
from collector.sources import metrics

TS = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)
RID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"


def _result(name: str, dims: dict[str, str], total: float) -> Any:
    point = SimpleNamespace(
        timestamp=TS, total=total, count=None, minimum=None, maximum=None, average=None
    )
    series = SimpleNamespace(metadata_values=dims, data=[point])
    metric = SimpleNamespace(
        id=f"{RID}/providers/Microsoft.Insights/metrics/{name}", name=name, timeseries=[series]
    )
    return SimpleNamespace(metrics=[metric])


@pytest.mark.parametrize(
    "served", ["cacheReadInputTokens", "CACHEREADINPUTTOKENS", "cachereadinputtokens"]
)
def test_a_metric_name_in_any_case_is_stored_in_its_documented_spelling(served: str) -> None:
    cache = next(g for g in metrics.GROUPS if g.name == "cache")
    result = _result(served, {"modeldeploymentname": "chat", "contextlength": "<=200K"}, 42.0)
    (point,) = metrics.points_of([result], cache)
    assert point.metric == metric_names.CACHE_READ == "cacheReadInputTokens"
    assert point.label == "<=200K" and point.total == 42.0 and point.status_code == 0
    assert point.resource_id == RID.lower()


def test_points_without_a_label_dimension_have_an_empty_label() -> None:
    usage = next(g for g in metrics.GROUPS if g.name == "usage")
    result = _result("normalizedtimetofirsttoken", {"ModelDeploymentName": "chat"}, 3.0)
    (point,) = metrics.points_of([result], usage)
    assert point.metric == "NormalizedTimeToFirstToken" and point.label == ""


def test_the_groups_ask_each_metric_only_for_dimensions_it_has() -> None:
    by_name = {g.name: g for g in metrics.GROUPS}
    assert set(by_name["cache"].metrics) == set(metric_names.CACHE_METRICS)
    assert "ContextLength" in by_name["cache"].filter
    for group in ("requests", "usage"):  # InputTokens & co. have no ContextLength dimension
        assert "ContextLength" not in by_name[group].filter
    assert metric_names.TTFT in by_name["usage"].metrics
    assert len(metrics.GROUPS) == 3  # one call more per batch than before the cache split


def test_unknown_names_pass_through_unchanged() -> None:
    assert metric_names.canonical(" SomethingNew ") == "SomethingNew"
    assert metric_names.canonical("INPUTTOKENS") == "InputTokens"
