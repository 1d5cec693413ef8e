"""Streamlit dashboard (reads the store through collector.store.queries)."""
