"""Metrics: per minute and deployment, from Azure Monitor's batch API (``metrics:getBatch``).

One call covers up to 50 resources of one subscription and region and one metric group; a group is
a set of metrics that share dimensions and aggregations: asking a metric for a dimension it lacks
is a 400, so metrics split by different dimensions need their own call. ``ModelRequests`` is split
by status code; the token and latency metrics have no ``StatusCode``; the Anthropic prompt-cache
metrics have a ``ContextLength`` dimension the others lack (Azure Monitor reference "Supported
metrics for Microsoft.CognitiveServices/accounts", category *Models - Usage*), kept as each
point's ``label``. A steady-state cycle therefore makes three calls per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collector import metric_names as names
from collector.rows import MetricPoint, ResourceRow

NAMESPACE = "Microsoft.CognitiveServices/accounts"
BATCH_LIMIT = 50
#: Azure returns the top 10 time series per resource by default; ask for all of them.
MAX_SERIES = 10_000


@dataclass(frozen=True)
class MetricGroup:
    name: str
    metrics: tuple[str, ...]
    aggregations: tuple[str, ...]
    filter: str
    by_status: bool
    #: lower-case dimension whose value becomes each point's ``label`` ("" for none)
    label_dimension: str = ""


GROUPS: tuple[MetricGroup, ...] = (
    MetricGroup(
        "requests",
        (names.REQUESTS,),
        ("Total",),
        "ModelDeploymentName eq '*' and StatusCode eq '*'",
        by_status=True,
    ),
    MetricGroup(
        "usage",
        (names.INPUT_TOKENS, names.OUTPUT_TOKENS, names.TTLB, names.TTFT, names.AVAILABILITY),
        ("Total", "Count", "Average", "Minimum", "Maximum"),
        "ModelDeploymentName eq '*'",
        by_status=False,
    ),
    MetricGroup(
        "cache",
        names.CACHE_METRICS,
        ("Total",),
        f"ModelDeploymentName eq '*' and {names.CONTEXT_LENGTH} eq '*'",
        by_status=False,
        label_dimension=names.CONTEXT_LENGTH.lower(),
    ),
)


@dataclass(frozen=True)
class Batch:
    subscription_id: str
    region: str
    resource_ids: tuple[str, ...]


def batches(resources: Iterable[ResourceRow], limit: int = BATCH_LIMIT) -> list[Batch]:
    """Resources grouped by subscription and region, in chunks of at most ``limit``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for resource in sorted(resources, key=lambda r: r.id):
        grouped.setdefault((resource.subscription_id, resource.location), []).append(resource.id)
    out = []
    for (sub, region), ids in sorted(grouped.items()):
        for start in range(0, len(ids), limit):
            out.append(Batch(sub, region, tuple(ids[start : start + limit])))
    return out


def resource_of_metric_id(metric_id: str) -> str:
    """``{resourceId}/providers/Microsoft.Insights/metrics/{name}`` -> lower-case resource id."""
    marker = "/providers/microsoft.insights/metrics/"
    lower = metric_id.lower()
    index = lower.find(marker)
    return lower[:index] if index >= 0 else lower


def _status(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def points_of(results: Sequence[Any], group: MetricGroup) -> Iterator[MetricPoint]:
    """Metric points from ``MetricsQueryResult`` objects; empty data points are skipped.

    Metric names are stored in their documented spelling whatever the case Azure answers in;
    dimension names are matched case-insensitively (Azure lower-cases them)."""
    for result in results:
        for metric in result.metrics:
            resource_id = resource_of_metric_id(metric.id)
            name = names.canonical(metric.name)
            for series in metric.timeseries:
                dims = {k.lower(): v for k, v in (series.metadata_values or {}).items()}
                deployment = dims.get("modeldeploymentname")
                if not deployment:
                    continue
                status = _status(dims.get("statuscode")) if group.by_status else 0
                label = (dims.get(group.label_dimension) or "") if group.label_dimension else ""
                for value in series.data:
                    if not value.total and not value.count:
                        continue  # an empty minute (no value, or zero requests) adds nothing
                    yield MetricPoint(
                        ts=value.timestamp,
                        resource_id=resource_id,
                        deployment=deployment,
                        metric=name,
                        status_code=status,
                        total=value.total,
                        count=value.count,
                        minimum=value.minimum,
                        maximum=value.maximum,
                        average=value.average,
                        label=label,
                    )


def fetch(
    client: Any, batch: Batch, group: MetricGroup, start: datetime, end: datetime
) -> Iterator[MetricPoint]:
    """One ``query_resources`` call: the group's metrics for the batch over ``[start, end)``."""
    results = client.query_resources(
        resource_ids=list(batch.resource_ids),
        metric_namespace=NAMESPACE,
        metric_names=list(group.metrics),
        timespan=(start, end),
        granularity=timedelta(minutes=1),
        aggregations=list(group.aggregations),
        filter=group.filter,
        max_results=MAX_SERIES,
    )
    yield from points_of(results, group)
