"""The warning that Azure credits do not pay for Claude: it is billed through the Marketplace."""

from __future__ import annotations

from decimal import Decimal

MARKETPLACE = "marketplace"
#: A cost row is a Claude charge when its publisher type is Marketplace and its meter or the
#: SaaS resource it is booked on names Claude. Meters seen: "Claude Consumption Units", legacy
#: per-model token meters ("claude-sonnet-4-5 - paygo-inference-input-tokens"), and since CCU
#: billing one meter per plan ("Azure hosted", "Anthropic hosted") that never names the model:
#: then the SaaS resource's name does (it starts with the Claude model's name).
CLAUDE_METER_MARKERS: tuple[str, ...] = ("claude",)


def is_claude_charge(
    publisher_type: str | None, meter: str | None, resource_id: str | None = None
) -> bool:
    """Whether a cost row is a Claude Marketplace charge."""
    if (publisher_type or "").strip().lower() != MARKETPLACE:
        return False
    name = (meter or "").lower()
    if any(marker in name for marker in CLAUDE_METER_MARKERS):
        return True
    resource = (resource_id or "").strip().lower()
    if "/providers/microsoft.saas/resources/" in resource:
        saas_name = resource.rsplit("/", 1)[-1]
        return any(saas_name.startswith(marker) for marker in CLAUDE_METER_MARKERS)
    return False


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
