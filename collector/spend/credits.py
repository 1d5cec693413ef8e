"""The warning that Azure credits do not pay for Claude: it is billed through the Marketplace."""

from __future__ import annotations

from decimal import Decimal

MARKETPLACE = "marketplace"
#: A cost row is a Claude charge when its publisher type is Marketplace and its meter name holds
#: one of these (Cost Management's meter is "Claude Consumption Units").
CLAUDE_METER_MARKERS: tuple[str, ...] = ("claude",)


def is_claude_charge(publisher_type: str | None, meter: str | None) -> bool:
    """Whether a cost row is a Claude Marketplace charge."""
    if (publisher_type or "").strip().lower() != MARKETPLACE:
        return False
    name = (meter or "").lower()
    return any(marker in name for marker in CLAUDE_METER_MARKERS)


def credits_warning(marketplace_cost: Decimal | None, enabled: bool = True) -> str | None:
    """The warning text when Claude Marketplace charges accrue (None when off or none accrue)."""
    if not enabled or marketplace_cost is None or marketplace_cost <= 0:
        return None
    return (
        f"Claude charges of ${marketplace_cost:,.2f} accrued this month through the Azure "
        "Marketplace: Azure credits (free, Visual Studio, sponsorship or other monetary credits) "
        "do not cover Marketplace charges, so they are invoiced to your payment method. "
        "Turn this warning off with FOUNDRY_MONITOR_SPEND_CREDITS_WARNING=false."
    )
