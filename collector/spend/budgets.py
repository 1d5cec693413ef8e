"""Monthly budgets per deployment or resource, and their state: ok, warning or over.

Budgets come from the ``budgets`` setting, a list of tables (TOML ``[[foundry_monitor.budgets]]``
or JSON in ``FOUNDRY_MONITOR_BUDGETS``)::

    [[foundry_monitor.budgets]]
    deployment = "support-bot"        # a deployment by name (add resource = ... when ambiguous)
    resource = "contoso-ai-eus2"      # or a whole resource, by name or ARM id
    monthly_usd = 500
    warning_fraction = 0.8            # optional; default: budget_warning_fraction (0.8)

State, from the month's spend so far and its forecast total:

- ``over``: the spend so far exceeds the budget;
- ``warning``: the spend so far or the forecast reaches ``warning_fraction`` of the budget
  (a forecast beyond the budget is a warning until the money is actually spent);
- ``ok``: otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from collector.errors import ConfigError

OK = "ok"
WARNING = "warning"
OVER = "over"
DEFAULT_WARNING_FRACTION = Decimal("0.8")


@dataclass(frozen=True, slots=True)
class Budget:
    """A monthly budget of one deployment (``deployment`` set) or one resource (only
    ``resource``). ``resource`` matches a resource's name or ARM id, letter case ignored."""

    monthly_usd: Decimal
    deployment: str | None = None
    resource: str | None = None
    warning_fraction: Decimal = DEFAULT_WARNING_FRACTION

    @property
    def scope(self) -> str:
        return "deployment" if self.deployment else "resource"

    @property
    def label(self) -> str:
        if self.deployment:
            return f"{self.resource}/{self.deployment}" if self.resource else self.deployment
        return str(self.resource)


def budget_state(
    spent: Decimal, forecast_total: Decimal | None, budget: Decimal, warning_fraction: Decimal
) -> str:
    """``over`` / ``warning`` / ``ok`` (see the module's rules)."""
    if spent > budget:
        return OVER
    highest = max(spent, forecast_total if forecast_total is not None else spent)
    if highest >= budget * warning_fraction:
        return WARNING
    return OK


def _number(value: Any, where: str) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return number


def parse_budgets(
    raw: Sequence[Mapping[str, Any]] | None,
    default_warning: Decimal | float = DEFAULT_WARNING_FRACTION,
) -> list[Budget]:
    """Budgets from the setting's tables; a bad one raises :class:`ConfigError` naming it."""
    budgets = []
    for n, item in enumerate(raw or [], start=1):
        where = f"FOUNDRY_MONITOR_BUDGETS budget {n}"
        if not isinstance(item, Mapping):
            raise ConfigError(
                f"{where}: expected a table with monthly_usd and a deployment or resource"
            )
        unknown = set(item) - {"deployment", "resource", "monthly_usd", "warning_fraction"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        deployment = str(item.get("deployment") or "").strip() or None
        resource = str(item.get("resource") or "").strip() or None
        if not deployment and not resource:
            raise ConfigError(f'{where}: name a deployment = "..." or a resource = "..."')
        if "monthly_usd" not in item:
            raise ConfigError(f"{where}: needs monthly_usd = <amount in USD>")
        amount = _number(item["monthly_usd"], f"{where} monthly_usd")
        if amount <= 0:
            raise ConfigError(f"{where}: monthly_usd must be > 0, got {item['monthly_usd']!r}")
        fraction = _number(
            item.get("warning_fraction", default_warning), f"{where} warning_fraction"
        )
        if not 0 < fraction <= 1:
            raise ConfigError(f"{where}: warning_fraction must be in (0, 1], got {fraction}")
        budgets.append(Budget(amount, deployment, resource, fraction))
    return budgets
