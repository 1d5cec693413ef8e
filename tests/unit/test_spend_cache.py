"""Cache-aware spend: every token type at its price, ContextLength tiers, savings, and
deployments of other publishers kept out of Claude's bill."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from collector.errors import ConfigError
from collector.spend.daily import Bill, DeploymentRef, compute_days, is_claude_deployment
from collector.spend.estimate import (
    CacheTokens,
    Tokens,
    cache_part,
    cache_savings,
    estimate_cost,
    estimate_tokens,
    merge_cache,
)
from collector.spend.prices import default_sheet, parse_sheet

DAY = date(2025, 11, 20)
NOW = datetime(2025, 11, 22, 7, tzinfo=UTC)
M = 1_000_000
RES = "/subscriptions/s/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/a"


def test_each_token_type_is_priced_at_its_own_price() -> None:
    sheet = default_sheet()
    # sonnet-4-5: input 3, output 15, 5-min write 3.75, 1-h write 6, read 0.30 per million
    cache = (CacheTokens("<=200K", read=10 * M, write_5m=2 * M, write_1h=M),)
    got = estimate_cost(sheet, "claude-sonnet-4-5", DAY, M, M, cache=cache)
    assert got == Decimal(3 + 15) + Decimal("7.5") + Decimal(6) + Decimal(3)


def test_the_savings_are_reads_at_input_price_less_what_reads_and_write_premiums_cost() -> None:
    sheet = default_sheet()
    cache = (CacheTokens("", read=10 * M, write_5m=2 * M, write_1h=M),)
    # reads save (3 - 0.30) x 10 = 27; 5-min writes cost (3.75 - 3) x 2 = 1.5 more; 1-h (6-3) x 1
    assert cache_savings(sheet, "claude-sonnet-4-5", DAY, cache) == Decimal("22.5")
    only_writes = (CacheTokens("", write_1h=M),)
    assert cache_savings(sheet, "claude-sonnet-4-5", DAY, only_writes) == Decimal(-3)


def test_a_discount_applies_to_cache_tokens_too() -> None:
    sheet = default_sheet()
    cache = (CacheTokens("", read=10 * M),)
    assert estimate_cost(sheet, "claude-haiku-4-5", DAY, 0, 0, Decimal("0.5"), cache=cache) == (
        Decimal("0.5")
    )


def test_a_context_length_label_maps_to_the_long_tier() -> None:
    sheet = default_sheet()
    long = (CacheTokens(">200K", read=M, write_5m=M, write_1h=M),)
    # sonnet's long tier: read 0.60, write 7.50, 1-h write 12
    assert estimate_cost(sheet, "claude-sonnet-4-5", DAY, 0, 0, cache=long) == Decimal("20.1")
    # haiku has no long tier: its base prices apply (0.10 + 1.25 + 2)
    assert estimate_cost(sheet, "claude-haiku-4-5", DAY, 0, 0, cache=long) == Decimal("3.35")
    assert sheet.tier(">200k") == "long" and sheet.tier(" <=200K ") == "base"


def test_an_unmapped_label_is_priced_at_the_base_tier_and_reported() -> None:
    sheet = default_sheet()
    odd = (CacheTokens("ctx-32768", read=M),)
    assert estimate_cost(sheet, "claude-sonnet-4-5", DAY, 0, 0, cache=odd) == Decimal("0.3")
    assert sheet.unmapped(["ctx-32768", "", "<=200K", ">200K", "ctx-32768"]) == ["ctx-32768"]


def test_cache_tokens_without_a_cache_price_leave_the_model_unpriced() -> None:
    sheet = parse_sheet(
        {"price": [{"model": "m", "effective_from": DAY, "input": 1, "output": 2}]}, "test"
    )
    assert estimate_cost(sheet, "m", DAY, M, M) == Decimal(3)
    assert estimate_cost(sheet, "m", DAY, M, M, cache=(CacheTokens("", read=1),)) is None
    assert cache_savings(sheet, "m", DAY, (CacheTokens("", write_5m=1),)) is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"context_length": {">200K": "huge"}}, "the tier must be one of base, long"),
        ({"context_length": ["x"]}, "[context_length] must be a table"),
    ],
)
def test_a_bad_context_length_table_says_what_to_fix(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_sheet(table, "file:prices.toml")


def test_cache_parts_merge_per_label() -> None:
    parts = [
        cache_part("cacheReadInputTokens", "a", 5),
        cache_part("ephemeral5mInputTokens", "a", 2),
        cache_part("ephemeral1hInputTokens", "b", 1),
        cache_part("cacheReadInputTokens", "a", 1),
    ]
    merged = merge_cache(parts)
    assert merged == (CacheTokens("a", 6, 2, 0), CacheTokens("b", 0, 0, 1))
    tokens = Tokens(1, 2, merged)
    assert (tokens.cache_read, tokens.cache_write_5m, tokens.cache_write_1h) == (6, 2, 1)
    with pytest.raises(ValueError, match="not a prompt-cache metric"):
        cache_part("InputTokens", "", 1)


def test_only_anthropic_deployments_are_claude() -> None:
    assert is_claude_deployment("Anthropic", "claude-sonnet-4-5")
    assert is_claude_deployment("anthropic", "my-name-is-not-a-model")
    assert not is_claude_deployment("OpenAI", "gpt-4o-mini")
    assert not is_claude_deployment(None, "gpt-4o-mini")
    assert is_claude_deployment(None, "claude-haiku-4-5")
    assert is_claude_deployment(None, None)  # unknown yet: flagged unpriced, never ignored


def test_other_publishers_keep_their_tokens_but_never_take_a_share_of_claudes_bill() -> None:
    deps = [
        DeploymentRef(1, RES, "chat", "claude-haiku-4-5", "a"),
        DeploymentRef(2, RES, "gpt-4o-mini", "gpt-4o-mini", "a", claude=False),
    ]
    cache = (CacheTokens("<=200K", read=10 * M, write_5m=M),)
    tokens = {(DAY, 1): Tokens(M, M, cache), (DAY, 2): Tokens(3 * M, M)}
    bills = {(DAY, RES): Bill(Decimal("8.00"))}
    other = {(DAY, RES): Decimal("0.75")}
    rows, [res] = compute_days(deps, tokens, bills, default_sheet(), NOW, other_costs=other)
    by_id = {d.deployment_id: d for d in rows}
    haiku, gpt = by_id[1], by_id[2]
    # haiku: 1 + 5 + 1 (reads) + 1.25 (5-min writes) = 8.25
    assert haiku.estimated == Decimal("8.25") and haiku.billed_allocated == Decimal("8.00")
    assert (haiku.cache_read_tokens, haiku.cache_write_5m_tokens) == (10 * M, M)
    assert haiku.cache_savings == Decimal(9) - Decimal("0.25")  # (1 - 0.10) x 10 - 0.25 x 1
    assert gpt.input_tokens == 3 * M and gpt.claude is False
    assert (gpt.estimated, gpt.billed_allocated, gpt.unpriced, gpt.cache_savings) == (
        None,
        None,
        False,
        None,
    )
    assert (res.estimated, res.billed, res.unallocated, res.other_billed) == (
        Decimal("8.25"),
        Decimal("8.00"),
        0,
        Decimal("0.75"),
    )


def test_the_estimate_of_a_tokens_value_equals_estimate_cost() -> None:
    sheet = default_sheet()
    tokens = Tokens(123_456, 7_890, (CacheTokens("", 1_000, 200, 30),))
    assert estimate_tokens(sheet, "claude-opus-4-5", DAY, tokens) == estimate_cost(
        sheet, "claude-opus-4-5", DAY, 123_456, 7_890, cache=tokens.cache
    )
