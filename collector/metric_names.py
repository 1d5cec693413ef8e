"""Azure Monitor metric names of ``Microsoft.CognitiveServices/accounts`` that foundry-monitor
reads, in the spelling Azure documents, and the one place they are matched.

Source: Azure Monitor reference "Supported metrics for Microsoft.CognitiveServices/accounts"
(https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-cognitiveservices-accounts-metrics),
categories *Models - Requests*, *Models - Usage* and *Models - Latency*.

Azure metric names are case-insensitive, and the reference itself mixes upper-camel
(``InputTokens``) with lower-camel names (``cacheReadInputTokens``): every name that arrives is
mapped to the spelling below by :func:`canonical` before it is stored, so the store and its
queries only ever see one spelling.
"""

from __future__ import annotations

#: Requests per status code (Count, Total).
REQUESTS = "ModelRequests"
#: Anthropic deployments: the usage's uncached ``input_tokens``.
INPUT_TOKENS = "InputTokens"
OUTPUT_TOKENS = "OutputTokens"
#: Time to last byte, ms (Average/Minimum/Maximum).
TTLB = "TimeToLastByte"
#: Time to first token, ms (Average/Minimum/Maximum): the only TTFT figure pay-as-you-go Claude
#: deployments get (``TimeToResponse`` and ``TokensPerSecond`` are PTU-only). No percentiles.
TTFT = "NormalizedTimeToFirstToken"
AVAILABILITY = "ModelAvailabilityRate"
#: Anthropic deployments only ("Models - Usage"): the usage's ``cache_read_input_tokens``.
CACHE_READ = "cacheReadInputTokens"
#: Anthropic deployments only: ``cache_creation.ephemeral_5m_input_tokens``.
CACHE_WRITE_5M = "ephemeral5mInputTokens"
#: Anthropic deployments only: ``cache_creation.ephemeral_1h_input_tokens``.
CACHE_WRITE_1H = "ephemeral1hInputTokens"

#: The cache metrics carry a ``ContextLength`` dimension (values undocumented): kept as a label.
CACHE_METRICS: tuple[str, ...] = (CACHE_READ, CACHE_WRITE_5M, CACHE_WRITE_1H)
CONTEXT_LENGTH = "ContextLength"

KNOWN: tuple[str, ...] = (
    REQUESTS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    TTLB,
    TTFT,
    AVAILABILITY,
    *CACHE_METRICS,
)
_BY_LOWER = {name.lower(): name for name in KNOWN}


def canonical(name: str) -> str:
    """The documented spelling of a metric name, whatever its letter case (unknown names are
    returned unchanged)."""
    return _BY_LOWER.get(name.strip().lower(), name.strip())
