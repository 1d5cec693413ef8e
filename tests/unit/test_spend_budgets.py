"""Budget states switch at the thresholds; budgets from settings are validated."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collector.errors import ConfigError
from collector.spend.budgets import OK, OVER, WARNING, budget_state, parse_budgets

BUDGET = Decimal("100.00")
FRACTION = Decimal("0.8")


@pytest.mark.parametrize(
    ("spent", "forecast", "state"),
    [
        ("0", "0", OK),
        ("79.99", "79.99", OK),
        ("80.00", "80.00", WARNING),  # spent reaches the warning fraction
        ("10.00", "79.99", OK),
        ("10.00", "80.00", WARNING),  # the forecast reaches it
        ("10.00", "250.00", WARNING),  # forecast beyond the budget: not spent yet
        ("100.00", "100.00", WARNING),  # exactly the budget: not over
        ("100.01", "100.01", OVER),
        ("150.00", None, OVER),
        ("79.99", None, OK),
    ],
)
def test_budget_state_switches_at_the_thresholds(
    spent: str, forecast: str | None, state: str
) -> None:
    got = budget_state(Decimal(spent), Decimal(forecast) if forecast else None, BUDGET, FRACTION)
    assert got == state


def test_budgets_parse_from_settings_tables() -> None:
    budgets = parse_budgets(
        [
            {"deployment": "support-bot", "resource": "contoso-ai-eus2", "monthly_usd": 500},
            {"resource": "contoso-ai-swc", "monthly_usd": "1200.50", "warning_fraction": 0.9},
        ],
        default_warning=0.75,
    )
    assert [(b.scope, b.label, b.monthly_usd, b.warning_fraction) for b in budgets] == [
        ("deployment", "contoso-ai-eus2/support-bot", Decimal(500), Decimal("0.75")),
        ("resource", "contoso-ai-swc", Decimal("1200.50"), Decimal("0.9")),
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"monthly_usd": 5}, "name a deployment"),
        ({"deployment": "x"}, "needs monthly_usd"),
        ({"deployment": "x", "monthly_usd": 0}, "must be > 0"),
        ({"deployment": "x", "monthly_usd": "lots"}, "expected a number"),
        ({"deployment": "x", "monthly_usd": 5, "warning_fraction": 1.5}, "in (0, 1]"),
        ({"deployment": "x", "monthly_usd": 5, "limit": 1}, "unknown key(s)"),
    ],
)
def test_a_bad_budget_says_what_to_fix(item: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_BUDGETS budget 1") as info:
        parse_budgets([item])
    assert message in str(info.value)
