"""Settings: one validated object, read from FOUNDRY_MONITOR_* variables and an optional TOML file.

Precedence (highest first): explicit keyword arguments, environment variables, the TOML file
given with ``--config`` (or ``FOUNDRY_MONITOR_CONFIG``), defaults. A bad value raises
:class:`ConfigError` whose message names the variable and what is expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from collector.config_errors import check_webhook_url as check_webhook_url
from collector.config_errors import describe, read_toml
from collector.config_types import GUID_RE as GUID_RE
from collector.config_types import (
    CronExpr,
    StrList,
    SubscriptionIds,
    WebhookUrl,
    WorkspaceId,
)
from collector.config_types import cron_trigger as cron_trigger
from collector.config_types import split_list as split_list
from collector.errors import ConfigError

if TYPE_CHECKING:
    from collector.alerts.config import AlertSettings
    from collector.quota_limits import QuotaSettings
    from collector.reports.config import ReportConfig
    from collector.spend.budgets import Budget

ENV_PREFIX = "FOUNDRY_MONITOR_"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/foundry-monitor`` (``~/.local/share/foundry-monitor`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "foundry-monitor"


@dataclass(frozen=True)
class SpendSettings:
    """The spend settings, typed: what ``refresh_spend``, reports and the dashboard read."""

    refresh_days: int
    retention_days: int
    drift_threshold: float
    final_after_days: int
    forecast_days: int
    forecast_trend: bool
    credits_warning: bool
    price_file: Path | None
    bill_attribution: dict[str, str]
    budgets: tuple[Budget, ...]


class Settings(BaseSettings):
    """Every setting of foundry-monitor. Field docs are the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", validate_default=True, frozen=True
    )
    _budgets: tuple[Any, ...] = PrivateAttr(default=())
    _alert_rules: tuple[Any, ...] = PrivateAttr(default=())
    _quota: Any = PrivateAttr(default=None)

    # Store
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the default SQLite database and reports.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL (sqlite:///PATH or postgresql+psycopg://USER@HOST/DB); "
        "default: a SQLite file in data_dir.",
    )
    retention_days: int = Field(
        30, ge=1, le=400, description="Days of raw data (metrics, request logs, histograms) kept."
    )
    rollup_retention_days: int = Field(
        400,
        ge=30,
        le=3650,
        description="Days of daily rollups (costs, spend, requests, latency) kept.",
    )

    # Azure scope
    subscriptions: SubscriptionIds = Field(
        default_factory=list,
        description="Subscription ids to scan for Foundry (AIServices) resources.",
    )
    resource_ids: StrList = Field(
        default_factory=list,
        description="Explicit Foundry resource ids (instead of scanning subscriptions).",
    )
    workspace_id: WorkspaceId = Field(
        None, description="Log Analytics workspace id (GUID) receiving the RequestResponse logs."
    )
    cost_scopes: StrList = Field(
        default_factory=list, description="Cost Management scopes; default: one per subscription."
    )

    # Endpoints (public cloud by default; sovereign clouds and the emulator override them)
    arm_endpoint: str = Field(
        "https://management.azure.com", description="Azure Resource Manager endpoint."
    )
    metrics_endpoint: str = Field(
        "https://{region}.metrics.monitor.azure.com",
        description="Azure Monitor metrics endpoint template; {region} is replaced.",
    )
    logs_endpoint: str = Field(
        "https://api.loganalytics.io", description="Log Analytics query endpoint."
    )
    arm_audience: str | None = Field(
        None, description="Token audience for ARM and Cost Management; default: arm_endpoint."
    )
    metrics_audience: str = Field(
        "https://metrics.monitor.azure.com", description="Token audience for Azure Monitor metrics."
    )
    logs_audience: str | None = Field(
        None, description="Token audience for Log Analytics; default: logs_endpoint."
    )
    ca_bundle: Path | None = Field(
        None,
        description="PEM file of extra CA certificates to trust (private endpoints, the emulator).",
    )
    static_token: SecretStr | None = Field(
        None,
        description="Bearer token used instead of DefaultAzureCredential (the emulator only: "
        "refused unless every endpoint is on loopback).",
    )
    azure_connect_timeout_s: float = Field(
        10, gt=0, le=300, description="Seconds to wait for a connection to an Azure endpoint."
    )
    azure_read_timeout_s: float = Field(
        200,
        gt=0,
        le=3600,
        description="Seconds to wait for an Azure answer (above Log Analytics' 180 s server "
        "timeout).",
    )
    azure_call_timeout_s: float = Field(
        600,
        gt=0,
        le=7200,
        description="Seconds one Azure call may take with all its retries before it fails.",
    )

    # Collection
    slow_request_ms: int = Field(
        30_000,
        ge=1,
        le=3_600_000,
        description="Requests slower than this keep a full log row even when successful.",
    )
    log_all_rows: bool = Field(
        False, description="Keep a full log row for every request, not only failures and slow ones."
    )
    cost_reread_days: int = Field(
        7,
        ge=1,
        le=62,
        description="Recent cost days re-read and replaced on each run (besides the month).",
    )
    metrics_interval_s: int = Field(
        60, ge=10, le=86_400, description="Seconds between metrics collections."
    )
    logs_interval_s: int = Field(
        300, ge=30, le=86_400, description="Seconds between request-log collections."
    )
    logs_overlap_minutes: int = Field(
        30,
        ge=15,
        le=24 * 60,
        description=(
            "Minutes of request logs re-read before the watermark on each run (at least 15: "
            "Azure's request logs can arrive more than 10 minutes late)."
        ),
    )
    inventory_interval_s: int = Field(
        3600, ge=60, le=604_800, description="Seconds between inventory collections."
    )
    costs_interval_s: int = Field(
        21_600, ge=300, le=604_800, description="Seconds between cost collections."
    )
    prune_cron: CronExpr = Field(
        "17 3 * * *", description="Cron expression (UTC) of the daily prune."
    )
    spend_interval_s: int = Field(
        900, ge=60, le=86_400, description="Seconds between spend refreshes."
    )

    dashboard_auth: bool = Field(
        False, description="Require Microsoft Entra ID sign-in (st.login) on the dashboard."
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of the Prometheus /metrics endpoint served by `run`; unset: off.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the /metrics endpoint listens on (0.0.0.0: every interface).",
    )

    # Spend
    price_file: Path | None = Field(
        None,
        description="TOML price sheet laid over the shipped one: [[price]] blocks (model, "
        "optional version, effective_from, USD per million tokens per token type), [discounts] "
        "(resource = fraction off), include_defaults = false to replace the shipped sheet.",
    )
    spend_refresh_days: int = Field(
        10, ge=1, le=400, description="Recent days whose spend is recomputed (besides the month)."
    )
    spend_drift_threshold: float = Field(
        0.15, gt=0, le=10, description="Bill vs estimate difference (fraction) flagged as drift."
    )
    spend_final_after_days: int = Field(
        3, ge=1, le=62, description="A day is final once its cost is unchanged this many days."
    )
    spend_forecast_days: int = Field(
        14, ge=1, le=90, description="Trailing complete days the month-end forecast fits."
    )
    spend_forecast_trend: bool = Field(
        True, description="Forecast with a linear trend; false: a trailing weekday-aware average."
    )
    budgets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Monthly budgets: tables with deployment and/or resource, monthly_usd, "
        "optional warning_fraction (TOML [[foundry_monitor.budgets]] or JSON).",
    )
    bill_attribution: dict[str, str] = Field(
        default_factory=dict,
        description="Claude Marketplace charges' resource (ARM id or SaaS resource name) -> "
        "Foundry account (name or ARM id), overriding the automatic attribution (TOML table "
        "[foundry_monitor.bill_attribution] or JSON).",
    )
    quota_offers: dict[str, str] = Field(
        default_factory=dict,
        description="Subscription id -> its offer for Claude's default quota: pay-as-you-go "
        "(the default) or enterprise (EA, MCA-E) (TOML table or JSON).",
    )
    quota_limits: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='Granted Claude quota: "SUBSCRIPTION/MODEL[/VERSION]" -> {rpm, itpm, '
        "otpm}, overriding the shipped defaults (TOML table or JSON).",
    )
    budget_warning_fraction: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of a budget (spent or forecast) that means warning.",
    )
    spend_credits_warning: bool = Field(
        True, description="Warn that Azure credits do not cover Claude's Marketplace charges."
    )

    # Reports
    report_dir: Path | None = Field(
        None, description="Folder for cost reports; default: data_dir/reports."
    )
    report_day_cron: CronExpr = Field(
        "", description="Cron (UTC) of the daily cost report (the day before); empty: off."
    )
    report_week_cron: CronExpr = Field(
        "0 7 * * mon", description="Cron (UTC) of the weekly report (the week before); empty: off."
    )
    report_month_cron: CronExpr = Field(
        "0 7 1 * *", description="Cron (UTC) of the monthly report (the month before); empty: off."
    )
    report_formats: StrList = Field(
        default_factory=lambda: ["html", "csv"], description="Formats of scheduled reports."
    )
    report_deliver: StrList = Field(
        default_factory=lambda: ["folder"],
        description="Where scheduled reports go: folder, email, teams, slack.",
    )
    report_link_base: str | None = Field(
        None, description="URL where the reports folder is published; messages link to it."
    )
    report_retries: int = Field(3, ge=1, le=10, description="Attempts per delivery target.")
    report_retry_backoff_s: float = Field(
        5.0, ge=0, le=60, description="First wait between delivery attempts (doubles, max 60 s)."
    )
    smtp_host: str | None = Field(None, description="SMTP server for emailed reports.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS).")
    smtp_user: str | None = Field(None, description="SMTP login; unset: no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (never logged).")
    smtp_from: str | None = Field(None, description="Sender address of emailed reports.")
    smtp_to: StrList = Field(default_factory=list, description="Recipients of emailed reports.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Implicit TLS (port 465) instead of STARTTLS.")
    smtp_allow_plain_login: bool = Field(
        False,
        description="Allow an SMTP login without TLS to a host beyond loopback (the password "
        "then travels in clear).",
    )
    teams_webhook_url: WebhookUrl = Field(
        None, description="Teams incoming webhook URL for report summaries (a secret)."
    )
    slack_webhook_url: WebhookUrl = Field(
        None, description="Slack incoming webhook URL for report summaries (a secret)."
    )

    # Alerts
    alert_rules: list[dict[str, Any]] | None = Field(
        None,
        description="Alert rules: tables with name, signal, op, threshold, window_minutes, "
        "for_minutes, scope, severity, notify (TOML [[foundry_monitor.alert_rules]] or JSON); "
        "unset: the shipped rules (README, Alerts); [] turns alerts off.",
    )
    alert_notify: StrList = Field(
        default_factory=list,
        description="Targets of rules that name none: email, teams, slack, "
        "webhook (empty: such rules only keep state and history).",
    )
    alert_webhook_url: WebhookUrl = Field(
        None, description="Webhook receiving alerts as Alertmanager-style JSON (a secret)."
    )
    alert_repeat_minutes: int = Field(
        240, ge=5, le=10_080, description="Minutes before a still-firing alert is sent again."
    )
    alert_settle_minutes: int = Field(
        3, ge=0, le=60, description="Newest stored minutes not yet evaluated (late metrics)."
    )
    alert_link_base: str | None = Field(
        None, description="The dashboard's URL; alert messages link to its pages."
    )

    @field_validator("report_formats", "report_deliver")
    @classmethod
    def _report_choices(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from collector.reports.config import FORMATS, TARGETS

        allowed = FORMATS if info.field_name == "report_formats" else TARGETS
        chosen = [v.strip().lower() for v in value if v.strip()]
        if not chosen or any(v not in allowed for v in chosen):
            raise ValueError(f"expected a comma-separated list of {', '.join(allowed)}")
        return list(dict.fromkeys(chosen))

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str | None) -> str | None:
        if value and "@" not in value:
            raise ValueError("expected an email address such as finops-bot@example.com")
        return value or None

    @field_validator("bill_attribution")
    @classmethod
    def _bill_attribution(cls, value: dict[str, str]) -> dict[str, str]:
        for key, target in value.items():
            if not str(key).strip() or not str(target).strip():
                raise ValueError(
                    'expected {"<charge resource id or SaaS name>": "<account name or id>"} '
                    "with no empty key or value"
                )
        return {str(k).strip(): str(v).strip() for k, v in value.items()}

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        if value:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value).port  # noqa: B018 (parsing is the check: a port must be a number)
            except (ArgumentError, ValueError):
                raise ValueError(
                    "expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB "
                    "(the port a number)"
                ) from None
        return value

    @field_validator("resource_ids")
    @classmethod
    def _resource_ids(cls, value: list[str]) -> list[str]:
        pattern = re.compile(
            r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+$",
            re.IGNORECASE,
        )
        for item in value:
            if not pattern.match(item):
                raise ValueError(
                    f"{item!r} is not a Foundry resource id "
                    "(/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/NAME)"
                )
        return value

    @model_validator(mode="after")
    def _static_token_on_loopback(self) -> Settings:
        """A static token is the emulator's: never sent to a non-loopback endpoint."""
        if self.static_token is None:
            return self

        for name in ("arm_endpoint", "metrics_endpoint", "logs_endpoint"):
            host = urlsplit(getattr(self, name).replace("{region}", "region")).hostname or ""
            if host not in LOOPBACK_HOSTS:
                raise ValueError(
                    f"{ENV_PREFIX}STATIC_TOKEN is only sent to loopback endpoints (the "
                    f"emulator), but {ENV_PREFIX}{name.upper()} points at {host or '(none)'}: "
                    f"unset {ENV_PREFIX}STATIC_TOKEN to sign in with DefaultAzureCredential"
                )
        return self

    @model_validator(mode="after")
    def _parse_budgets(self) -> Settings:
        """Parse the budgets once (ConfigError names a bad one); ``spend.budgets`` reuses them.
        Change settings by building a new Settings, not ``model_copy(update=...)``."""
        from collector.spend.budgets import parse_budgets

        self._budgets = tuple(parse_budgets(self.budgets, self.budget_warning_fraction))
        return self

    @model_validator(mode="after")
    def _parse_alert_rules(self) -> Settings:
        """Parse the alert rules once (a bad one named in one line); ``alerts`` reuses them."""
        from collector.alerts.config import parse_alert_rules

        self._alert_rules = parse_alert_rules(
            self.alert_rules, ENV_PREFIX + "ALERT_RULES", self.alert_notify, self.alert_link_base
        )
        return self

    @property
    def alerts(self) -> AlertSettings:
        """The alert settings, typed (:class:`~collector.alerts.config.AlertSettings`)."""
        from collector.alerts.config import AlertSettings

        return AlertSettings.from_settings(self, self._alert_rules)

    @model_validator(mode="after")
    def _parse_quota(self) -> Settings:
        from collector.quota_limits import parse_quota_settings

        self._quota = parse_quota_settings(self.quota_offers, self.quota_limits)
        return self

    @property
    def quota(self) -> QuotaSettings:
        """The quota settings, typed and validated (:mod:`collector.quota_limits`)."""
        return self._quota

    @property
    def spend(self) -> SpendSettings:
        """The spend settings, typed, with the budgets parsed at validation."""
        return SpendSettings(
            refresh_days=self.spend_refresh_days,
            retention_days=self.retention_days,
            drift_threshold=self.spend_drift_threshold,
            final_after_days=self.spend_final_after_days,
            forecast_days=self.spend_forecast_days,
            forecast_trend=self.spend_forecast_trend,
            credits_warning=self.spend_credits_warning,
            price_file=self.price_file,
            bill_attribution=dict(self.bill_attribution),
            budgets=self._budgets,
        )

    @property
    def reports(self) -> ReportConfig:
        """The report settings, typed (:class:`~collector.reports.config.ReportConfig`)."""
        from collector.reports.config import ReportConfig

        return ReportConfig.from_settings(self)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'foundry-monitor.db'}"

    @property
    def effective_cost_scopes(self) -> list[str]:
        if self.cost_scopes:
            return list(self.cost_scopes)
        subs = list(self.subscriptions) or sorted({rid.split("/")[2] for rid in self.resource_ids})
        return [f"/subscriptions/{sub}" for sub in subs]

    @property
    def effective_arm_audience(self) -> str:
        return self.arm_audience or self.arm_endpoint.rstrip("/")

    @property
    def effective_logs_audience(self) -> str:
        return self.logs_audience or self.logs_endpoint.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, turning any validation failure into one clear ConfigError line."""
    file_values: dict[str, Any] = {}
    config_file = config_file or (
        Path(os.environ[ENV_PREFIX + "CONFIG"]) if os.environ.get(ENV_PREFIX + "CONFIG") else None
    )
    if config_file is not None:
        file_values = read_toml(config_file)
        unknown = sorted(set(file_values) - set(Settings.model_fields))
        if unknown:
            raise ConfigError(
                f"config file {config_file}: unknown setting {unknown[0]!r}; "
                "see the configuration table in the README"
            )
    # The environment beats the file: drop file values the environment sets.
    for name in list(file_values):
        if (ENV_PREFIX + name.upper()) in os.environ:
            file_values.pop(name)
    try:
        return Settings(**{**file_values, **overrides})
    except ValidationError as exc:
        raise ConfigError(describe(exc, Settings.model_fields, ENV_PREFIX)) from None
    except SettingsError as exc:  # an environment value that is not the JSON it must be
        field = re.search(r'field "(\w+)"', str(exc))
        name = ENV_PREFIX + (field.group(1).upper() if field else "?")
        raise ConfigError(f"{name} is invalid: expected JSON (a list or a table)") from None
