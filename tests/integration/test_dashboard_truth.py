"""The look-up page against the emulator's truth: every failed request of its sample is found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from collector.azure import AzureClients
from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.runner import Collector
from collector.store import migrate
from tests.dashboard.conftest import APP, use_store
from tests.integration.conftest import BACKFILL_DAYS, COLLECTOR_NOW, emulator_settings


def test_the_lookup_page_finds_every_failed_request_of_the_truth(
    emulator: EmulatorServer,
    truth: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = emulator_settings(emulator, url)
    engine = migrate.prepare(url)
    credential = StaticTokenCredential(emulator.token)
    collector = Collector(
        settings,
        engine,
        lambda counter: AzureClients(settings, credential, counter),
        now=lambda: COLLECTOR_NOW,
    )
    assert all(r.status == "ok" for r in collector.run_once(backfill_days=BACKFILL_DAYS))
    engine.dispose()
    use_store(monkeypatch, url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("views/lookup.py").run()
    failed = truth["failed_requests"]
    assert len(failed) > 50
    for request in failed:
        guid = request["apim_request_id"]
        at.text_input[0].set_value(f"  '{guid.upper()}' ").run()
        assert not at.exception
        shown = at.subheader[0].value.replace("\\", "")  # names are Markdown-escaped
        assert shown.endswith(f"{request['status']} on {request['deployment']}"), guid
        fields = dict(at.dataframe[0].value.values.tolist())
        assert fields["apim-request-id"] == guid.lower()
    at.text_input[0].set_value(failed[0]["request_id"]).run()  # Anthropic's id: what to do
    assert "apim-request-id" in " ".join(w.value for w in at.warning).replace("\\", "")
