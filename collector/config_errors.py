"""Settings errors in the user's words: one line naming the variable and what is expected; the
TOML settings file read with its errors so worded; the one webhook URL check."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from collector.errors import ConfigError

#: Settings whose rejected value is never echoed back (it may hold a token or password).
SECRET_FIELDS = {
    "static_token",
    "smtp_password",
    "teams_webhook_url",
    "slack_webhook_url",
    "database_url",
    "alert_webhook_url",
}


def describe(exc: ValidationError, fields: dict[str, Any], prefix: str) -> str:
    """The first error of ``exc`` as one line: ``PREFIX_NAME='value' is invalid: expected ...``
    (a secret's value never shown; a rule across settings as its own message)."""
    error = exc.errors()[0]
    if not error["loc"]:  # a rule across settings: its message names them
        return expectation(error, fields)
    field = str(error["loc"][0])
    variable = prefix + field.upper()
    value = error.get("input")
    secret = field in SECRET_FIELDS
    shown = "" if secret or value is None or isinstance(value, dict) else f"={str(value)[:80]!r}"
    return f"{variable}{shown} is invalid: {expectation(error, fields)}"


def expectation(error: Any, fields: dict[str, Any]) -> str:
    """Pydantic's error in the user's words: what value is expected."""
    kind, ctx = error["type"], error.get("ctx") or {}
    field = fields.get(str(error["loc"][0])) if error["loc"] else None
    bounds = {m.__class__.__name__: m for m in (field.metadata if field else [])}
    low = getattr(bounds.get("Ge"), "ge", None)
    high = getattr(bounds.get("Le"), "le", None)
    if kind in {"int_parsing", "int_from_float", "greater_than_equal", "less_than_equal"}:
        if low is not None and high is not None:
            return f"expected a whole number from {low} to {high}"
        if low is not None:
            return f"expected a whole number >= {low}"
        return "expected a whole number"
    if kind == "bool_parsing":
        return "expected true or false"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    return str(error["msg"])


def read_toml(path: Path) -> dict[str, Any]:
    """The ``[foundry_monitor]`` table of a TOML settings file (ConfigError in one line when the
    file is missing, not TOML, or not a table)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist: check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("foundry_monitor", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: expected a [foundry_monitor] table of settings")
    return section


def webhook_url_problem(url: str) -> str | None:
    """The one webhook URL check: None for an https URL with a host (plain http only on
    loopback, for tests), else what is wrong (never the URL, which carries a secret)."""
    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return "is not a URL: expected https://HOST/PATH"
    if parts.scheme == "http" and not loopback:
        return "must use https (the URL carries the webhook's secret)"
    return None


def check_webhook_url(url: str, setting: str) -> str:
    """``url`` if :func:`webhook_url_problem` finds nothing, else ConfigError naming ``setting``."""
    problem = webhook_url_problem(url)
    if problem:
        raise ConfigError(f"{setting} {problem}")
    return url
