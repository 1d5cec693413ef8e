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


def test_pool_utilization_peaks_at_the_headroom_peak_of_each_pool(
    store: Engine, seeded: seed.Seed
) -> None:
    """A pool's signal over one-minute windows peaks where ``headroom`` says the pool peaked:
    its binding limit's peak minute / limit, in %; ``all`` is the fullest pool."""
    from collector.store.queries.headroom import pool_headroom

    since, until = seeded.start, seeded.end
    pools = {"/".join(p.key): p for p in pool_headroom(store, since, until, deployments=False)}
    busy = {k for k, p in pools.items() if any(x.peak for x in p.by_limit.values())}
    known = {k: p for k, p in pools.items() if p.binding_limit is not None and k in busy}
    assert known, "the seeded store has busy pools with known limits"
    for scope_kind in ("pool", "all"):
        (rule,) = parse_rules(
            [{"name": "u", "signal": "pool_utilization", "op": ">", "threshold": 80,
              "window_minutes": 1, "scope": scope_kind}]
        )  # fmt: skip
        series = compute(Context.load(store, seeded.end), rule, since, until)
        peaks = {
            s.key: max((v for _, v in vs if v is not None), default=None)
            for s, vs in series.items()
        }
        expected = {
            k: 100.0 * p.by_limit[p.binding_limit].utilization  # type: ignore[index,operator]
            for k, p in known.items()
        }
        if scope_kind == "pool":
            assert {k: peaks[k] for k in expected} == pytest.approx(expected)
            assert set(peaks) == busy  # a pool without a minute of traffic has no values
        else:
            assert peaks == {"all": pytest.approx(max(expected.values()))}


def test_a_pool_scope_is_the_headroom_pool_of_the_deployment(
    store: Engine, seeded: seed.Seed
) -> None:
    """Traffic signals scoped ``pool`` group deployments as the headroom reads do (model,
    version, kind and zone in one subscription), not by model alone."""
    from collector.store.queries.headroom import stored_pools

    (rule,) = parse_rules(
        [{"name": "r", "signal": "requests", "op": "<", "threshold": 1, "scope": "pool"}]
    )
    series = compute(Context.load(store, seeded.end), rule, seeded.start, seeded.end)
    assert {s.key for s in series} <= {"/".join(k) for k in stored_pools(store)}
    assert series
