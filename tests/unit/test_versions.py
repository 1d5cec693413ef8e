"""Model versions: explicit ordering, highest version, hosting, labels."""

from __future__ import annotations

import pytest

from collector.versions import (
    ANTHROPIC_HOSTED,
    AZURE_HOSTED,
    highest,
    hosting_of,
    model_label,
    multi_version_models,
    version_key,
)


def test_integers_compare_as_integers_not_as_text() -> None:
    assert "10" < "9"  # the trap
    assert version_key("10") > version_key("9")
    assert highest(["9", "10", "2"]) == "10"


def test_dates_compare_as_dates() -> None:
    assert version_key("20251101") > version_key("20250929")
    assert highest(["20250929", "20251101", "20250805"]) == "20251101"


def test_a_date_ranks_above_a_small_integer() -> None:
    # documented rule: integers and dates are ranked apart, every date above every integer
    assert version_key("20250929") > version_key("2")
    assert version_key("20250929") > version_key("9999999")
    assert highest(["2", "20250929", "1"]) == "20250929"


def test_other_text_ranks_last_and_compares_as_text() -> None:
    assert version_key("2024-07-18") > version_key("20251101")
    assert version_key("preview") > version_key("2024-07-18")
    # an 8-digit number that is no valid day is text
    assert version_key("99999999") > version_key("20251101")
    assert highest(["b", "a", "20250929"]) == "b"


def test_none_is_lowest() -> None:
    assert version_key(None) < version_key("0")
    assert highest([None, "1"]) == "1"
    assert highest([None]) is None
    assert highest([]) is None


def test_whitespace_is_ignored() -> None:
    assert version_key(" 2 ") == version_key("2")


@pytest.mark.parametrize(
    ("fmt", "version", "hosting"),
    [
        ("Anthropic", "1", ANTHROPIC_HOSTED),
        ("Anthropic", "2", AZURE_HOSTED),
        ("anthropic", " 2", AZURE_HOSTED),
        ("Anthropic", "20250929", None),  # date versions: hosting not documented
        ("Anthropic", "3", None),
        ("Anthropic", None, None),
        ("OpenAI", "1", None),
        (None, "1", None),
    ],
)
def test_hosting(fmt: str | None, version: str | None, hosting: str | None) -> None:
    assert hosting_of(fmt, version) == hosting


def test_labels() -> None:
    assert model_label("m", "2", "Anthropic", show_version=False) == "m"
    assert model_label("m", "2", "Anthropic", show_version=True) == "m (v2, Azure-hosted)"
    assert model_label("m", "1", "Anthropic", show_version=True) == "m (v1, Anthropic-hosted)"
    assert model_label("m", "20250929", "Anthropic", show_version=True) == "m (20250929)"
    assert model_label("m", None, "Anthropic", show_version=True) == "m"
    assert model_label(None, "1", "Anthropic", show_version=True) is None


def test_multi_version_models() -> None:
    pairs = [("A", "1"), ("a", "2"), ("b", "1"), ("b", "1"), (None, "3"), ("c", None)]
    assert multi_version_models(pairs) == {"a"}


def test_compute_days_prices_each_version_of_a_model_apart() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from collector.spend.daily import DeploymentRef, compute_days
    from collector.spend.estimate import Tokens
    from collector.spend.prices import parse_sheet

    day = date(2026, 11, 2)
    sheet = parse_sheet(
        {
            "price": [
                {"model": "claude-x", "effective_from": date(2025, 1, 1), "input": 3, "output": 15},
                {
                    "model": "claude-x",
                    "version": "1",
                    "effective_from": date(2025, 1, 1),
                    "input": 6,
                },
            ]
        },
        "t",
    )
    deps = [
        DeploymentRef(1, "/r", "v1", "claude-x", model_version="1"),
        DeploymentRef(2, "/r", "v2", "claude-x", model_version="2"),
    ]
    used = Tokens(1_000_000, 0)
    dep_days, _ = compute_days(
        deps, {(day, 1): used, (day, 2): used}, {}, sheet, datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert {d.deployment_id: d.estimated for d in dep_days} == {
        1: Decimal("6.000000"),
        2: Decimal("3.000000"),
    }
