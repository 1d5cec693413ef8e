"""The report settings, read once from the validated Settings object into one typed value.

Settings validates every field (crons, lists, webhook URLs, budgets) and holds the defaults;
this module only gathers the report fields. Secrets (the SMTP password, webhook URLs, which
carry their own token) stay ``SecretStr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from collector.config import split_list
from collector.errors import ConfigError
from collector.quota_limits import QuotaSettings
from collector.spend.budgets import Budget
from collector.spend.forecast import DEFAULT_WINDOW_DAYS

if TYPE_CHECKING:
    from collector.config import Settings

FORMATS: tuple[str, ...] = ("html", "csv")
TARGETS: tuple[str, ...] = ("folder", "email", "teams", "slack")
DEFAULT_CRONS: dict[str, str] = {"day": "", "week": "0 7 * * mon", "month": "0 7 1 * *"}


@dataclass(frozen=True)
class ReportConfig:
    """Everything reports need: where, what, when, how to deliver, and the spend options."""

    out_dir: Path
    formats: tuple[str, ...] = FORMATS
    deliver: tuple[str, ...] = ("folder",)
    crons: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CRONS))
    link_base: str | None = None
    retries: int = 3
    retry_backoff_s: float = 5.0
    timeout_s: float = 30.0
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_allow_plain_login: bool = False
    teams_webhook_url: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None
    budgets: tuple[Budget, ...] = ()
    forecast_days: int = DEFAULT_WINDOW_DAYS
    forecast_trend: bool = True
    credits_warning: bool = True
    quota: QuotaSettings = field(default_factory=QuotaSettings)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportConfig:
        """The report fields of a (validated) Settings object."""
        spend = settings.spend
        return cls(
            quota=settings.quota,
            out_dir=settings.report_dir or settings.data_dir / "reports",
            formats=tuple(settings.report_formats),
            deliver=tuple(settings.report_deliver),
            crons={
                "day": settings.report_day_cron,
                "week": settings.report_week_cron,
                "month": settings.report_month_cron,
            },
            link_base=settings.report_link_base or None,
            retries=settings.report_retries,
            retry_backoff_s=settings.report_retry_backoff_s,
            smtp_host=settings.smtp_host or None,
            smtp_port=settings.smtp_port,
            smtp_user=settings.smtp_user or None,
            smtp_password=_secret(settings.smtp_password),
            smtp_from=settings.smtp_from or None,
            smtp_to=tuple(split_list(settings.smtp_to)),
            smtp_starttls=settings.smtp_starttls,
            smtp_ssl=settings.smtp_ssl,
            smtp_allow_plain_login=settings.smtp_allow_plain_login,
            teams_webhook_url=settings.teams_webhook_url,
            slack_webhook_url=settings.slack_webhook_url,
            budgets=spend.budgets,
            forecast_days=spend.forecast_days,
            forecast_trend=spend.forecast_trend,
            credits_warning=spend.credits_warning,
        )

    def check_targets(self, targets: Sequence[str]) -> None:
        """ConfigError when a chosen target lacks its settings (says which to set)."""
        if "email" in targets:
            missing = [
                f"FOUNDRY_MONITOR_SMTP_{name.upper()}"
                for name, value in (
                    ("host", self.smtp_host),
                    ("from", self.smtp_from),
                    ("to", self.smtp_to),
                )
                if not value
            ]
            if missing:
                raise ConfigError(f"email delivery needs {', '.join(missing)}")
        if "teams" in targets and self.teams_webhook_url is None:
            raise ConfigError(
                "teams delivery needs FOUNDRY_MONITOR_TEAMS_WEBHOOK_URL (the channel's incoming "
                "webhook, e.g. a Workflows 'Post to a channel when a webhook request is received')"
            )
        if "slack" in targets and self.slack_webhook_url is None:
            raise ConfigError(
                "slack delivery needs FOUNDRY_MONITOR_SLACK_WEBHOOK_URL (an incoming webhook URL "
                "of a Slack app, https://hooks.slack.com/services/...)"
            )


def _secret(value: SecretStr | None) -> SecretStr | None:
    return value if value is not None and value.get_secret_value() else None


def parse_choices(value: Any, allowed: Sequence[str], option: str) -> tuple[str, ...]:
    """``html,csv`` -> ("html", "csv"): known, de-duplicated, in the given order."""
    chosen: list[str] = []
    for item in split_list(value):
        name = item.lower()
        if name not in allowed:
            raise ConfigError(
                f"{option} {item[:20]!r} is not one of {', '.join(allowed)} "
                f"(give a comma-separated list, e.g. {option} {','.join(allowed[:2])})"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ConfigError(f"{option} is empty: choose from {', '.join(allowed)}")
    return tuple(chosen)


__all__ = [
    "FORMATS",
    "TARGETS",
    "ReportConfig",
    "parse_choices",
    "split_list",
]
