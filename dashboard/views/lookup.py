"""Request look-up: one box takes an apim-request-id or an Anthropic request-id."""

from __future__ import annotations

import streamlit as st

from collector.errors import InvalidRequestId, RequestNotFound
from collector.store.queries import parse_request_id
from dashboard import common as c
from dashboard import downloads

view = c.page_view("Request look-up", caption="Find one request and its deployment's minute.")

_KEY = "lookup_id"
if _KEY not in st.session_state:
    st.session_state[_KEY] = st.query_params.get(c.PARAM_ID, "")
raw = st.text_input(
    "apim-request-id or request-id",
    key=_KEY,
    placeholder="0f8fad5b-d9cb-469f-a165-70867728950e or req_011CSHoEeqs5C35K2UUqR7Fy",
    help="Whitespace and quotes around the id are ignored.",
)
wanted = raw.strip()
if wanted:
    st.query_params[c.PARAM_ID] = wanted
elif c.PARAM_ID in st.query_params:
    del st.query_params[c.PARAM_ID]
if not wanted:
    st.info(
        "Paste the `apim-request-id` response header of a failing call (a GUID, the "
        "`CorrelationId` of Azure's request logs) or Anthropic's `request-id` (`req_...`)."
    )
    c.show_unlogged(view, as_info=True)
    st.stop()

try:
    found = c.load_lookup(view.url, wanted)
except InvalidRequestId as exc:  # it quotes what was typed: shown as text, never Markdown
    st.error(c.escape_markdown(str(exc)))
    st.stop()
except RequestNotFound as exc:
    st.warning(c.escape_markdown(str(exc)))
    parsed = parse_request_id(wanted)
    if parsed.kind == "apim-request-id":  # Log Analytics indexes only this id
        st.markdown(
            "Ask Log Analytics directly, from a machine with the collector's settings and "
            "Azure access (the request is stored, then shown with its minute):"
        )
        st.code(c.live_lookup_command(parsed.value), language="bash")
    c.show_unlogged(view, as_info=True)  # its deployment may log nothing at all
    st.stop()

request = found.request
ok = 200 <= request.status < 300
st.subheader(
    f"{'✅' if ok else '❌'} {request.status} on {c.escape_markdown(found.deployment or '?')}"
)
(st.success if ok else st.error)(c.escape_markdown(f"What to do: {found.fix}"))

left, middle, right = st.columns(3)
left.metric("Status", request.status)
middle.metric(
    "Duration (ms)", f"{request.duration_ms:,}" if request.duration_ms is not None else c.DASH
)
right.metric("Time (UTC)", request.time.strftime("%Y-%m-%d %H:%M:%S"))

downloads.show_table(
    "lookup_request",
    [
        {"field": "apim-request-id", "value": request.apim_request_id},
        {"field": "request-id", "value": request.request_id or c.DASH},
        {"field": "matched by", "value": found.matched_by},
        {"field": "resource", "value": found.resource or c.DASH},
        {"field": "deployment", "value": found.deployment or c.DASH},
        {
            "field": "model",
            "value": " ".join(
                x
                for x in (
                    found.model or c.DASH,
                    found.model_version,
                    found.hosting and f"({found.hosting})",
                )
                if x
            ),
        },
        {"field": "operation", "value": request.operation or c.DASH},
        {"field": "API", "value": request.api_name or c.DASH},
        {"field": "stream type", "value": request.stream_type or c.DASH},
        {"field": "request bytes", "value": str(request.request_bytes or c.DASH)},
        {"field": "response bytes", "value": str(request.response_bytes or c.DASH)},
        {"field": "caller IP", "value": request.caller_ip or c.DASH},
    ],
    extra={"id": request.apim_request_id},
)

minute = found.context
st.subheader(
    f"{c.escape_markdown(found.deployment or 'The deployment')} in the minute "
    f"{c.fmt_time(minute.minute)} UTC"
)
if minute.requests is None:
    st.info("No metrics for this deployment in that minute (not collected yet, or pruned).")
else:
    a, b, d = st.columns(3)
    a.metric("Requests that minute", f"{minute.requests:,}")
    b.metric("429s that minute", f"{minute.status_429 or 0:,}")
    d.metric(
        "Avg time to last byte (ms)",
        f"{minute.ttlb_avg_ms:,.0f}" if minute.ttlb_avg_ms is not None else c.DASH,
    )
if minute.other_failures:
    st.markdown(f"**Other failures that minute** ({len(minute.other_failures)})")
    downloads.show_table(
        "lookup_other_failures",
        c.frame(minute.other_failures)[
            ["time", "status", "apim_request_id", "request_id", "duration_ms", "operation"]
        ],
        extra={"id": request.apim_request_id},
    )
else:
    st.caption("No other failures of this deployment that minute.")
