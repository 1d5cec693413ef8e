"""Every page of the dashboard through Streamlit's AppTest, on a seeded and on an empty store."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.store import queries
from dashboard import common
from tests.dashboard.conftest import APP, SeededStore, use_store

PAGES = [
    "pages/overview.py",
    "pages/latency.py",
    "pages/rate_limits.py",
    "pages/errors.py",
    "pages/spend.py",
    "pages/lookup.py",
    "pages/health.py",
]
TIMEOUT = 30


def run(page: str | None = None, **params: str | list[str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    if page is not None and page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch, seeded_store: SeededStore) -> SeededStore:
    use_store(monkeypatch, seeded_store.url)
    return seeded_store


@pytest.fixture
def empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    use_store(monkeypatch, url)
    return url


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_seeded_store(seeded: SeededStore, page: str) -> None:
    at = run(page)
    assert not at.error, [e.value for e in at.error]
    assert common.EMPTY_STORE not in infos(at)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_store(empty: str, page: str) -> None:
    at = run(page)
    assert common.EMPTY_STORE in infos(at)


def test_overview_shows_the_query_modules_numbers(seeded: SeededStore) -> None:
    at = run(range="24h")
    view: common.View = at.session_state["_view"]
    expected = queries.summary(seeded.engine, view.since, view.until)
    shown = at.dataframe[0].value
    assert list(shown["deployment"]) == [s.deployment for s in expected]
    for row, s in zip(shown.to_dict("records"), expected, strict=True):
        assert row["requests"] == s.requests
        assert row["input_tokens"] == s.input_tokens
        assert row["output_tokens"] == s.output_tokens
        for name in ("rate_429", "error_rate", "p50_ms", "p95_ms", "p99_ms"):
            assert _same(row[name], getattr(s, name)), (s.deployment, name)
        for name in ("spend_estimated", "spend_billed"):
            value = getattr(s, name)
            assert _same(row[name], float(value) if value is not None else None)
    assert sum(row["requests"] for row in shown.to_dict("records")) > 0


def _same(shown: object, expected: float | None) -> bool:
    if expected is None:
        return shown is None or shown != shown  # None or NaN
    return shown == pytest.approx(expected)


def test_overview_keeps_only_the_filtered_deployments(seeded: SeededStore) -> None:
    at = run(deployment="support-bot")
    shown = at.dataframe[0].value
    assert list(shown["deployment"]) == ["support-bot"]
    assert (
        at.query_params["deployment"] == ["support-bot"]
        or at.query_params["deployment"] == "support-bot"
    )


def test_lookup_shows_a_found_request_with_its_fix(seeded: SeededStore) -> None:
    failed = next(r for r in seeded.seed.logged() if r.status == 429)
    at = run("pages/lookup.py", id=f'  "{failed.correlation_id.upper()}" ')
    assert not at.warning
    text = " ".join(e.value for e in at.error)
    assert queries.status_fix(429) in text
    fields = dict(at.dataframe[0].value.values.tolist())
    assert fields["apim-request-id"] == failed.correlation_id


def test_lookup_rejects_a_malformed_id(seeded: SeededStore) -> None:
    at = run("pages/lookup.py", id="1; DROP TABLE request_log")
    assert len(at.error) == 1
    assert "is not a request id" in at.error[0].value


def test_lookup_explains_a_request_id_that_is_not_stored(seeded: SeededStore) -> None:
    at = run("pages/lookup.py", id="req_011CSHoEeqs5C35K2UUqR7Fy")
    raw = queries.parse_request_id("req_011CSHoEeqs5C35K2UUqR7Fy")
    assert [w.value for w in at.warning] == [queries.not_found_message(raw)]
