"""spend: not built yet."""

from __future__ import annotations

import streamlit as st

from dashboard import common as c

view = c.page_view("spend")
st.info("This page is not built yet.")
