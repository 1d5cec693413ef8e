"""Deployments with metrics but no request-log rows are named, on both databases: the query
module, ``doctor`` and the observed log lag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from collector.doctor import _unlogged
from collector.emulator import EmulatorServer
from collector.store import queries, rollup
from collector.store.types import to_utc
from collector.store.writer import upsert
from tests import seed as seeding

NOTICE = (
    "support-bot on contoso-eastus2 has {n:,} requests in Azure Monitor but no request-log rows "
    "in Log Analytics: diagnostic settings may not send RequestResponse logs for it, or Azure "
    "does not log these calls; latency percentiles and failed-request look-ups are unavailable "
    "for it."
)


def test_a_deployment_with_metrics_but_no_log_rows_is_named(store: Engine) -> None:
    built = seeding.build(store, minutes=90, unlogged=("support-bot",))
    support = built.deployment_ids["support-bot"]
    found = queries.deployments_without_logs(store, built.start, built.end)
    assert [d.deployment for d in found] == ["support-bot"]
    (item,) = found
    expected = sum(1 for r in built.requests if r.deployment_id == support and r.ts < item.until)
    assert item.requests == expected > 0
    assert item.deployment_id == support and item.logs_collected
    assert item.notice == NOTICE.format(n=expected)
    # the sidebar's filters apply
    others = [i for n, i in built.deployment_ids.items() if n != "support-bot"]
    assert (
        queries.deployments_without_logs(store, built.start, built.end, deployment_ids=others) == []
    )
    # doctor says the same, as a failing check with the fix
    (check,) = _unlogged(store, built.end)
    assert not check.ok and check.name == "request logs"
    assert check.target == "contoso-eastus2/support-bot"
    assert "no request-log rows in Log Analytics" in check.detail
    assert "diagnostic settings" in check.fix


def test_every_deployment_logging_means_no_notice(store: Engine) -> None:
    built = seeding.build(store, minutes=60)
    assert queries.deployments_without_logs(store, built.start, built.end) == []
    assert _unlogged(store, built.end) == []


def test_requests_newer_than_the_newest_log_row_are_not_yet_missing(store: Engine) -> None:
    """Logs trail metrics (sometimes by more than 10 minutes): metrics after the newest log
    minute are not compared, so a deployment used only there is not flagged, and the lag shows."""
    built = seeding.build(store, minutes=60)
    idle = built.deployment_ids["claude-opus-4-1"]  # no traffic in the seed
    late = [built.end + timedelta(minutes=m) for m in range(12)]
    with store.begin() as conn:
        upsert(
            conn,
            "metric_minute",
            [
                {
                    "ts": minute,
                    "deployment_id": idle,
                    "metric": queries.REQUESTS,
                    "status_code": 200,
                    "total": 5.0,
                    "count": 5.0,
                }
                for minute in late
            ],
        )
        rollup.refresh(conn, late[0], late[-1] + timedelta(minutes=1), hist=False)
    window_end = built.end + timedelta(minutes=15)
    assert queries.deployments_without_logs(store, built.start, window_end) == []
    lags = {x.resource: x for x in queries.log_lag(store, window_end)}
    sweden = lags["contoso-swedencentral"]
    assert sweden.newest_metric == late[-1]
    assert sweden.newest_log == built.end - timedelta(minutes=1)
    assert sweden.lag == timedelta(minutes=12)
    assert lags["contoso-eastus2"].lag == timedelta(0)


def test_summary_names_them_on_stderr(
    store: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.test_cli_read import Run

    built = seeding.build(store, minutes=30, unlogged=("support-bot",))
    run = Run(monkeypatch, capsys, store.url.render_as_string(hide_password=False))
    since, until = built.start.isoformat(), built.end.isoformat()
    code, out, err = run("summary", "--since", since, "--until", until)
    (item,) = queries.deployments_without_logs(store, built.start, built.end)
    assert code == 0 and "support-bot" in out
    assert err.splitlines() == [f"note: {item.notice}"]
    code, out, err = run("summary", "--since", since, "--until", until, "--deployment", "old-bot")
    assert "note:" not in err


def test_doctor_reports_them_among_its_checks(
    store: Engine, db_url: str, emulator: EmulatorServer
) -> None:
    from collector.azure import AzureClients, CallCounter
    from collector.doctor import run_checks
    from collector.emulator import StaticTokenCredential
    from tests.integration.conftest import emulator_settings

    built = seeding.build(store, minutes=30, unlogged=("support-bot",))
    settings = emulator_settings(emulator, db_url)
    clients = AzureClients(
        settings, StaticTokenCredential(emulator.token), CallCounter(), retry_total=0
    )
    checks = run_checks(settings, clients, engine=store, now=built.end)
    flagged = [c for c in checks if c.name == "request logs"]
    (item,) = queries.deployments_without_logs(store, built.end - timedelta(days=1), built.end)
    assert [(c.ok, c.target, c.detail) for c in flagged] == [
        (False, "contoso-eastus2/support-bot", item.notice)
    ]


def test_log_lag_equals_the_newest_stored_minutes_for_every_window_start(store: Engine) -> None:
    """``log_lag`` reads only each resource's newest quarter hour of minutes (found from the
    quarter-hour rollup): it must name the same newest minutes as reading every minute of the
    window, also when the window starts inside a resource's newest quarter or after it."""
    from sqlalchemy import func, select

    from collector.store.schema import TABLES

    # the minutes cross midnight; an idle deployment has a few minutes three hours earlier only
    built = seeding.build(store, minutes=50, start=datetime(2026, 11, 1, 23, 40, tzinfo=UTC))
    early = [built.start - timedelta(hours=3, minutes=m) for m in (0, 7, 20)]
    with store.begin() as conn:
        upsert(
            conn,
            "metric_minute",
            [_requests(built.deployment_ids["claude-opus-4-1"], t) for t in early],
        )
        rollup.refresh(conn, early[-1], early[0] + timedelta(minutes=1), hist=False)
    d, metric, hist = TABLES["deployment"], TABLES["metric_minute"], TABLES["latency_hist"]

    def brute(table: Any, since: datetime, *where: Any) -> dict[str, datetime]:
        query = (
            select(d.c.resource_id, func.max(table.c.ts))
            .select_from(table.join(d, d.c.id == table.c.deployment_id))
            .where(table.c.ts >= since, *where)
            .group_by(d.c.resource_id)
        )
        with store.connect() as conn:
            return {rid: to_utc(ts) for rid, ts in conn.execute(query)}

    lookback = timedelta(hours=1)
    checked = 0
    for offset in range(-200, 55, 3):  # windows starting before, inside and after the minutes
        since = built.start + timedelta(minutes=offset)
        metrics = brute(metric, since, metric.c.metric == queries.REQUESTS)
        logs = brute(hist, since)
        got = {x.resource_id: x for x in queries.log_lag(store, since + lookback, lookback)}
        assert {rid: x.newest_metric for rid, x in got.items() if x.newest_metric} == metrics
        assert {rid: x.newest_log for rid, x in got.items() if x.newest_log} == logs
        assert set(got) == set(metrics) | set(logs)
        checked += bool(metrics)
    assert checked >= 60  # most windows hold minutes


def _requests(deployment_id: int, minute: datetime) -> dict[str, Any]:
    return {
        "ts": minute,
        "deployment_id": deployment_id,
        "metric": queries.REQUESTS,
        "status_code": 200,
        "total": 3.0,
        "count": 3.0,
    }
