"""Builds the Azure SDK clients: credential, endpoints, CA bundle, retry policy, headers.

Every Azure call of the collector goes through the clients made here, so throttling and retries are
decided once: azure-core's ``RetryPolicy`` does the waiting, with a small subclass that

- honours Cost Management's ``x-ms-ratelimit-microsoft.costmanagement-*-retry-after`` headers
  (azure-core reads only ``Retry-After``, ``retry-after-ms`` and ``x-ms-retry-after-ms``), waiting
  for the largest value given, and
- retries POSTs: the metrics batch, the Log Analytics query and the cost query are POSTs that
  only read, so they are safe to repeat (azure-core retries a POST only with ``Retry-After``).

It also counts every HTTP call and every throttled (429) answer per client, for the run log.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy

from collector.config import Settings

USER_AGENT = "foundry-monitor/0.1"
#: An Azure region as ARM names it (``eastus2``, ``swedencentral``): it becomes a host name.
REGION_RE = re.compile(r"[a-z0-9]{2,40}")
COST_HEADER_PREFIX = "x-ms-ratelimit-microsoft.costmanagement-"
METRICS_NAMESPACE = "Microsoft.CognitiveServices/accounts"


class QueryRetryPolicy(RetryPolicy):
    """azure-core's retry policy, also for read-only POSTs and Cost Management's headers."""

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        waits = [super().get_retry_after(response)]
        for name, value in response.http_response.headers.items():
            lower = name.lower()
            if lower.startswith(COST_HEADER_PREFIX) and lower.endswith("-retry-after"):
                try:
                    waits.append(float(value))
                except ValueError:
                    continue
        present = [w for w in waits if w is not None]
        return max(present) if present else None

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        status = response.http_response.status_code
        if status == 429 and self.get_retry_after(response) is not None:
            return True
        return bool(super().is_retry(settings, response))

    def _is_method_retryable(
        self, settings: dict[str, Any], request: Any, response: Any = None
    ) -> bool:
        # Every POST this project sends is a query: repeating it is safe. azure-core has no public
        # switch for its method allow-list, so this private hook is the narrowest place to say it.
        if request.method.upper() == "POST":
            return True
        return bool(super()._is_method_retryable(settings, request, response=response))


@dataclass
class CallCounter:
    """Thread-safe tally of HTTP calls and throttled answers, read by the run log."""

    calls: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.calls, self.throttled


class CountingPolicy(SansIOHTTPPolicy[Any, Any]):
    """Counts each HTTP attempt (retries included) and each 429 seen."""

    def __init__(self, counter: CallCounter) -> None:
        self.counter = counter

    def on_request(self, request: PipelineRequest[Any]) -> None:
        with self.counter._lock:
            self.counter.calls += 1

    def on_response(
        self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]
    ) -> None:
        if response.http_response.status_code == 429:
            with self.counter._lock:
                self.counter.throttled += 1


def make_credential(settings: Settings) -> TokenCredential:
    """A static token for the emulator, else ``DefaultAzureCredential`` (SP, MI, WI, CLI)."""
    if settings.static_token is not None:
        from collector.credentials import StaticTokenCredential

        return StaticTokenCredential(settings.static_token.get_secret_value())
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass
class AzureClients:
    """The SDK clients of one collector process, sharing one credential and one call counter."""

    settings: Settings
    credential: TokenCredential
    counter: CallCounter = field(default_factory=CallCounter)
    retry_total: int = 6
    retry_backoff_factor: float = 0.8
    retry_backoff_max: float = 60.0

    def _common(self) -> dict[str, Any]:
        common: dict[str, Any] = {
            "retry_policy": QueryRetryPolicy(
                retry_total=self.retry_total,
                retry_backoff_factor=self.retry_backoff_factor,
                retry_backoff_max=self.retry_backoff_max,
                timeout=self.settings.azure_call_timeout_s,  # all attempts of one call
            ),
            # explicit, not azure-core's 300 s + 300 s per attempt: a stalled endpoint must not
            # hold a job (or lookup --live) for half an hour
            "connection_timeout": self.settings.azure_connect_timeout_s,
            "read_timeout": self.settings.azure_read_timeout_s,
            "per_retry_policies": [CountingPolicy(self.counter)],
            "user_agent": USER_AGENT,
        }
        if self.settings.ca_bundle is not None:
            common["connection_verify"] = str(self.settings.ca_bundle)
        return common

    def metrics(self, region: str) -> Any:
        """``MetricsClient`` for a region (the batch API is regional)."""
        from azure.monitor.querymetrics import MetricsClient

        if not REGION_RE.fullmatch(region or ""):
            # ARM's location goes into a host name: never let it name another host
            raise ValueError(
                f"ARM reported location {region!r}, which is not an Azure region name "
                "(lower-case letters and digits): the metrics endpoint cannot be built from it"
            )
        endpoint = self.settings.metrics_endpoint.replace("{region}", region.lower())
        return MetricsClient(
            endpoint, self.credential, audience=self.settings.metrics_audience, **self._common()
        )

    def logs(self) -> Any:
        from azure.monitor.query import LogsQueryClient

        return LogsQueryClient(
            self.credential,
            endpoint=self.settings.logs_endpoint,
            audience=self.settings.effective_logs_audience,
            **self._common(),
        )

    def costs(self) -> Any:
        """``CostManagementClient`` with its own throttling bucket (``ClientType`` header)."""
        from azure.mgmt.costmanagement import CostManagementClient

        return CostManagementClient(
            self.credential,
            base_url=self.settings.arm_endpoint,
            credential_scopes=[self.settings.effective_arm_audience.rstrip("/") + "/.default"],
            headers={"ClientType": "foundry-monitor"},
            **self._common(),
        )

    def inventory(self, subscription_id: str) -> Any:
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

        return CognitiveServicesManagementClient(
            self.credential,
            subscription_id,
            base_url=self.settings.arm_endpoint,
            credential_scopes=[self.settings.effective_arm_audience.rstrip("/") + "/.default"],
            **self._common(),
        )


def make_clients(settings: Settings) -> AzureClients:
    return AzureClients(settings=settings, credential=make_credential(settings))


__all__ = [
    "METRICS_NAMESPACE",
    "AzureClients",
    "CallCounter",
    "QueryRetryPolicy",
    "make_clients",
]
