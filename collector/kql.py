"""The KQL the collector sends to Log Analytics, and the column names of each answer.

Pure string builders, no I/O. Every query reads the ``RequestResponse`` category of the
``AzureDiagnostics`` table written by Foundry (``Microsoft.CognitiveServices/accounts``) resources.
Time windows are not part of the KQL: pass them as the ``timespan`` of ``query_workspace``
(half-open ``[start, end)``). The emulator recognises exactly these queries, so a change here is
a change of the emulator's contract too (``tests/unit/test_kql.py`` pins the texts).

Columns of the answers (names below are module constants, shared with the emulator):

What Azure really sends (see docs/architecture.md, "What Azure really sends"): two rows per
call, one nearly empty, with the same ``CorrelationId``; ``ResourceId`` in upper case;
``properties_s`` (a string column) holding a JSON object or a JSON string of one, with
``requestTime``/``responseTime`` in .NET ticks (100 ns since 0001-01-01); ``DurationMs``
sometimes missing, zero or negative. So every query first parses ``properties_s`` whatever its
encoding (``_PARSE``), takes the duration from the ticks when ``DurationMs`` is not positive,
and collapses the rows of one call into the most complete one (``_COLLAPSE``: ``arg_max`` of a
completeness score by the lower-cased ``CorrelationId``), dropping rows that name no deployment.

``request_rows_query`` / ``lookup_query`` (one row per request, ordered by time then id):
    TimeGenerated (datetime), ResourceId (string, as Azure sends it: often upper case),
    CorrelationId (string: the ``apim-request-id`` GUID, lower case), OperationName (string),
    ResultSignature (string: the HTTP status code, e.g. "429"), DurationMs (real, as Azure sends
    it: may be null, zero or negative), CallerIPAddress (string, last octet masked), and from
    ``properties_s``: DeploymentName, ModelName, ModelVersion, ApiName, StreamType (strings),
    RequestLength, ResponseLength (long, bytes), and Properties (string: ``properties_s`` itself,
    parsed by :func:`collector.sources.logs.parse_properties` for the ticks, ``callerObjectId``,
    ``promptTokens`` and ``completionTokens``).

``latency_histogram_query`` (one row per minute, resource, deployment, status class, bucket;
one request counted once, at the duration recovered from the ticks when needed):
    Minute (datetime, ``bin(TimeGenerated, 1m)``), ResourceId (lower case), DeploymentName,
    StatusClass (string: "2xx", "4xx", "5xx", ... = first digit of the status code + "xx"),
    Bucket (int, see :mod:`collector.histogram`), RequestCount (long).

``diagnostics_check_query`` (one row per resource sending RequestResponse logs):
    ResourceId (lower case), RowCount (long: rows, two per call when Azure doubles them),
    LastTimeGenerated (datetime).
"""

from __future__ import annotations

import re

from collector.errors import InvalidRequestId

TABLE = "AzureDiagnostics"
RESOURCE_PROVIDER = "MICROSOFT.COGNITIVESERVICES"
CATEGORY = "RequestResponse"

# request rows (request_rows_query, lookup_query)
COL_TIME = "TimeGenerated"
COL_RESOURCE_ID = "ResourceId"
COL_CORRELATION_ID = "CorrelationId"
COL_OPERATION = "OperationName"
COL_STATUS = "ResultSignature"
COL_DURATION_MS = "DurationMs"
COL_CALLER_IP = "CallerIPAddress"
COL_DEPLOYMENT = "DeploymentName"
COL_MODEL = "ModelName"
COL_MODEL_VERSION = "ModelVersion"
COL_API_NAME = "ApiName"
COL_STREAM_TYPE = "StreamType"
COL_REQUEST_LENGTH = "RequestLength"
COL_RESPONSE_LENGTH = "ResponseLength"
COL_PROPERTIES = "Properties"

REQUEST_ROW_COLUMNS: tuple[str, ...] = (
    COL_TIME,
    COL_RESOURCE_ID,
    COL_CORRELATION_ID,
    COL_OPERATION,
    COL_STATUS,
    COL_DURATION_MS,
    COL_CALLER_IP,
    COL_DEPLOYMENT,
    COL_MODEL,
    COL_MODEL_VERSION,
    COL_API_NAME,
    COL_STREAM_TYPE,
    COL_REQUEST_LENGTH,
    COL_RESPONSE_LENGTH,
    COL_PROPERTIES,
)

# latency histogram
COL_MINUTE = "Minute"
COL_STATUS_CLASS = "StatusClass"
COL_BUCKET = "Bucket"
COL_REQUEST_COUNT = "RequestCount"

HISTOGRAM_COLUMNS: tuple[str, ...] = (
    COL_MINUTE,
    COL_RESOURCE_ID,
    COL_DEPLOYMENT,
    COL_STATUS_CLASS,
    COL_BUCKET,
    COL_REQUEST_COUNT,
)

# diagnostics check
COL_ROW_COUNT = "RowCount"
COL_LAST_TIME = "LastTimeGenerated"

DIAGNOSTICS_COLUMNS: tuple[str, ...] = (COL_RESOURCE_ID, COL_ROW_COUNT, COL_LAST_TIME)

_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

_SOURCE = f'{TABLE}\n| where ResourceProvider == "{RESOURCE_PROVIDER}" and Category == "{CATEGORY}"'

#: .NET ticks per millisecond (a tick is 100 ns)
TICKS_PER_MS = 10_000

# properties_s is a JSON object, or a JSON string holding one: parse it twice in that case.
# Duration: DurationMs when positive, else responseTime - requestTime (ticks) when positive.
_PARSE = (
    "| extend p0 = parse_json(properties_s)\n"
    '| extend p = iff(gettype(p0) == "string", parse_json(tostring(p0)), p0)\n'
    f"| extend Ticks = (tolong(p.responseTime) - tolong(p.requestTime)) / {TICKS_PER_MS}.0\n"
    "| extend Duration = iff(DurationMs > 0, DurationMs, iff(Ticks > 0, Ticks, real(null)))\n"
    "| extend Completeness = 8 * toint(isnotempty(tostring(p.modelDeploymentName)))"
    " + 4 * toint(isnotempty(ResultSignature)) + 2 * toint(isnotnull(Duration))"
    " + toint(isnotempty(tostring(p.modelName)))\n"
)

# One row per call: the most complete of its rows; rows naming no deployment are dropped.
_COLLAPSE = (
    "| extend CorrelationKey = tolower(CorrelationId)\n"
    "| summarize arg_max(Completeness, *) by CorrelationKey\n"
    "| where isnotempty(tostring(p.modelDeploymentName))\n"
)

_PROJECT_ROWS = (
    f"| project {COL_TIME}, {COL_RESOURCE_ID}, {COL_CORRELATION_ID} = CorrelationKey, "
    f"{COL_OPERATION}, {COL_STATUS}, {COL_DURATION_MS}, {COL_CALLER_IP}, "
    f"{COL_DEPLOYMENT} = tostring(p.modelDeploymentName), {COL_MODEL} = tostring(p.modelName), "
    f"{COL_MODEL_VERSION} = tostring(p.modelVersion), {COL_API_NAME} = tostring(p.apiName), "
    f"{COL_STREAM_TYPE} = tostring(p.streamType), "
    f"{COL_REQUEST_LENGTH} = tolong(p.requestLength), "
    f"{COL_RESPONSE_LENGTH} = tolong(p.responseLength), {COL_PROPERTIES} = properties_s\n"
    f"| order by {COL_TIME} asc, {COL_CORRELATION_ID} asc"
)


def request_rows_query(slow_ms: int, all_rows: bool = False) -> str:
    """Full rows of every non-2xx request and of every request taking >= ``slow_ms`` ms.

    With ``all_rows`` every request's row is returned (``slow_ms`` is then unused). "Taking" is
    the recovered ``Duration``, so a request whose ``DurationMs`` is negative is still kept.
    """
    if isinstance(slow_ms, bool) or not isinstance(slow_ms, int) or slow_ms < 1:
        raise ValueError(f"slow_ms must be a positive integer, got {slow_ms!r}")
    keep = (
        ""
        if all_rows
        else (
            "| where toint(ResultSignature) < 200 or toint(ResultSignature) >= 300"
            f" or Duration >= {slow_ms}\n"
        )
    )
    return f"{_SOURCE}\n{_PARSE}{_COLLAPSE}{keep}{_PROJECT_ROWS}"


def latency_histogram_query() -> str:
    """Per minute, resource, deployment, status class and log-spaced bucket: request count."""
    return (
        f"{_SOURCE}\n{_PARSE}{_COLLAPSE}"
        f'| extend {COL_STATUS_CLASS} = strcat(tostring(toint(ResultSignature) / 100), "xx")\n'
        f"| extend {COL_BUCKET} = iff(isnull(Duration) or Duration < 1, 0, "
        "toint(floor(log10(Duration) * 20)))\n"
        f"| summarize {COL_REQUEST_COUNT} = count() by {COL_MINUTE} = bin(TimeGenerated, 1m), "
        f"{COL_RESOURCE_ID} = tolower(ResourceId), "
        f"{COL_DEPLOYMENT} = tostring(p.modelDeploymentName), {COL_STATUS_CLASS}, {COL_BUCKET}\n"
        f"| order by {COL_MINUTE} asc, {COL_RESOURCE_ID} asc, {COL_DEPLOYMENT} asc, "
        f"{COL_STATUS_CLASS} asc, {COL_BUCKET} asc"
    )


def validate_guid(value: str) -> str:
    """The GUID in lower case; :class:`InvalidRequestId` when it is not one."""
    text = value.strip()
    if not _GUID_RE.match(text):
        raise InvalidRequestId(
            f"{value[:60]!r} is not an apim-request-id: expected a GUID such as "
            "0f8fad5b-d9cb-469f-a165-70867728950e"
        )
    return text.lower()


def lookup_query(correlation_id: str) -> str:
    """The row(s) of one request by its ``apim-request-id`` (validated before interpolation)."""
    guid = validate_guid(correlation_id)
    return f'{_SOURCE}\n| where CorrelationId =~ "{guid}"\n{_PARSE}{_COLLAPSE}{_PROJECT_ROWS}'


def diagnostics_check_query() -> str:
    """Per resource: how many RequestResponse rows arrived and the latest one (for ``doctor``)."""
    return (
        f"{_SOURCE}\n"
        f"| summarize {COL_ROW_COUNT} = count(), {COL_LAST_TIME} = max(TimeGenerated) "
        f"by {COL_RESOURCE_ID} = tolower(ResourceId)\n"
        f"| order by {COL_RESOURCE_ID} asc"
    )
