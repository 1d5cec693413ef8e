"""The report settings, read once from the Settings object into one typed, validated value.

Every name is read with ``getattr(settings, name, default)`` so this module works with any
Settings that has (or lacks) the report fields; the defaults below are the documented ones.
Secrets (the SMTP password, webhook URLs, which carry their own token) stay ``SecretStr``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import SecretStr

from collector.errors import ConfigError
from collector.spend.budgets import Budget, budgets_from_settings
from collector.spend.forecast import DEFAULT_WINDOW_DAYS

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
    teams_webhook_url: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None
    budgets: tuple[Budget, ...] = ()
    forecast_days: int = DEFAULT_WINDOW_DAYS
    forecast_trend: bool = True
    credits_warning: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> ReportConfig:
        """Read and validate the report fields of ``settings`` (ConfigError names a bad one)."""

        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, default)
            return default if value is None else value

        data_dir = Path(get("data_dir", Path(".")))
        crons = {
            kind: str(get(f"report_{kind}_cron", default)).strip()
            for kind, default in DEFAULT_CRONS.items()
        }
        for kind, cron in crons.items():
            if cron:
                cron_trigger(cron, f"FOUNDRY_MONITOR_REPORT_{kind.upper()}_CRON")
        config = cls(
            out_dir=Path(get("report_dir", data_dir / "reports")),
            formats=parse_choices(get("report_formats", FORMATS), FORMATS, "--format"),
            deliver=parse_choices(get("report_deliver", ("folder",)), TARGETS, "--deliver"),
            crons=crons,
            link_base=get("report_link_base", None) or None,
            retries=int(get("report_retries", 3)),
            retry_backoff_s=float(get("report_retry_backoff_s", 5.0)),
            smtp_host=get("smtp_host", None) or None,
            smtp_port=int(get("smtp_port", 587)),
            smtp_user=get("smtp_user", None) or None,
            smtp_password=_secret(get("smtp_password", None)),
            smtp_from=get("smtp_from", None) or None,
            smtp_to=tuple(split_list(get("smtp_to", ()))),
            smtp_starttls=bool(get("smtp_starttls", True)),
            smtp_ssl=bool(get("smtp_ssl", False)),
            teams_webhook_url=_secret(get("teams_webhook_url", None)),
            slack_webhook_url=_secret(get("slack_webhook_url", None)),
            budgets=tuple(budgets_from_settings(settings)),
            forecast_days=int(get("spend_forecast_days", DEFAULT_WINDOW_DAYS)),
            forecast_trend=bool(get("spend_forecast_trend", True)),
            credits_warning=bool(get("spend_credits_warning", True)),
        )
        if config.retries < 1:
            raise ConfigError("FOUNDRY_MONITOR_REPORT_RETRIES must be >= 1 (attempts per target)")
        for name in ("teams_webhook_url", "slack_webhook_url"):
            secret = getattr(config, name)
            if secret is not None:
                check_webhook_url(secret.get_secret_value(), f"FOUNDRY_MONITOR_{name.upper()}")
        return config

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


def _secret(value: Any) -> SecretStr | None:
    if value is None or value == "":
        return None
    if isinstance(value, SecretStr):
        return value if value.get_secret_value() else None
    return SecretStr(str(value))


def split_list(value: Any) -> list[str]:
    """A list, or a comma/whitespace separated string, as a list of non-empty strings."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value.strip()) if part]
    return [str(part).strip() for part in value if str(part).strip()]


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


def cron_trigger(expression: str, setting: str) -> CronTrigger:
    """A UTC CronTrigger from 5 cron fields, or ConfigError naming the setting."""
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise ConfigError(
            f"{setting}={expression!r} is invalid: {exc} (expected 5 cron fields, "
            "e.g. '0 7 * * mon')"
        ) from None


def check_webhook_url(url: str, setting: str) -> str:
    """An https URL with a host (plain http only on loopback, for tests); never echoes the URL."""
    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ConfigError(f"{setting} is not a URL: expected https://HOST/PATH")
    if parts.scheme == "http" and not loopback:
        raise ConfigError(f"{setting} must use https (the URL carries the webhook's secret)")
    return url


__all__ = [
    "FORMATS",
    "TARGETS",
    "ReportConfig",
    "check_webhook_url",
    "cron_trigger",
    "parse_choices",
    "split_list",
]
