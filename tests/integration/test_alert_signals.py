"""Signal values agree with the store's summary over the same window (both DBs), and the spend
signals follow the spend tables and the budgets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from collector.alerts.rules import parse_rules
from collector.alerts.run import replay
from collector.alerts.signals import Context, compute
from collector.config import Settings
from collector.store import queries
from tests import seed

M = timedelta(minutes=1)


@pytest.fixture
def seeded(store: Engine) -> seed.Seed:
    return seed.build(store)


@pytest.mark.parametrize(
    ("signal", "field"),
    [
        ("rate_429", "rate_429"),
        ("error_rate", "error_rate"),
        ("p95_ms", "p95_ms"),
        ("requests", "requests"),
        ("ttft_avg_ms", "ttft_avg_ms"),
    ],
)
def test_a_signal_equals_the_summary_over_its_window(
    store: Engine, seeded: seed.Seed, signal: str, field: str
) -> None:
    (rule,) = parse_rules(
        [{"name": "r", "signal": signal, "op": ">", "threshold": 0, "window_minutes": 7}]
    )
    ctx = Context.load(store, seeded.end)
    since, until = seeded.start + 30 * M, seeded.start + 90 * M
    series = compute(ctx, rule, since, until)
    assert series
    checked = 0
    for scope, values in series.items():
        resource, deployment = scope.label("resource"), scope.label("deployment")
        for minute, value in values[::13]:
            (row,) = queries.summary(
                store, minute - 6 * M, minute + M, resource=resource, deployment=deployment
            )
            expected = getattr(row, field)
            if expected is None:
                assert value is None
            else:
                assert value == pytest.approx(float(expected)), (scope.key, minute)
            checked += 1
    assert checked >= 10


def test_a_resource_scope_sums_its_deployments_parts(store: Engine, seeded: seed.Seed) -> None:
    (rule,) = parse_rules(
        [{"name": "r", "signal": "rate_429", "op": ">", "threshold": 0, "scope": "resource"}]
    )
    minute = seeded.start + 60 * M
    series = compute(Context.load(store, seeded.end), rule, minute, minute + M)
    for scope, ((_, value),) in series.items():
        rows = queries.summary(store, minute - 4 * M, minute + M, resource=scope.key)
        requests = sum(r.requests for r in rows)
        throttled = sum(r.status_429 for r in rows)
        assert value == (pytest.approx(throttled / requests) if requests else None)


def test_spend_day_and_budget_forecast_follow_the_spend_tables(
    store: Engine, seeded: seed.Seed
) -> None:
    rules = [
        {"name": "spend", "signal": "spend_day", "op": ">", "threshold": 0, "scope": "all"},
        {"name": "budget", "signal": "budget_forecast", "op": ">", "threshold": 1.0},
    ]
    deployment = next(iter(seeded.deployment_ids))
    settings = Settings(
        alert_rules=rules, budgets=[{"deployment": deployment, "monthly_usd": 0.01}]
    ).alerts
    day_start = seeded.end.replace(hour=0, minute=0)
    ctx = Context.load(store, seeded.end, settings.budgets)
    spend = compute(ctx, settings.rules[0], day_start, day_start + M)
    ((_, ((_, total),)),) = spend.items()
    expected = sum(
        (s.billed_allocated if s.billed_allocated is not None else s.estimated) or Decimal(0)
        for s in queries.spend_days(store, day_start, day_start + M)
    )
    assert total == pytest.approx(float(expected)) and total > 0
    found = replay(store, settings, day_start, seeded.end, rules=[settings.rules[1]])
    assert [e.scope for e in found] == [deployment]
    assert found[0].peak > 1.0
