"""Typed rows the sources yield and the store reads back. Plain frozen dataclasses: no database,
no SDK types; a neutral module every layer may import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class ResourceRow:
    id: str  # lower-case ARM id
    subscription_id: str
    resource_group: str
    name: str
    kind: str
    location: str
    endpoint: str | None
    internal_id: str | None = None


@dataclass(frozen=True)
class DeploymentRow:
    resource_id: str
    name: str
    model: str | None
    model_version: str | None
    model_format: str | None
    sku: str | None
    capacity: int | None
    provisioning_state: str | None


@dataclass(frozen=True)
class QuotaUsageRow:
    """One entry of ARM's usages list of a subscription in a location."""

    subscription_id: str
    location: str
    name: str
    localized_name: str | None
    current_value: float | None
    limit: float | None
    unit: str | None


@dataclass(frozen=True)
class MetricPoint:
    ts: datetime
    resource_id: str
    deployment: str
    metric: str
    status_code: int  # 0 when the metric is not split by status
    total: float | None = None
    count: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    average: float | None = None
    #: the value of the group's label dimension (``ContextLength`` for the cache metrics)
    label: str = ""


@dataclass(frozen=True)
class RequestRow:
    ts: datetime
    resource_id: str
    deployment: str
    correlation_id: str
    operation: str | None
    status_code: int
    duration_ms: int | None
    caller_ip: str | None
    model: str | None
    model_version: str | None
    api_name: str | None
    stream_type: str | None
    request_bytes: int | None
    response_bytes: int | None
    #: from ``properties_s`` (absent on older rows and on most failures)
    caller_object_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class HistogramRow:
    ts: datetime
    resource_id: str
    deployment: str
    status_class: str
    bucket: int
    count: int


@dataclass(frozen=True)
class CostRow:
    day: date
    scope: str
    resource_id: str
    meter: str
    publisher_type: str
    charge_type: str
    currency: str
    cost: Decimal
    quantity: Decimal | None
