"""Cache-aware spend end to end (both databases): the emulator serves Azure's Anthropic
prompt-cache metrics and ``NormalizedTimeToFirstToken``; the collector reads them through the real
SDK clients, prices every token type and allocates each resource's Claude Marketplace bill by
that estimate. Compared with the emulator's truth per deployment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.emulator import EmulatorServer
from collector.runner import Collector
from collector.spend import refresh_spend
from collector.store import queries
from collector.store.schema import TABLES
from tests.integration.conftest import BACKFILL_DAYS, COLLECTOR_NOW, END, collected
from tests.integration.test_collector import snapshot

SOURCES = ["inventory", "metrics", "costs"]
SINCE, UNTIL = END - timedelta(days=1), END + timedelta(hours=1)
CACHE_KEYS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


def _collect(make_collector: Callable[..., Collector], store: Engine) -> Collector:
    collector = collected(make_collector, SOURCES)
    refresh_spend(store, collector.settings, COLLECTOR_NOW)
    return collector


def _truth_totals(truth: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (resource id, deployment): the truth's day entries summed."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for dep in truth["deployments"]:
        sums: dict[str, Any] = defaultdict(int)
        for day in dep["days"]:
            for key in ("input_tokens", "output_tokens", *CACHE_KEYS):
                sums[key] += day[key]
            sums["true_cost"] += Decimal(str(day["true_cost"]))
            sums["model_format"] = day.get("model_format", dep.get("model_format"))
        out[(dep["resource"].lower(), dep["deployment"])] = dict(sums)
    return out


def _summary(store: Engine) -> dict[tuple[str, str], queries.DeploymentSummary]:
    return {(r.resource_id, r.deployment): r for r in queries.summary(store, SINCE, UNTIL)}


def test_cache_tokens_equal_the_truth_and_the_estimate_is_within_half_a_percent(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    _collect(make_collector, store)
    rows, want = _summary(store), _truth_totals(truth)
    assert set(rows) == set(want)
    claude = [k for k, w in want.items() if w["model_format"] == "Anthropic"]
    assert len(claude) >= 7 and len(want) > len(claude)  # and at least one other publisher
    for key in claude:
        got, w = rows[key], want[key]
        assert (got.input_tokens, got.output_tokens) == (w["input_tokens"], w["output_tokens"])
        assert tuple(getattr(got, k) for k in CACHE_KEYS) == tuple(w[k] for k in CACHE_KEYS), key
        assert got.cache_read_tokens > 0 and got.cache_write_5m_tokens > 0, key
        assert got.claude
        assert got.spend_estimated is not None
        assert abs(got.spend_estimated - w["true_cost"]) <= w["true_cost"] * Decimal("0.005"), (
            key,
            got.spend_estimated,
            w["true_cost"],
        )
        prompt = w["input_tokens"] + w["cache_read_tokens"]
        prompt += w["cache_write_5m_tokens"] + w["cache_write_1h_tokens"]
        assert got.cache_hit_rate == pytest.approx(w["cache_read_tokens"] / prompt)
        assert got.cache_savings is not None and got.cache_savings > 0
        assert got.ttft_avg_ms is not None and 0 < got.ttft_avg_ms < (got.p99_ms or 1e9)


def test_the_bill_is_allocated_by_the_cache_aware_estimate(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    _collect(make_collector, store)
    rows, want = _summary(store), _truth_totals(truth)
    billed: dict[tuple[str, date], Decimal] = {
        (b["resource"].lower(), date.fromisoformat(b["day"])): Decimal(str(b["cost"]))
        for b in truth["billed"]
    }
    for key, w in want.items():
        if w["model_format"] != "Anthropic":
            continue
        got = rows[key].spend_billed
        assert got is not None
        assert abs(got - w["true_cost"]) <= w["true_cost"] * Decimal("0.01"), (key, got)
    s, d = TABLES["spend_daily"], TABLES["deployment"]
    with store.connect() as conn:
        shares = conn.execute(
            select(d.c.resource_id, s.c.day, s.c.billed_allocated, s.c.claude).join(
                d, d.c.id == s.c.deployment_id
            )
        ).all()
    per_day: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for resource, day, allocated, claude in shares:
        if claude:
            per_day[(resource, day)] += Decimal(str(allocated))
    assert billed and dict(per_day) == billed  # to the cent, per resource and day


def test_the_other_publishers_tokens_show_and_their_cost_is_never_allocated(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    _collect(make_collector, store)
    rows, want = _summary(store), _truth_totals(truth)
    others = [k for k, w in want.items() if w["model_format"] != "Anthropic"]
    assert others
    for key in others:
        got = rows[key]
        assert not got.claude
        assert (got.input_tokens, got.output_tokens) == (
            want[key]["input_tokens"],
            want[key]["output_tokens"],
        )
        assert got.input_tokens > 0
        assert tuple(getattr(got, k) for k in CACHE_KEYS) == (0, 0, 0)
        assert not got.spend_billed  # None or zero: never a share of Claude's bill
    azure = defaultdict(Decimal)
    for charge in truth["billed_azure"]:
        azure[(charge["resource"].lower(), date.fromisoformat(charge["day"]))] += Decimal(
            str(charge["cost"])
        ).quantize(Decimal("0.000001"))  # the store keeps money to 6 decimals
    days = {(r.resource_id, r.day): r for r in queries.spend_resource_days(store, SINCE, UNTIL)}
    for key, cost in azure.items():
        if key in days:  # the Foundry account: Claude's bill reconciled, the rest kept apart
            assert days[key].other_billed == cost
            assert days[key].billed == sum(
                Decimal(str(b["cost"]))
                for b in truth["billed"]
                if (b["resource"].lower(), date.fromisoformat(b["day"])) == key
            )


@pytest.mark.parametrize("case", ["lower", "upper"])
def test_metric_names_are_matched_whatever_their_letter_case(
    make_collector: Callable[..., Collector],
    store: Engine,
    emulator: EmulatorServer,
    case: str,
) -> None:
    _collect(make_collector, store)
    expected = snapshot(store)
    emulator.set_metric_name_case(case)
    try:
        collector = make_collector()
        collector.run_once(["metrics"], backfill_days=BACKFILL_DAYS)  # the same minutes again
    finally:
        emulator.set_metric_name_case(None)
    assert snapshot(store) == expected
    m = TABLES["metric_minute"]
    with store.connect() as conn:
        stored = set(conn.execute(select(m.c.metric).distinct()).scalars())
    assert {"cacheReadInputTokens", "InputTokens", "NormalizedTimeToFirstToken"} <= stored


def test_claude_charges_are_attributed_the_way_azure_books_them(
    make_collector: Callable[..., Collector], store: Engine, truth: dict[str, Any]
) -> None:
    """Charges sit on microsoft.saas/resources in the accounts' resource group, not on the
    accounts: by internalId, by resource group (a stale id), or unattributed (no account)."""
    collector = collected(make_collector, SOURCES)
    report = refresh_spend(store, collector.settings, COLLECTOR_NOW)
    how = dict(report.attribution or {})
    assert how and all("/microsoft.saas/resources/" in charge for charge in how)
    kinds = {charge.rsplit("/", 1)[-1][:15]: a.how for charge, a in how.items()}
    assert "internal id" in kinds.values()
    stale = [a for c, a in how.items() if "/resources/claude-opus-4-1" in c]
    assert [a.how for a in stale] == ["resource group"]  # its name carries a stale internalId
    assert stale[0].accounts == (
        f"{truth['billed'][0]['resource'].lower().rsplit('/', 1)[0]}/contoso-ai-swc",
    )
    orphan = [c for c, a in how.items() if a.how == "unattributed"]
    assert len(orphan) == 1 and "/resourcegroups/rg-sandbox/" in orphan[0]
    assert any(line.startswith("unattributed: ") and orphan[0] in line for line in report.warnings)
    # per resource group and day: what the deployments were given, plus what stayed unallocated,
    # is the group's Marketplace charges to the cent
    s, d = TABLES["spend_daily"], TABLES["deployment"]
    with store.connect() as conn:
        given = conn.execute(
            select(d.c.resource_id, s.c.day, s.c.billed_allocated).join(
                d, d.c.id == s.c.deployment_id
            )
        ).all()
    per_group: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for resource, day, allocated in given:
        per_group[(resource.split("/providers/")[0], day)] += Decimal(str(allocated or 0))
    for row in queries.spend_resource_days(store, SINCE, UNTIL):
        per_group[(row.resource_id.split("/providers/")[0], row.day)] += row.unallocated or 0
        if row.resource_id == orphan[0]:  # shown, under a name that says what it is
            assert row.resource.startswith("unattributed: claude-haiku-4")
            assert row.resource.endswith("(rg-sandbox)") and row.billed == row.unallocated
    charged: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    charges = [(c, b["day"]) for b in truth["billed"] for c in b["charges"]]
    charges += [(c, c["day"]) for c in truth["billed_unattributed"]]
    for charge, day in charges:
        group = charge["resource_id"].lower().split("/providers/")[0]
        charged[(group, date.fromisoformat(day))] += Decimal(str(charge["cost"]))
    assert len(charged) == 2 and dict(per_group) == dict(charged)
