"""Attribution of Claude Marketplace charges to Foundry accounts, and bills split by model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from collector.spend.attribution import (
    AccountRef,
    Part,
    attribute,
    attribute_charges,
    model_prefix_of,
    parse_resource_id,
)
from collector.spend.credits import is_claude_charge
from collector.spend.daily import Bill, DeploymentRef, split_bill

SUB = "00000000-0000-0000-0000-0000000000f1"
RG = f"/subscriptions/{SUB}/resourcegroups/rg-ai"
EUS2 = f"{RG}/providers/microsoft.cognitiveservices/accounts/contoso-ai-eus2"
SWC = f"{RG}/providers/microsoft.cognitiveservices/accounts/contoso-ai-swc"
OTHER_RG = f"/subscriptions/{SUB}/resourcegroups/rg-web"
ACCOUNTS = [
    AccountRef(
        EUS2,
        SUB,
        "rg-ai",
        "contoso-ai-eus2",
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
        frozenset({"claude-sonnet-4-5", "claude-haiku-4-5"}),
    ),
    AccountRef(
        SWC, SUB, "rg-ai", "contoso-ai-swc", "ffeeddccbbaa99887766554433221100", frozenset({"x"})
    ),
]
DAY = date(2025, 11, 20)


def saas(name: str, group: str = RG) -> str:
    return f"{group}/providers/microsoft.saas/resources/{name}"


def test_resource_ids_parse_case_insensitively() -> None:
    assert parse_resource_id(saas("Claude-X").upper()) == (
        SUB,
        "rg-ai",
        "microsoft.saas/resources",
        "claude-x",
    )
    assert parse_resource_id("") == ("", "", "", "")


def test_a_saas_name_with_the_accounts_internal_id_goes_to_that_account_and_model() -> None:
    name = "claude-sonnet-4-a1b2c3d4e5f6a7b-0123456789abcdef0123456789abcdef"
    how = attribute(saas(name), ACCOUNTS)
    assert how.how == "internal id" and how.accounts == (EUS2,)
    assert how.model_prefix == "claude-sonnet-4"
    assert model_prefix_of(name, "A1B2C3D4E5F6A7B8") == "claude-sonnet-4"
    assert model_prefix_of(name, "0000") is None


def test_a_charge_on_the_account_itself_stays_there() -> None:
    assert attribute(EUS2.upper(), ACCOUNTS).accounts == (EUS2,)


def test_an_unmatched_saas_name_goes_to_its_resource_groups_claude_accounts() -> None:
    how = attribute(saas("claude-opus-4-5-zzzzzzzzzzzzzzz-00"), ACCOUNTS)
    assert how.how == "resource group" and how.accounts == (EUS2, SWC)
    assert how.model_prefix is None  # no account of the group runs that model
    # a stale internal id: the model prefix still narrows the group to that model's accounts
    how = attribute(saas("claude-haiku-4-5-zzzzzzzzzzzzzzz-00"), ACCOUNTS)
    assert how.how == "resource group" and how.accounts == (EUS2,)
    assert how.model_prefix == "claude-haiku-4"


def test_a_charge_in_a_group_without_claude_deployments_is_unattributed() -> None:
    assert attribute(saas("claude-opus-4-5-x", OTHER_RG), ACCOUNTS).how == "unattributed"


def test_the_setting_overrides_by_id_or_name() -> None:
    name = "claude-sonnet-4-a1b2c3d4e5f6a7b-00"
    assert attribute(saas(name), ACCOUNTS, {name.upper(): "contoso-ai-swc"}).accounts == (SWC,)
    other = saas("anything", OTHER_RG)
    assert attribute(other, ACCOUNTS, {other: SWC}).how == "setting"
    assert attribute(other, ACCOUNTS, {other: "no-such-account"}).how == "unattributed"


def test_charges_spread_by_the_accounts_estimates_to_the_cent() -> None:
    group = saas("claude-opus-4-5-unknown-00")
    lost = saas("claude-opus-4-5-x", OTHER_RG)
    out = attribute_charges(
        {(DAY, group): Decimal("10.00"), (DAY, lost): Decimal("2.50")},
        ACCOUNTS,
        {
            (DAY, EUS2, "claude-sonnet-4-5"): Decimal("2"),
            (DAY, EUS2, "claude-haiku-4-5"): Decimal("1"),
            (DAY, SWC, "x"): Decimal("1"),
        },
    )
    assert out.parts[(DAY, EUS2)] == [Part(None, Decimal("7.50"))]
    assert out.parts[(DAY, SWC)] == [Part(None, Decimal("2.50"))]
    assert out.unattributed == {(DAY, lost): Decimal("2.50")}
    # without estimates the whole charge lands on the first account (shown there unallocated)
    out = attribute_charges({(DAY, group): Decimal("10.00")}, ACCOUNTS, {})
    assert out.parts == {(DAY, EUS2): [Part(None, Decimal("10.00"))]}


def test_a_bill_part_naming_a_model_goes_over_that_models_deployments() -> None:
    deps = [
        DeploymentRef(1, EUS2, "sonnet", "claude-sonnet-4-5"),
        DeploymentRef(2, EUS2, "bot", "claude-sonnet-4-5"),
        DeploymentRef(3, EUS2, "haiku", "claude-haiku-4-5"),
    ]
    estimates = {1: Decimal("1"), 2: Decimal("3"), 3: Decimal("4")}
    bill = Bill(
        Decimal("12.00"),
        parts=(Part("claude-sonnet-4", Decimal("8.00")), Part("claude-haiku-4-", Decimal("4.00"))),
    )
    shares, unallocated = split_bill(bill, deps, estimates)
    assert shares == {1: Decimal("2.00"), 2: Decimal("6.00"), 3: Decimal("4.00")}
    assert unallocated == 0
    # a part whose model has no deployment here goes over all of them
    shares, _ = split_bill(
        Bill(Decimal("8.00"), parts=(Part("claude-opus-4-1", Decimal(8)),)), deps, estimates
    )
    assert shares == {1: Decimal("1.00"), 2: Decimal("3.00"), 3: Decimal("4.00")}


@pytest.mark.parametrize(
    ("publisher", "meter", "resource", "claude"),
    [
        ("Marketplace", "Claude Consumption Units", EUS2, True),
        ("Marketplace", "claude-sonnet-4-5 - paygo-inference-input-tokens", saas("x"), True),
        ("Marketplace", "Azure hosted", saas("claude-sonnet-4-a1b2-00"), True),
        ("Marketplace", "Anthropic hosted", saas("CLAUDE-OPUS-4-5-a1b2-00"), True),
        ("Marketplace", "Azure hosted", saas("datadog-12-00"), False),
        ("Azure", "gpt-4o-mini-0718 Inp glbl Tokens", EUS2, False),
        ("Azure", "Claude Consumption Units", EUS2, False),
    ],
)
def test_claude_charges_are_told_by_meter_or_saas_name(
    publisher: str, meter: str, resource: str, claude: bool
) -> None:
    assert is_claude_charge(publisher, meter, resource) is claude
