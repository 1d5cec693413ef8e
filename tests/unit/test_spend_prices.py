"""The price sheet: shipped defaults, effective dates, overlay, discounts, clear errors."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from collector.errors import ConfigError
from collector.spend.estimate import estimate_cost
from collector.spend.prices import PriceSheet, default_sheet, load_sheet, parse_sheet

DAY = date(2025, 11, 20)


@pytest.mark.parametrize(
    ("model", "input_", "output", "cache_write", "cache_read"),
    [
        ("claude-opus-4-5", "5", "25", "6.25", "0.50"),
        ("claude-sonnet-4-5", "3", "15", "3.75", "0.30"),
        ("claude-opus-4-1", "15", "75", "18.75", "1.50"),
        ("claude-haiku-4-5", "1", "5", "1.25", "0.10"),
    ],
)
def test_the_shipped_sheet_has_the_list_prices_of_the_four_models(
    model: str, input_: str, output: str, cache_write: str, cache_read: str
) -> None:
    sheet = default_sheet()
    got = [sheet.price(model, t, DAY) for t in ("input", "output", "cache_write", "cache_read")]
    assert got == [Decimal(v) for v in (input_, output, cache_write, cache_read)]


def test_a_price_is_looked_up_by_the_version_in_effect_that_day() -> None:
    sheet = parse_sheet(
        {
            "price": [
                {"model": "m", "effective_from": date(2025, 1, 1), "input": 3, "output": 15},
                {"model": "m", "effective_from": date(2025, 6, 1), "input": 2, "output": 10},
            ]
        },
        "test",
    )
    assert sheet.price("m", "input", date(2024, 12, 31)) is None  # before the first version
    assert sheet.price("m", "input", date(2025, 1, 1)) == 3
    assert sheet.price("m", "input", date(2025, 5, 31)) == 3  # old days keep old prices
    assert sheet.price("m", "input", date(2025, 6, 1)) == 2
    assert sheet.price("M ", "output", date(2026, 1, 1)) == 10  # model ids ignore case
    assert sheet.price("m", "cache_read", DAY) is None  # a token type without a price


def test_an_unknown_or_missing_model_is_unpriced_never_zero() -> None:
    sheet = default_sheet()
    assert estimate_cost(sheet, "claude-opus-9", DAY, 1000, 1000) is None
    assert estimate_cost(sheet, None, DAY, 0, 0) is None
    assert estimate_cost(sheet, "claude-opus-4-5", DAY, 0, 0) == 0


def test_the_estimate_is_tokens_times_price_less_the_discount() -> None:
    sheet = default_sheet()
    # 1,234,567 x $3/M + 89,012 x $15/M
    assert estimate_cost(sheet, "claude-sonnet-4-5", DAY, 1_234_567, 89_012) == Decimal("5.038881")
    assert estimate_cost(sheet, "claude-sonnet-4-5", DAY, 1_000_000, 0, Decimal("0.1")) == Decimal(
        "2.700000"
    )


def test_a_price_file_is_laid_over_the_shipped_sheet(tmp_path: Path) -> None:
    file = tmp_path / "prices.toml"
    file.write_text(
        """
[[price]]
model = "claude-sonnet-4-5"
effective_from = 2026-01-01
input = 2.5
output = 12.5

[[price]]
model = "claude-opus-5"
effective_from = 2025-01-01
input = 4
output = 20

[discounts]
"Contoso-AI-EUS2" = 0.15
"""
    )
    sheet = load_sheet(file)
    assert sheet.price("claude-sonnet-4-5", "input", date(2025, 12, 31)) == 3
    assert sheet.price("claude-sonnet-4-5", "input", date(2026, 1, 1)) == Decimal("2.5")
    assert sheet.price("claude-opus-5", "output", DAY) == 20
    assert sheet.price("claude-haiku-4-5", "input", DAY) == 1  # the defaults stay
    assert sheet.discount("/subscriptions/x/.../accounts/contoso-ai-eus2", "contoso-ai-eus2") == (
        Decimal("0.15")
    )
    assert sheet.discount("/subscriptions/x/.../accounts/other", "other") == 0


def test_a_file_with_include_defaults_false_replaces_the_sheet(tmp_path: Path) -> None:
    file = tmp_path / "prices.toml"
    file.write_text(
        "include_defaults = false\n[[price]]\nmodel = 'a'\neffective_from = 2025-01-01\n"
        "input = 1\noutput = 2\n"
    )
    assert load_sheet(file).models == {"a"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[price]]\neffective_from = 2025-01-01\ninput = 1\n", "needs model ="),
        ("[[price]]\nmodel = 'm'\ninput = 1\n", "needs effective_from = YYYY-MM-DD"),
        (
            "[[price]]\nmodel = 'm'\neffective_from = 2025-01-01\ninptu = 1\n",
            "unknown key(s) ['inptu']",
        ),
        (
            "[[price]]\nmodel = 'm'\neffective_from = 2025-01-01\ninput = -1\n",
            "expected a number >= 0",
        ),
        ("[discounts]\nres = 1.5\n", "from 0 to below 1"),
        ("[[price]\n", "is not valid TOML"),
        ("prices = 1\n", "unknown key(s) ['prices']"),
    ],
)
def test_a_bad_price_file_says_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "prices.toml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sheet(file)


def test_a_missing_price_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_PRICE_FILE"):
        load_sheet(tmp_path / "nope.toml")


def test_the_sheet_becomes_price_table_rows() -> None:
    rows = default_sheet().rows()
    assert {r["token_type"] for r in rows} >= {"input", "output", "cache_write", "cache_read"}
    assert len({(r["model"], r["token_type"], r["effective_from"]) for r in rows}) == len(rows)
    assert PriceSheet(()).price("claude-opus-4-5", "input", DAY) is None


def _versioned_sheet() -> PriceSheet:
    return parse_sheet(
        {
            "price": [
                {"model": "claude-x", "effective_from": date(2025, 1, 1), "input": 3, "output": 15},
                {
                    "model": "claude-x",
                    "version": "1",
                    "effective_from": date(2025, 1, 1),
                    "input": 4,
                    "output": 20,
                },
                {
                    "model": "claude-x",
                    "version": "2",
                    "effective_from": date(2025, 6, 1),
                    "output": 16,
                },
            ]
        },
        "t",
    )


def test_a_version_with_rows_of_its_own_has_its_own_prices() -> None:
    sheet = _versioned_sheet()
    assert sheet.price("claude-x", "input", DAY, "1") == Decimal(4)
    assert sheet.price("claude-x", "output", DAY, " 1 ") == Decimal(20)
    # a version without rows, or no version: the model's rows
    assert sheet.price("claude-x", "input", DAY, "20250929") == Decimal(3)
    assert sheet.price("claude-x", "input", DAY) == Decimal(3)
    # per token type and day: version 2 has its own output price from June only
    assert sheet.price("claude-x", "output", DAY, "2") == Decimal(16)
    assert sheet.price("claude-x", "output", date(2025, 5, 1), "2") == Decimal(15)
    assert sheet.price("claude-x", "input", DAY, "2") == Decimal(3)
    assert sheet.versions("CLAUDE-X") == {"1", "2"}


def test_a_model_deployed_in_two_versions_is_estimated_at_two_prices() -> None:
    sheet = _versioned_sheet()
    v1 = estimate_cost(sheet, "claude-x", DAY, 1_000_000, 1_000_000, version="1")
    v2 = estimate_cost(sheet, "claude-x", DAY, 1_000_000, 1_000_000, version="2")
    assert v1 == Decimal("24.000000")
    assert v2 == Decimal("19.000000")


def test_version_rows_round_trip_through_the_price_table() -> None:
    from collector.spend.prices import sheet_from_rows

    sheet = _versioned_sheet()
    rows = sheet.rows()
    assert {r["model"] for r in rows} == {"claude-x", "claude-x@1", "claude-x@2"}
    again = sheet_from_rows(rows)
    assert again.price("claude-x", "input", DAY, "1") == Decimal(4)
    assert again.price("claude-x", "input", DAY, "2") == Decimal(3)


def test_a_user_file_overlays_a_version_without_replacing_the_model(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_text(
        '[[price]]\nmodel = "claude-sonnet-4-5"\nversion = "1"\neffective_from = 2025-01-01\n'
        "input = 3.30\noutput = 16.50\n",
        encoding="utf-8",
    )
    sheet = load_sheet(file)
    assert sheet.price("claude-sonnet-4-5", "input", DAY, "1") == Decimal("3.30")
    assert sheet.price("claude-sonnet-4-5", "input", DAY, "2") == Decimal(3)
    assert sheet.price("claude-sonnet-4-5", "input", DAY) == Decimal(3)
    # the version's missing token types fall back to the model's
    assert sheet.price("claude-sonnet-4-5", "cache_read", DAY, "1") == Decimal("0.30")


@pytest.mark.parametrize("version", [1, "", "1@2"])
def test_a_bad_version_is_a_clear_error(version: object) -> None:
    block = {"model": "m", "version": version, "effective_from": date(2025, 1, 1), "input": 1}
    with pytest.raises(ConfigError, match="version must be a quoted model version"):
        parse_sheet({"price": [block]}, "t")
