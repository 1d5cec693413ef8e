"""Every page of the dashboard through Streamlit's AppTest, on a seeded and on an empty store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.store import queries
from dashboard import common
from tests.dashboard.conftest import APP, POOL_TWIN, SeededStore, use_store

PAGES = [
    "views/overview.py",
    "views/latency.py",
    "views/rate_limits.py",
    "views/errors.py",
    "views/spend.py",
    "views/lookup.py",
    "views/health.py",
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
    at = run("views/lookup.py", id=f'  "{failed.correlation_id.upper()}" ')
    assert not at.warning
    text = " ".join(e.value for e in at.error)
    assert queries.status_fix(429) in text
    fields = dict(at.dataframe[0].value.values.tolist())
    assert fields["apim-request-id"] == failed.correlation_id


def test_lookup_rejects_a_malformed_id(seeded: SeededStore) -> None:
    at = run("views/lookup.py", id="1; DROP TABLE request_log")
    assert len(at.error) == 1
    assert "is not a request id" in at.error[0].value


def test_lookup_explains_a_request_id_that_is_not_stored(seeded: SeededStore) -> None:
    at = run("views/lookup.py", id="req_011CSHoEeqs5C35K2UUqR7Fy")
    raw = queries.parse_request_id("req_011CSHoEeqs5C35K2UUqR7Fy")
    assert [w.value for w in at.warning] == [queries.not_found_message(raw)]


def test_rate_limits_names_the_pooled_quota_when_the_pool_is_throttled_together(
    seeded: SeededStore,
) -> None:
    at = run("views/rate_limits.py")
    causes = {
        row["deployment"]: row["likely cause"] for row in at.dataframe[0].value.to_dict("records")
    }
    assert causes["contoso-eastus2/support-bot"].startswith("Pooled subscription quota")
    assert causes[f"contoso-swedencentral/{POOL_TWIN}"].startswith("Pooled subscription quota")
    assert causes["contoso-swedencentral/claude-haiku-4-5"].startswith("Its own capacity")


def test_errors_page_gives_each_failing_status_its_fix(seeded: SeededStore) -> None:
    at = run("views/errors.py")
    view: common.View = at.session_state["_view"]
    failing = {
        t.status_code
        for t in queries.status_code_totals(seeded.engine, view.since, view.until)
        if t.status_code >= 400
    }
    assert failing
    shown = " ".join(m.value for m in at.markdown)
    for code in failing:
        assert f"**{code}** · {queries.status_fix(code)}" in shown


def test_spend_page_shows_the_stored_spend_and_offers_a_csv(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    view: common.View = at.session_state["_view"]
    expected = queries.spend_days(seeded.engine, view.since, view.until)
    shown = at.dataframe[0].value
    assert len(shown) == len(expected) > 0
    for row, day in zip(shown.to_dict("records"), expected, strict=True):
        assert row["deployment"] == day.deployment
        assert _same(row["estimated"], float(day.estimated) if day.estimated is not None else None)
        assert _same(
            row["billed_allocated"],
            float(day.billed_allocated) if day.billed_allocated is not None else None,
        )
        assert row["status"] == day.status
    assert at.get("download_button")


def test_health_page_lists_every_source_and_warns_of_a_failed_run(seeded: SeededStore) -> None:
    at = run("views/health.py")
    runs = queries.collector_health(seeded.engine)
    assert len(at.dataframe[1].value) == len(runs)
    assert any("504 GatewayTimeout" in w.value for w in at.warning)


def test_a_custom_range_from_the_url_is_kept_exactly(seeded: SeededStore) -> None:
    since = seeded.seed.start + timedelta(minutes=30)
    until = seeded.seed.start + timedelta(minutes=90)
    at = run(
        range="custom",
        **{"from": since.isoformat(timespec="minutes"), "to": until.isoformat(timespec="minutes")},
    )
    view: common.View = at.session_state["_view"]
    assert (view.since, view.until) == (since, until)
    expected = queries.summary(seeded.engine, since, until)
    shown = at.dataframe[0].value
    assert list(shown["requests"]) == [s.requests for s in expected]
    assert at.query_params["range"] in ("custom", ["custom"])


def test_refresh_button_and_auto_refresh_keep_the_view(seeded: SeededStore) -> None:
    at = run(range="7d", refresh="1m", model="claude-haiku-4-5")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.query_params["refresh"] in ("1m", ["1m"])
    assert at.query_params["range"] in ("7d", ["7d"])
    assert list(at.dataframe[0].value["deployment"]) == ["claude-haiku-4-5"]


def test_a_filter_matching_nothing_is_explained(seeded: SeededStore) -> None:
    at = run(resource="contoso-eastus2", model="claude-haiku-4-5")
    assert common.NO_MATCH in infos(at)
