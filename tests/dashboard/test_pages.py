"""Every page of the dashboard through Streamlit's AppTest, on a seeded and on an empty store."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from collector.spend import month as months
from collector.spend.budgets import OK, OVER, Budget, parse_budgets
from collector.store import queries
from dashboard import common
from dashboard import month as month_view
from tests.dashboard.conftest import APP, POOL_TWIN, UNALLOCATED, SeededStore, use_store

PAGES = [
    "views/overview.py",
    "views/latency.py",
    "views/rate_limits.py",
    "views/capacity.py",
    "views/errors.py",
    "views/spend.py",
    "views/lookup.py",
    "views/health.py",
    "views/alerts.py",
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


def plain(text: str) -> str:
    """Text as the page renders it: names and messages are Markdown-escaped (backslashes)."""
    return text.replace("\\", "")


def infos(at: AppTest) -> list[str]:
    return [plain(i.value) for i in at.info]


def warnings(at: AppTest) -> list[str]:
    return [plain(w.value) for w in at.warning]


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
    text = " ".join(plain(e.value) for e in at.error)
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
    assert warnings(at) == [queries.not_found_message(raw)]
    assert not at.code  # the live look-up needs an apim-request-id


def test_lookup_of_an_unstored_apim_request_id_gives_the_live_command(seeded: SeededStore) -> None:
    missing = "0F8FAD5B-D9CB-469F-A165-70867728950E"
    at = run("views/lookup.py", id=missing)
    raw = queries.parse_request_id(missing)
    assert warnings(at) == [queries.not_found_message(raw)]
    assert [c.value for c in at.code] == [f"foundry-monitor lookup {missing.lower()} --live"]


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


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The one table of the page that has all of ``columns``."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def month_of(seeded: SeededStore, at: AppTest) -> months.MonthSpend:
    """What the pages must show: spend_month as of the run's minute, default settings."""
    view: common.View = at.session_state["_view"]
    return months.spend_month(seeded.engine, common.floor_minute(view.now))


def test_spend_page_shows_the_stored_spend_and_offers_its_downloads(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    assert not at.error, [e.value for e in at.error]
    view: common.View = at.session_state["_view"]
    expected = queries.spend_days(seeded.engine, view.since, view.until)
    shown = table_with(at, "day", "billed_allocated")
    assert len(shown) == len(expected) > 0
    for row, day in zip(shown.to_dict("records"), expected, strict=True):
        assert (row["resource"], row["deployment"]) == (day.resource, day.deployment)
        assert row["day"] == day.day
        for name in ("estimated", "billed_allocated", "variance"):
            assert _same(row[name], _money(getattr(day, name))), (day, name)
        assert (row["status"], row["unpriced"]) == (day.status, day.unpriced)
    assert any(day.unpriced for day in expected)
    assert any("missing from the price sheet" in w.value for w in at.warning)
    buttons = [getattr(b, "label", None) for b in at.get("download_button")]
    assert buttons == ["Download CSV", "Download Parquet"] * len(at.dataframe)


def test_spend_page_reconciles_each_resource_and_day(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    view: common.View = at.session_state["_view"]
    expected = queries.spend_resource_days(seeded.engine, view.since, view.until)
    shown = table_with(at, "unallocated")
    assert len(shown) == len(expected) > 0
    for row, day in zip(shown.to_dict("records"), expected, strict=True):
        assert (row["day"], row["resource"]) == (day.day, day.resource)
        for name in ("billed", "estimated", "unallocated", "variance"):
            assert _same(row[name], _money(getattr(day, name))), (day, name)
        assert row["drift_flagged"] == day.drift_flagged
    assert UNALLOCATED in {d.unallocated for d in expected}


def test_spend_page_shows_the_month_and_its_forecast(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    month = month_of(seeded, at)
    tiles = metrics(at)
    assert tiles["Spent to date (USD)"] == common.fmt_usd(month.spent)
    assert tiles["Forecast to month end (USD)"] == common.fmt_usd(month.forecast_total)
    assert tiles["Billed (USD)"] == common.fmt_usd(month.billed)
    assert len(table_with(at, "forecast_total")) == len(month.deployments) > 0


def test_overview_shows_month_to_date_spend_and_forecast(seeded: SeededStore) -> None:
    at = run()
    month = month_of(seeded, at)
    tiles = metrics(at)
    assert tiles == {
        "Spent to date (USD)": common.fmt_usd(month.spent),
        "Estimated (USD)": common.fmt_usd(month.estimated),
        "Billed (USD)": common.fmt_usd(month.billed),
        "Forecast to month end (USD)": common.fmt_usd(month.forecast_total),
    }
    shown = table_with(at, "forecast_total")
    assert list(shown["deployment"]) == [d.deployment for d in month.deployments]
    for row, dep in zip(shown.to_dict("records"), month.deployments, strict=True):
        for name in ("estimated", "billed_allocated", "variance", "spent", "forecast_total"):
            assert _same(row[name], _money(getattr(dep, name))), (dep.deployment, name)
        assert (row["unpriced"], row["provisional"]) == (dep.unpriced, dep.provisional)
        assert row["budget"] == common.DASH  # no budgets configured
    assert month.forecast_total >= month.spent > 0
    assert month_view.NO_BUDGETS in [c.value for c in at.caption]


def test_overview_month_keeps_only_the_filtered_deployments(seeded: SeededStore) -> None:
    at = run(deployment="support-bot")
    month = month_of(seeded, at)
    (support,) = [d for d in month.deployments if d.deployment == "support-bot"]
    assert list(table_with(at, "forecast_total")["deployment"]) == ["support-bot"]
    tiles = metrics(at)
    assert tiles["Spent to date (USD)"] == common.fmt_usd(support.spent)
    assert tiles["Forecast to month end (USD)"] == common.fmt_usd(support.forecast_total)


def test_the_credits_warning_is_shown_once_when_marketplace_charges_accrue(
    seeded: SeededStore,
) -> None:
    at = run()
    month = month_of(seeded, at)
    assert month.credits_warning is not None and month.billed >= UNALLOCATED
    assert [w.value for w in at.warning] == [month.credits_warning]


def test_the_credits_warning_can_be_turned_off(
    seeded: SeededStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_SPEND_CREDITS_WARNING", "false")
    at = run()
    assert not at.warning


BUDGETS = [
    {"deployment": "support-bot", "monthly_usd": 1},
    {"resource": "contoso-eastus2", "monthly_usd": 1_000_000},
]


@pytest.fixture
def with_budgets(seeded: SeededStore, monkeypatch: pytest.MonkeyPatch) -> list[Budget]:
    monkeypatch.setenv("FOUNDRY_MONITOR_BUDGETS", json.dumps(BUDGETS))
    return parse_budgets(BUDGETS)


@pytest.mark.parametrize("page", ["views/overview.py", "views/spend.py"])
def test_budget_states_are_shown(
    seeded: SeededStore, with_budgets: list[Budget], page: str
) -> None:
    at = run(page)
    assert not at.error, [e.value for e in at.error]
    view: common.View = at.session_state["_view"]
    expected = months.budgets(seeded.engine, common.floor_minute(view.now), with_budgets)
    assert [b.state for b in expected] == [OVER, OK]
    shown = table_with(at, "state")
    assert list(shown["budget"]) == [b.label for b in expected]
    assert list(shown["state"]) == [month_view.STATE_LABELS[b.state] for b in expected]
    assert list(shown["spent"]) == pytest.approx([float(b.spent) for b in expected])
    assert list(shown["forecast"]) == pytest.approx([float(b.forecast_total) for b in expected])
    per_deployment = table_with(at, "forecast_total").set_index("deployment")["budget"]
    assert per_deployment["support-bot"] == month_view.STATE_LABELS[OVER]
    assert per_deployment["claude-opus-4-5"] == common.DASH  # only a resource budget covers it


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_budgets_configured(
    seeded: SeededStore, with_budgets: list[Budget], page: str
) -> None:
    at = run(page)
    assert not at.error, [e.value for e in at.error]


def test_health_page_lists_every_source_and_warns_of_a_failed_run(seeded: SeededStore) -> None:
    at = run("views/health.py")
    runs = queries.collector_health(seeded.engine)
    assert len(table_with(at, "source", "scope", "window_start")) == len(runs)
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


def test_with_sign_in_required_no_page_shows_data_before_sign_in(
    seeded: SeededStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_DASHBOARD_AUTH", "true")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with Microsoft"]
    assert not at.dataframe and not at.sidebar.multiselect


def test_sign_in_is_off_by_default(seeded: SeededStore) -> None:
    at = run()
    assert "Sign in with Microsoft" not in [b.label for b in at.button]
    assert at.dataframe


def _unlogged_notices(seeded: SeededStore, at: AppTest) -> list[str]:
    view: common.View = at.session_state["_view"]
    found = queries.deployments_without_logs(seeded.engine, view.since, view.until)
    return [d.notice for d in found]


@pytest.mark.parametrize("page", ["views/latency.py", "views/errors.py"])
def test_a_deployment_with_metrics_but_no_log_rows_is_named_not_hidden(
    seeded: SeededStore, page: str
) -> None:
    at = run(page)
    expected = _unlogged_notices(seeded, at)
    assert [n.split(" has ")[0] for n in expected] == [f"{POOL_TWIN} on contoso-swedencentral"]
    assert "no request-log rows in Log Analytics" in expected[0]
    assert "latency percentiles and failed-request look-ups are unavailable" in expected[0]
    assert [w for w in warnings(at) if "request-log rows" in w] == expected


def test_lookup_names_the_deployments_whose_calls_are_not_logged(seeded: SeededStore) -> None:
    at = run("views/lookup.py")
    expected = _unlogged_notices(seeded, at)
    assert expected and all(n in infos(at) for n in expected)
    missing = "0F8FAD5B-D9CB-469F-A165-70867728950E"
    at = run("views/lookup.py", id=missing)
    assert all(n in infos(at) for n in expected)


def test_the_notice_follows_the_sidebar_filters(seeded: SeededStore) -> None:
    at = run("views/latency.py", deployment="support-bot")
    assert not [w for w in warnings(at) if "request-log rows" in w]
    at = run("views/latency.py", deployment=POOL_TWIN)
    assert [w for w in warnings(at) if "request-log rows" in w]


def test_health_page_shows_the_observed_log_lag(seeded: SeededStore) -> None:
    at = run("views/health.py")
    view: common.View = at.session_state["_view"]
    lags = queries.log_lag(seeded.engine, view.now)
    table = table_with(at, "resource", "log lag")
    assert list(table["resource"]) == [x.resource for x in lags]
    assert list(table["log lag"]) == [
        common.fmt_age(x.lag) if x.lag is not None else common.DASH for x in lags
    ]
    assert any("Observed log lag" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("start", "stop"),
    [
        ("0001-01-01", "9999-12-31"),
        ("9999-12-31T23:59", "9999-12-31"),
        ("not-a-date", "2026-13-45"),
        ("0001-01-01T00:00+14:00", "9999-12-31T23:59:59-12:00"),
    ],
)
def test_a_crafted_custom_range_in_the_url_never_breaks_the_page(
    seeded: SeededStore, start: str, stop: str
) -> None:
    at = run(range="custom", **{"from": start, "to": stop})  # run() asserts no exception
    view: common.View = at.session_state["_view"]
    assert view.since < view.until


def test_a_typed_id_with_markdown_is_shown_as_text_not_as_a_link(seeded: SeededStore) -> None:
    at = run("views/lookup.py")
    at.text_input[0].set_value("[re-authenticate](https://evil.example) ![x](https://evil/b.png)")
    at.run()
    assert not at.exception
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    assert shown and all("](https" not in s.replace("\\]\\(", "") for s in shown), shown
    assert any("\\[re\\-authenticate\\]\\(https" in s for s in shown), shown
