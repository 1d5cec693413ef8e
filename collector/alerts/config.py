"""The alert settings, read once from the validated Settings object into one typed value.

Settings validates every field; :func:`parse_alert_rules` (called by its validator) turns the
rules' tables into :class:`~collector.alerts.rules.Rule` values, refusing a bad one in one line.
Delivery reuses the report settings (SMTP, Teams and Slack webhooks, retries); the alert webhook
URL is a secret of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from collector.alerts.rules import DEFAULT_RULES, TARGETS, Rule, parse_rules
from collector.errors import ConfigError

if TYPE_CHECKING:
    from collector.config import Settings
    from collector.quota_limits import QuotaSettings
    from collector.reports.config import ReportConfig
    from collector.spend.budgets import Budget


def parse_alert_rules(
    raw: list[dict[str, Any]] | None,
    variable: str,
    notify: Sequence[str] = (),
    link_base: str | None = None,
) -> tuple[Rule, ...]:
    """The configured rules (the shipped set when unset), a rule naming no target given
    ``notify``; ConfigError naming ``variable``, the rule and the field. A signal the registry
    does not have yet is refused here too, and a dashboard link that is not an http(s) URL."""
    from collector.alerts.signals import SIGNALS

    parts = urlsplit(link_base or "")
    if link_base and (parts.scheme not in ("https", "http") or not parts.hostname):
        raise ConfigError(
            "FOUNDRY_MONITOR_ALERT_LINK_BASE is invalid: expected the dashboard's URL, e.g. "
            "https://monitor.example.com"
        )

    wrong = [t for t in notify if t not in TARGETS]
    if wrong:
        raise ConfigError(
            f"FOUNDRY_MONITOR_ALERT_NOTIFY={wrong[0][:20]!r} is invalid: expected a "
            f"comma-separated list of {', '.join(TARGETS)}"
        )
    try:
        rules = parse_rules(list(DEFAULT_RULES) if raw is None else raw)
    except ValueError as exc:
        raise ConfigError(f"{variable} is invalid: {exc}") from None
    rules = tuple(r if r.notify else replace(r, notify=tuple(dict.fromkeys(notify))) for r in rules)
    for rule in rules:
        if rule.base_signal not in SIGNALS:
            raise ConfigError(
                f"{variable} is invalid: rule {rule.name!r}: signal {rule.base_signal} needs the "
                "quota-pool headroom, which this version does not compute yet; remove the rule"
            )
    return rules


@dataclass(frozen=True)
class AlertSettings:
    """Everything alert evaluation and delivery need."""

    rules: tuple[Rule, ...]
    repeat_minutes: int
    settle_minutes: int
    link_base: str | None
    webhook_url: SecretStr | None
    delivery: ReportConfig
    budgets: tuple[Budget, ...]
    forecast_days: int
    forecast_trend: bool
    quota: QuotaSettings | None = None  # the granted quota limits (pool_utilization)

    @classmethod
    def from_settings(cls, settings: Settings, rules: tuple[Rule, ...]) -> AlertSettings:
        spend = settings.spend
        return cls(
            rules=rules,
            repeat_minutes=settings.alert_repeat_minutes,
            settle_minutes=settings.alert_settle_minutes,
            link_base=settings.alert_link_base or None,
            webhook_url=settings.alert_webhook_url,
            delivery=settings.reports,
            budgets=spend.budgets,
            forecast_days=spend.forecast_days,
            forecast_trend=spend.forecast_trend,
            quota=settings.quota,
        )

    def rule(self, name: str) -> Rule:
        """The rule called ``name``; ConfigError listing the rules otherwise."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.rules) or "(none configured)"
        raise ConfigError(f"no alert rule named {name[:63]!r}: the rules are {known}")

    def check_targets(self) -> None:
        """ConfigError when a rule notifies a target whose settings are missing."""
        wanted = {t for rule in self.rules for t in rule.notify}
        if "webhook" in wanted and self.webhook_url is None:
            raise ConfigError(
                "an alert rule notifies 'webhook' but FOUNDRY_MONITOR_ALERT_WEBHOOK_URL is not "
                "set: set it to the receiver's https URL, or drop 'webhook' from the rule"
            )
        self.delivery.check_targets(sorted(wanted - {"webhook"}))
