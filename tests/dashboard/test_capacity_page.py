"""The Capacity page (issue 17) on the seeded store: its table shows the query module's
headroom per pool, its chart the utilization series, and the limits' source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from collector.quota_limits import QuotaSettings
from collector.store.queries.headroom import pool_headroom
from dashboard import common
from tests.dashboard.conftest import APP, SeededStore
from tests.dashboard.test_cache_and_publishers import charts_by_title

TIMEOUT = 30


def _capacity(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    at.switch_page("views/capacity.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_capacity_table_shows_the_headroom_of_each_pool(seeded: SeededStore) -> None:
    at = _capacity()
    view: common.View = at.session_state["_view"]
    expected = pool_headroom(seeded.engine, view.since, view.until, QuotaSettings())
    rows = {r["pool"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert set(rows) == {p.key.label for p in expected}
    for pool in expected:
        row = rows[pool.key.label]
        assert row["limit_rpm"] == pool.by_limit["rpm"].value
        assert row["peak_rpm"] == pytest.approx(pool.by_limit["rpm"].utilization, abs=1e-4)
        assert row["throttled_minutes"] == pool.throttled_minutes
        assert row["deployments"] == len(pool.deployments)
        assert row["source"] == "shipped default"
        assert row["level"] == (pool.binding_level or "")  # a day: 429 minutes traced
    # the chart: the first pool's utilization per step; its highest step is the window's peak
    first = expected[0]
    assert at.selectbox[0].value == first.key.label
    data = charts_by_title(at)[f"Peak minute per {view.step} / limit"]
    for limit in ("rpm", "itpm", "otpm"):
        shown = data[data["limit"] == limit.upper()]["utilization"].max()
        assert shown == pytest.approx(first.by_limit[limit].utilization)


def test_granted_limits_from_the_settings_show_as_setting(
    seeded: SeededStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    view_pools = pool_headroom(
        seeded.engine,
        seeded.seed.start,
        seeded.seed.end + timedelta(minutes=1),
        QuotaSettings(),
    )
    pool = next(p for p in view_pools if p.key.model == "claude-sonnet-4-5")
    key = f"{pool.key.subscription_id}/claude-sonnet-4-5"
    monkeypatch.setenv("FOUNDRY_MONITOR_QUOTA_LIMITS", f'{{"{key}": {{"rpm": 12345}}}}')
    at = _capacity()
    rows = {r["pool"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert rows[pool.key.label]["limit_rpm"] == 12345
    assert rows[pool.key.label]["source"] == "mixed"


def test_the_overview_marks_deployments_whose_pool_peaked_over_80_percent(
    seeded: SeededStore,
) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    view: common.View = at.session_state["_view"]
    pools = pool_headroom(seeded.engine, view.since, view.until, QuotaSettings())
    expected: dict[tuple[str, str], float] = {}
    for pool in pools:
        peak = max(h.utilization for h in pool.by_limit.values() if h.utilization is not None)
        for member in pool.deployments:
            expected[(member.resource, member.deployment)] = peak
    rows = at.dataframe[0].value.to_dict("records")
    shown = {(r["resource"], r["deployment"]) for r in rows}
    marked = {(r["resource"], r["deployment"]) for r in rows if r["pool_mark"]}
    assert marked == {k for k, peak in expected.items() if peak >= 0.8 and k in shown}
    assert marked  # the seed's pools run hot against the pay-as-you-go defaults
    for row in rows:
        key = (row["resource"], row["deployment"])
        if key in expected:
            assert row["pool_peak"] == pytest.approx(expected[key])
