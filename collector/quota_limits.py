"""Claude quota limits as data (pure): shipped defaults per offer and model, overridden by the
settings, resolved per quota pool; and a deployment's own limits from its ARM capacity.

The shipped file is ``collector/data/quota_limits.toml`` (Microsoft's "Claude quotas and limits"
page, cited there). The settings add the offer of each subscription (``quota_offers``, default
pay-as-you-go) and the granted limits per subscription and model (``quota_limits``: keys
``"SUBSCRIPTION/MODEL"`` or ``"SUBSCRIPTION/MODEL/VERSION"``, values a table of any of ``rpm``,
``itpm``, ``otpm``; the version-specific entry wins, then the model's, then the offer's default).
A limit nobody knows stays ``None`` with a note saying how to set it: never 0, so nothing divides
by it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from collector.pools import PoolKey

LIMITS = ("rpm", "itpm", "otpm")
DEFAULT_OFFER = "pay-as-you-go"
SOURCE_DEFAULT = "shipped default"
SOURCE_SETTING = "setting"
SETTING_HINT = (
    "set the granted quota with FOUNDRY_MONITOR_QUOTA_LIMITS "
    '(e.g. {"SUBSCRIPTION/MODEL": {"rpm": 80, "itpm": 80000, "otpm": 16000}}) '
    "or a [foundry_monitor.quota_limits] table"
)


@dataclass(frozen=True)
class Shipped:
    """The shipped defaults: per offer, per model, per limit; the capacity ratios."""

    offers: dict[str, dict[str, dict[str, int]]]
    aliases: dict[str, str]
    requests_per_unit: dict[str, float]
    tokens_per_unit: int


@cache
def shipped() -> Shipped:
    """``collector/data/quota_limits.toml``, parsed once."""
    text = resources.files("collector").joinpath("data/quota_limits.toml").read_text("utf-8")
    data = tomllib.loads(text)
    offers: dict[str, dict[str, dict[str, int]]] = {}
    aliases: dict[str, str] = {}
    for name, offer in data["offers"].items():
        offers[name] = {m: dict(v) for m, v in offer.get("models", {}).items()}
        aliases[name] = name
        for alias in offer.get("aliases", []):
            aliases[alias] = name
    capacity = data.get("capacity", {})
    return Shipped(
        offers=offers,
        aliases=aliases,
        requests_per_unit={k: float(v) for k, v in capacity.get("requests_per_unit", {}).items()},
        tokens_per_unit=int(capacity.get("tokens_per_unit", 1000)),
    )


def offer_name(text: str) -> str:
    """The shipped offer a spelling names; ValueError naming the known ones otherwise."""
    book = shipped()
    name = book.aliases.get(text.strip().lower())
    if name is None:
        known = ", ".join(sorted(book.offers))
        raise ValueError(f"{text!r} is not a known offer: expected one of {known} (or mca-e)")
    return name


@dataclass(frozen=True)
class QuotaSettings:
    """The quota settings, typed: offer per subscription, granted limits per pool selector."""

    offers: dict[str, str] = field(default_factory=dict)
    limits: dict[str, dict[str, int]] = field(default_factory=dict)


def parse_quota_settings(offers: Mapping[str, Any], limits: Mapping[str, Any]) -> QuotaSettings:
    """Validate ``quota_offers`` and ``quota_limits``; ValueError with one line on bad input."""
    parsed_offers: dict[str, str] = {}
    for sub, offer in offers.items():
        try:
            parsed_offers[str(sub).strip().lower()] = offer_name(str(offer))
        except ValueError as exc:
            raise ValueError(f"FOUNDRY_MONITOR_QUOTA_OFFERS[{sub!r}]: {exc}") from None
    parsed: dict[str, dict[str, int]] = {}
    for key, value in limits.items():
        parts = [p.strip() for p in str(key).split("/")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"FOUNDRY_MONITOR_QUOTA_LIMITS key {key!r}: expected 'SUBSCRIPTION/MODEL' or "
                "'SUBSCRIPTION/MODEL/VERSION'"
            )
        if not isinstance(value, Mapping) or not value:
            raise ValueError(
                f'FOUNDRY_MONITOR_QUOTA_LIMITS[{key!r}]: expected a table such as {{"rpm": 80}}'
            )
        entry: dict[str, int] = {}
        for limit, number in value.items():
            if limit not in LIMITS:
                raise ValueError(
                    f"FOUNDRY_MONITOR_QUOTA_LIMITS[{key!r}]: {limit!r} is not rpm, itpm or otpm"
                )
            if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
                raise ValueError(
                    f"FOUNDRY_MONITOR_QUOTA_LIMITS[{key!r}].{limit}: expected a whole number "
                    f"above 0, got {number!r}"
                )
            entry[limit] = number
        parsed["/".join([parts[0].lower(), *parts[1:]])] = entry
    return QuotaSettings(offers=parsed_offers, limits=parsed)


@dataclass(frozen=True)
class PoolLimits:
    """A pool's three limits (None: unknown), where each comes from, and a note when one is
    unknown."""

    offer: str
    rpm: int | None
    itpm: int | None
    otpm: int | None
    sources: dict[str, str]
    note: str | None = None

    def get(self, limit: str) -> int | None:
        value: int | None = getattr(self, limit)
        return value

    @property
    def source(self) -> str:
        """One word for the pool: setting, shipped default, mixed or unknown."""
        kinds = {self.sources[name] for name in LIMITS if self.get(name) is not None}
        if not kinds:
            return "unknown"
        return kinds.pop() if len(kinds) == 1 else "mixed"


def pool_limits(key: PoolKey, settings: QuotaSettings | None = None) -> PoolLimits:
    """The limits of one pool: the settings' entry for its version, then for its model, then
    the shipped default of its subscription's offer."""
    settings = settings or QuotaSettings()
    offer = settings.offers.get(key.subscription_id.lower(), DEFAULT_OFFER)
    defaults = shipped().offers.get(offer, {}).get(key.model, {})
    model_entry = settings.limits.get(f"{key.subscription_id.lower()}/{key.model}", {})
    version_entry = settings.limits.get(
        f"{key.subscription_id.lower()}/{key.model}/{key.model_version}", {}
    )
    values: dict[str, int | None] = {}
    sources: dict[str, str] = {}
    for limit in LIMITS:
        for entry, source in (
            (version_entry, SOURCE_SETTING),
            (model_entry, SOURCE_SETTING),
            (defaults, SOURCE_DEFAULT),
        ):
            if limit in entry:
                values[limit], sources[limit] = int(entry[limit]), source
                break
        else:
            values[limit], sources[limit] = None, "unknown"
    note = None
    missing = [limit for limit in LIMITS if values[limit] is None]
    if missing:
        note = (
            f"limit unknown ({', '.join(m.upper() for m in missing)}): {key.model} has no "
            f"shipped default for the {offer} offer; {SETTING_HINT}"
        )
    return PoolLimits(offer, values["rpm"], values["itpm"], values["otpm"], sources, note)


def deployment_limits(model: str | None, capacity: int | None) -> tuple[float | None, int | None]:
    """(requests, tokens) per minute a deployment's ARM capacity allows; None when unknown."""
    if capacity is None or capacity <= 0:
        return None, None
    book = shipped()
    ratio = book.requests_per_unit.get(model or "")
    return (capacity * ratio if ratio is not None else None), capacity * book.tokens_per_unit
