"""Request domain text, pure (no database): the fix for a response status and the look-up id.

:func:`status_fix` is one line of advice per status; :func:`parse_request_id` validates what a
user pastes into a look-up (an apim-request-id GUID or an Anthropic ``req_`` id) before any
query runs; :func:`not_found_message` says why a well-formed id is not in the store. Re-exported
by :mod:`collector.store.queries`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collector.errors import InvalidRequestId

MAX_ID_LENGTH = 200
_GUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)
_REQ_RE = re.compile(r"req_[A-Za-z0-9]{1,120}", re.ASCII)
_ID_EXAMPLES = (
    "expected an apim-request-id (a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e) "
    "or an Anthropic request-id (req_ followed by letters and digits, "
    "such as req_011CSHoEeqs5C35K2UUqR7Fy)"
)


@dataclass(frozen=True, slots=True)
class RequestId:
    """A validated look-up id: ``kind`` is "apim-request-id" (value lower-cased) or "request-id"."""

    kind: str
    value: str


_FIXES: dict[int, str] = {
    400: "invalid request body: check the JSON against the Messages API (model, max_tokens, "
    "messages); the response body names the field",
    401: "authentication failed: wrong API key, or an expired Entra ID token (they last about an "
    "hour; fetch a new one)",
    403: "permission denied: the caller's identity lacks an RBAC role on the resource, e.g. "
    '"Cognitive Services User"',
    404: "not found: wrong deployment name (callers pass the deployment name as model) or wrong "
    "resource/region in the endpoint, or the model is not available there",
    408: "request timeout: retry the request; for long generations use streaming",
    413: "request too large: shorten the prompt or the attachments",
    429: "rate limited: back off exponentially and retry; quota is pooled per subscription and "
    "model (traffic elsewhere counts), so ask for more quota if 429s persist",
    500: "internal server error on the service side: retry with back-off",
    502: "bad gateway on the service side: retry with back-off",
    503: "service unavailable on the service side: retry with back-off",
    504: "gateway timeout on the service side: retry, and stream long generations",
    529: "the service is overloaded: retry with exponential back-off",
}


def status_fix(status: int) -> str:
    """What to do about a response status (one line)."""
    if status in _FIXES:
        return _FIXES[status]
    if 200 <= status < 300:
        return "succeeded: nothing to fix"
    if 400 <= status < 500:
        return "client error: check the request against the response body's message"
    if 500 <= status < 600:
        return "server error on the service side: retry with back-off"
    return "unexpected status: check the response body"


def parse_request_id(raw: str) -> RequestId:
    """Validate a look-up id; surrounding whitespace and quotes are trimmed, GUIDs lower-cased.

    Anything else (SQL, KQL, control characters, over-long input) raises
    :class:`InvalidRequestId`, whose message shows at most 40 characters of it, escaped.
    """
    shown = repr(raw[:40]) + ("..." if len(raw) > 40 else "")
    if len(raw) > MAX_ID_LENGTH:
        raise InvalidRequestId(f"{shown} is not a request id (too long): {_ID_EXAMPLES}")
    text_ = raw.strip().strip("'\"").strip()
    if _GUID_RE.fullmatch(text_):
        return RequestId("apim-request-id", text_.lower())
    if _REQ_RE.fullmatch(text_):
        return RequestId("request-id", text_)
    raise InvalidRequestId(f"{shown} is not a request id: {_ID_EXAMPLES}")


def not_found_message(request_id: RequestId) -> str:
    """Why a well-formed id is not in the store, and what to do (one line)."""
    if request_id.kind == "request-id":
        return (
            f"request-id {request_id.value} is not in the store: Azure's request logs index the "
            "apim-request-id (their CorrelationId), not Anthropic's request-id, so a request-id "
            "can only be found when it was recorded separately. Ask the caller for the "
            "apim-request-id response header of the same call and look that up; give the "
            "request-id to Anthropic support"
        )
    return (
        f"apim-request-id {request_id.value} is not in the store: it may be older than the "
        "retention window, the collector may not have ingested it yet (request logs usually "
        "arrive 2 to 5 minutes late, sometimes more than 10), its deployment's calls may not be "
        "logged at all, or it was a fast successful request (the store keeps full rows "
        f"only of failed and slow requests); query Log Analytics live with: "
        f"foundry-monitor lookup {request_id.value} --live"
    )
