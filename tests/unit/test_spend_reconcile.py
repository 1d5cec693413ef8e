"""Reconciliation: variance, drift flag, provisional until final; the day's figures; credits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from collector.spend.credits import credits_warning, is_claude_charge
from collector.spend.daily import Bill, DeploymentRef, Tokens, compute_days
from collector.spend.prices import default_sheet
from collector.spend.reconcile import FINAL, PROVISIONAL, day_status, month_closed, variance

DAY = date(2025, 11, 20)
NOW = datetime(2025, 11, 22, 7, tzinfo=UTC)


def test_variance_is_billed_minus_estimated_and_drift_is_beyond_the_threshold() -> None:
    assert variance(Decimal(100), Decimal(115), 0.15).drift is False  # exactly the threshold
    got = variance(Decimal(100), Decimal("115.01"), 0.15)
    assert got.variance == Decimal("15.01") and got.drift
    assert variance(Decimal(100), Decimal(84), 0.15).drift  # below, too
    assert variance(Decimal(0), Decimal(3), 0.15).drift  # billed with nothing estimated
    assert variance(None, Decimal(3)) == variance(Decimal(3), None)
    assert variance(None, Decimal(3)).variance is None


def test_a_day_is_provisional_until_its_cost_is_unchanged_for_n_days() -> None:
    changed = datetime(2025, 11, 21, 6, tzinfo=UTC)
    seen = changed + timedelta(days=3)
    assert day_status(DAY, NOW, None, None, 3) == PROVISIONAL  # no cost row yet
    assert day_status(DAY, NOW, changed, seen - timedelta(seconds=1), 3) == PROVISIONAL
    assert day_status(DAY, NOW, changed, seen, 3) == FINAL


def test_a_day_is_final_once_its_month_closed() -> None:
    assert not month_closed(DAY, datetime(2025, 12, 3, 23, tzinfo=UTC), 3)
    assert month_closed(DAY, datetime(2025, 12, 4, tzinfo=UTC), 3)
    assert month_closed(date(2025, 12, 31), datetime(2026, 1, 4, tzinfo=UTC), 3)
    assert day_status(DAY, datetime(2025, 12, 4, tzinfo=UTC), None, None, 3) == FINAL


RES = "/subscriptions/s/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/a"
DEPS = [
    DeploymentRef(1, RES, "chat", "claude-sonnet-4-5", "a"),
    DeploymentRef(2, RES, "support-bot", "claude-sonnet-4-5", "a"),  # same model, custom name
    DeploymentRef(3, RES, "claude-haiku-4-5", "claude-opus-4-1", "a"),  # name is not the model
]


def test_prices_follow_the_model_and_the_bill_is_allocated_to_the_cent() -> None:
    tokens = {(DAY, 1): Tokens(1_000_000, 0), (DAY, 2): Tokens(0, 100_000), (DAY, 3): Tokens(0, 0)}
    bills = {(DAY, RES): Bill(Decimal("5.00"))}
    deps, [res] = compute_days(DEPS, tokens, bills, default_sheet(), NOW)
    by_id = {d.deployment_id: d for d in deps}
    assert by_id[1].estimated == Decimal(3) and by_id[2].estimated == Decimal("1.5")
    assert by_id[3].estimated == 0 and not by_id[3].unpriced  # opus-4-1 prices, zero tokens
    assert (by_id[1].billed_allocated, by_id[2].billed_allocated) == (
        Decimal("3.33"),
        Decimal("1.67"),
    )
    assert (res.estimated, res.billed, res.unallocated) == (Decimal("4.5"), Decimal(5), 0)
    assert res.variance == Decimal("0.5") and not res.drift_flagged  # 11 % <= 15 %
    assert {d.status for d in deps} == {res.status} == {PROVISIONAL}


def test_an_unpriced_deployment_leaves_its_resources_bill_unallocated() -> None:
    deps = [*DEPS, DeploymentRef(4, RES, "new", "claude-opus-7", "a")]
    tokens = {(DAY, 1): Tokens(10, 10), (DAY, 4): Tokens(10, 10)}
    rows, [res] = compute_days(
        deps, tokens, {(DAY, RES): Bill(Decimal("1.00"))}, default_sheet(), NOW
    )
    by_id = {d.deployment_id: d for d in rows}
    assert by_id[4].unpriced and by_id[4].estimated is None
    assert by_id[1].estimated is not None and by_id[1].billed_allocated is None
    assert res.estimated is None and res.unallocated == Decimal("1.00") and res.variance is None


def test_a_bill_without_token_data_is_unallocated_and_flagged() -> None:
    rows, [res] = compute_days(DEPS, {}, {(DAY, RES): Bill(Decimal("2.50"))}, default_sheet(), NOW)
    assert rows == []
    assert (res.billed, res.unallocated, res.estimated, res.drift_flagged) == (
        Decimal("2.50"),
        Decimal("2.50"),
        0,
        True,
    )


def test_tokens_before_the_bill_arrives_have_no_allocation_yet() -> None:
    rows, [res] = compute_days(DEPS, {(DAY, 1): Tokens(5, 5)}, {}, default_sheet(), NOW)
    assert rows[0].billed_allocated is None and res.billed is None and res.unallocated is None


def test_a_discount_lowers_the_estimate() -> None:
    from collector.spend.prices import PriceSheet

    sheet = default_sheet()
    discounted = PriceSheet(sheet.prices, {"a": Decimal("0.25")})
    [row], _ = compute_days(DEPS, {(DAY, 1): Tokens(1_000_000, 0)}, {}, discounted, NOW)
    assert row.estimated == Decimal("2.25")


def test_only_claude_marketplace_rows_are_claude_charges_and_the_warning_can_be_off() -> None:
    assert is_claude_charge("Marketplace", "Claude Consumption Units")
    assert not is_claude_charge("Azure", "gpt-4o-mini-0718 Inp glbl Tokens")
    assert not is_claude_charge("Marketplace", "Some Other Offer")
    text = credits_warning(Decimal("12.5"))
    assert text and "Azure credits" in text and "12.50" in text
    assert credits_warning(Decimal("12.5"), enabled=False) is None
    assert credits_warning(Decimal(0)) is None
