"""A model deployed in two versions shows as two labelled entries on the overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from collector.store import migrate
from collector.store.schema import TABLES
from tests import seed as seeding
from tests.dashboard.conftest import APP, use_store


def test_the_overview_labels_each_version_of_a_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'versions.db'}"
    engine = migrate.prepare(url)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    built = seeding.build(engine, start=start, minutes=150)
    d = TABLES["deployment"]
    with engine.begin() as conn:  # old-bot (claude-sonnet-4-5) back in service, in version 2
        conn.execute(
            update(d)
            .where(d.c.id == built.deployment_ids["old-bot"])
            .values(removed_at=None, model_version="2")
        )
    engine.dispose()
    use_store(monkeypatch, url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update({"range": "24h"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    labels = dict(zip(shown["deployment"], shown["model_label"], strict=True))
    assert labels["support-bot"] == "claude-sonnet-4-5 (v1, Anthropic-hosted)"
    assert labels["old-bot"] == "claude-sonnet-4-5 (v2, Azure-hosted)"
    assert labels["claude-haiku-4-5"] == "claude-haiku-4-5"
