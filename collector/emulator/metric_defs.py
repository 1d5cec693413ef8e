"""The emulated Azure Monitor metrics of ``Microsoft.CognitiveServices/accounts``: each metric's
name, description, unit, primary aggregation and dimensions (served by
:mod:`collector.emulator.metrics_api`)."""

from __future__ import annotations

from dataclasses import dataclass

AGGREGATIONS = ("average", "minimum", "maximum", "total", "count")

_TOKEN_DIMS = (
    "ApiName",
    "Region",
    "StreamType",
    "ModelDeploymentName",
    "ModelName",
    "ModelVersion",
)
# Azure Monitor reference "Supported metrics for Microsoft.CognitiveServices/accounts"
# (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-cognitiveservices-accounts-metrics),
# category *Models - Latency*: TimeToLastByte and NormalizedTimeToFirstToken (MilliSeconds;
# Maximum, Minimum, Average; PT1M; pay-as-you-go included) have these dimensions.
_LATENCY_DIMS = (
    "ApiName",
    "OperationName",
    "Region",
    "StreamType",
    "ModelDeploymentName",
    "ModelName",
    "ModelVersion",
)
#: the request metrics' dimensions: the latency ones and the status code
_FULL_DIMS = (*_LATENCY_DIMS, "StatusCode")
# Same reference, category *Models - Usage*: the Anthropic prompt-cache metrics (Count; Total;
# PT1M; "Applies to Anthropic model deployments").
_CACHE_DIMS = (
    "ApiName",
    "Region",
    "ModelDeploymentName",
    "ModelName",
    "ModelVersion",
    "ContextLength",
)


@dataclass(frozen=True)
class MetricDef:
    name: str
    display: str
    description: str
    unit: str
    primary: str
    dims: tuple[str, ...]
    field: str  # atom field prefix, "count" or "availability"
    zero_fill: bool
    success_only: bool
    anthropic_only: bool = False
    #: the aggregations the metric has (others requested are left out of its points)
    aggregations: tuple[str, ...] = AGGREGATIONS


METRICS: dict[str, MetricDef] = {
    m.name.lower(): m
    for m in (
        MetricDef(
            "ModelRequests",
            "Model Requests",
            "Number of calls made to the model API over a period of time.",
            "Count",
            "total",
            _FULL_DIMS,
            "count",
            True,
            False,
        ),
        MetricDef(
            "InputTokens",
            "Input Tokens",
            "Number of prompt tokens processed (input) on a model.",
            "Count",
            "total",
            _TOKEN_DIMS,
            "input",
            True,
            True,
        ),
        MetricDef(
            "OutputTokens",
            "Output Tokens",
            "Number of tokens generated (output) from a model.",
            "Count",
            "total",
            _TOKEN_DIMS,
            "output",
            True,
            True,
        ),
        MetricDef(
            "TotalTokens",
            "Total Tokens",
            "Number of inference tokens processed on a model (input + output).",
            "Count",
            "total",
            _TOKEN_DIMS,
            "total",
            True,
            True,
        ),
        MetricDef(
            "TimeToLastByte",
            "Time To Last Byte",
            "Time from the request to the last byte of the response, in milliseconds.",
            "MilliSeconds",
            "average",
            _LATENCY_DIMS,
            "duration",
            False,
            True,
        ),
        MetricDef(
            "NormalizedTimeToFirstToken",
            "Normalized Time to First Byte",
            "Time it takes for first byte of response data to be received after request is made "
            "by model, normalized by token.",
            "MilliSeconds",
            "average",
            _LATENCY_DIMS,
            "ttft",
            False,
            True,
        ),
        MetricDef(
            "cacheReadInputTokens",
            "Prompt tokens read from cache",
            "The number of prompt tokens read from the cache. Applies to Anthropic model "
            "deployments.",
            "Count",
            "total",
            _CACHE_DIMS,
            "cache_read",
            True,
            True,
            anthropic_only=True,
            aggregations=("total",),
        ),
        MetricDef(
            "ephemeral5mInputTokens",
            "Prompt tokens written to cache (5 minute TTL)",
            "The number of prompt tokens used to create the 5 minute cache entry. Applies to "
            "Anthropic model deployments.",
            "Count",
            "total",
            _CACHE_DIMS,
            "cache_write_5m",
            True,
            True,
            anthropic_only=True,
            aggregations=("total",),
        ),
        MetricDef(
            "ephemeral1hInputTokens",
            "Prompt tokens written to cache (1 hour TTL)",
            "The number of prompt tokens used to create the 1 hour entry. Applies to Anthropic "
            "model deployments.",
            "Count",
            "total",
            _CACHE_DIMS,
            "cache_write_1h",
            True,
            True,
            anthropic_only=True,
            aggregations=("total",),
        ),
        MetricDef(
            "ModelAvailabilityRate",
            "Model Availability Rate",
            "Availability percentage: (total calls - server errors) / total calls.",
            "Percent",
            "average",
            ("Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
            "availability",
            False,
            False,
        ),
    )
}
