"""Errors: status codes over time and, for each code seen, what it means and how to fix it."""

from __future__ import annotations

import streamlit as st

from collector.store.queries import status_fix
from dashboard import charts
from dashboard import common as c

view = c.page_view("Errors")
c.show_freshness(view)
c.show_unlogged(view)

totals = c.load_status_totals(view.url, view.since, view.until, view.deployment_ids)
if not totals:
    st.info("No requests in this window: widen the time range.")
    st.stop()

codes = c.load_status_codes(view.url, view.since, view.until, view.step, view.deployment_ids)
codes["status"] = codes["status_code"].astype(str)
failures = codes[codes["status_code"] >= 400]

st.subheader(f"Failed requests per {view.step}, by status code")
if failures.empty:
    st.success("Every request in this window succeeded.")
else:
    st.altair_chart(
        charts.stacked_bars(
            failures,
            "requests",
            f"Failed requests per {view.step}",
            color="status",
            color_title="Status",
        ),
        width="stretch",
    )
with st.expander("All requests, successful ones included"):
    st.altair_chart(
        charts.stacked_bars(
            codes, "requests", f"Requests per {view.step}", color="status", color_title="Status"
        ),
        width="stretch",
    )

st.subheader("Each status code and its fix")
table = c.frame(totals)
seen = sorted({t.status_code for t in totals if t.status_code >= 400})
if not seen:
    st.caption("No failed request in this window.")
for code in seen:
    rows = table[table["status_code"] == code]
    where = ", ".join(
        f"{c.escape_markdown(f'{r.resource}/{r.deployment}')} ({r.requests:,})"
        for r in rows.itertuples(index=False)
    )
    st.markdown(f"**{code}** · {status_fix(code)}  \n{where}")
st.caption(
    "401: wrong key or an expired Entra ID token (they last about an hour). 403: a missing RBAC "
    "role. 404: wrong deployment name or region, or the model is not there. 429: back off; see "
    "Rate limits. 5xx and 529: service side, retry with back-off. Look a request up by its "
    "apim-request-id on the Request look-up page."
)
