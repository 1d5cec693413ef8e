"""Reusable validated setting types: the one list splitter, the one cron parser, webhook URLs,
subscription and workspace GUIDs. :mod:`collector.config` builds its fields from them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, SecretStr
from pydantic_settings import NoDecode

from collector.config_errors import webhook_url_problem

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def split_list(value: str | Iterable[Any]) -> list[str]:
    """The one list splitter: a comma/whitespace separated string, or a list, as a list of
    non-empty strings."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value.strip()) if part]
    return [str(part).strip() for part in value if str(part).strip()]


def _list_input(value: Any) -> Any:
    """A list setting's raw value: a list, a JSON list or a comma/whitespace separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return split_list(text)
    return value


def cron_trigger(expression: str) -> CronTrigger:
    """The one cron parser: a UTC CronTrigger from 5 cron fields (ValueError says what is wrong)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expression.strip(), timezone=UTC)


def _cron(value: str) -> str:
    if value.strip():
        try:
            cron_trigger(value)
        except ValueError as exc:
            raise ValueError(f"expected 5 cron fields (UTC), e.g. '0 7 * * mon': {exc}") from None
    return value.strip()


def _webhook(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    if webhook_url_problem(value.get_secret_value()):
        raise ValueError("expected an https:// webhook URL")
    return value


def _subscription_ids(value: list[str]) -> list[str]:
    for item in value:
        if not GUID_RE.match(item):
            raise ValueError(f"{item!r} is not a subscription id (a GUID)")
    return value


def _workspace_id(value: str | None) -> str | None:
    if value is not None and value != "" and not GUID_RE.match(value):
        raise ValueError("expected the workspace GUID from the Log Analytics Overview page")
    return value or None


#: A list setting: a list, a JSON list or a comma/whitespace separated string.
StrList = Annotated[list[str], NoDecode, BeforeValidator(_list_input)]
#: A cron expression (5 fields, UTC), stripped; empty: off.
CronExpr = Annotated[str, AfterValidator(_cron)]
#: An https webhook URL (a secret); empty: unset.
WebhookUrl = Annotated[SecretStr | None, AfterValidator(_webhook)]
#: Subscription ids (GUIDs).
SubscriptionIds = Annotated[StrList, AfterValidator(_subscription_ids)]
#: A Log Analytics workspace id (a GUID); empty: unset.
WorkspaceId = Annotated[str | None, AfterValidator(_workspace_id)]
