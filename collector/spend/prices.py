"""The versioned price sheet: effective-dated USD per million tokens by model and token type.

The shipped sheet is ``collector/data/prices.toml``; a user's file (``price_file`` setting) is laid
over it row by row, and may add a ``[discounts]`` table (fraction off list price per resource).
A model is looked up by the deployment's *model* (from the inventory), lower-cased, never by the
deployment's name. A model or token type the sheet lacks has no price: callers mark the figure
unpriced, never $0.

Prices follow the model *and* its version: a ``[[price]]`` block may name a ``version`` (ARM's
``properties.model.version``, e.g. ``"1"`` for Claude hosted on Anthropic's infrastructure,
``"2"`` hosted on Azure). A look-up for (model, version) takes the version's own row of the token
type in effect that day when the sheet has one, else the model's rows without a version.
In the ``price`` table a version's rows are stored under the model ``<model>@<version>``
(:data:`VERSION_SEPARATOR`).
"""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from collector.errors import ConfigError

#: The token types the sheet knows. ``cache_write`` is the 5-minute cache write; ``long_*`` is
#: Sonnet's long-context tier (prompts over 200k tokens).
TOKEN_TYPES: tuple[str, ...] = (
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "long_input",
    "long_output",
    "long_cache_write",
    "long_cache_write_1h",
    "long_cache_read",
)
#: Price tiers a ``ContextLength`` label of Azure's cache metrics can map to: ``base`` prices the
#: plain token types, ``long`` the ``long_*`` ones (falling back to base for models without them).
BASE_TIER = "base"
LONG_TIER = "long"
TIERS: tuple[str, ...] = (BASE_TIER, LONG_TIER)
DEFAULT_SOURCE = "collector/data/prices.toml"
#: Joins model and version in the ``price`` table's model column (``claude-sonnet-4-5@1``).
VERSION_SEPARATOR = "@"
PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """One row of the sheet (and of the ``price`` table)."""

    model: str
    token_type: str
    effective_from: date
    usd_per_mtok: Decimal
    source: str | None = None
    #: the model version the row is for (None: every version without a row of its own)
    version: str | None = None

    @property
    def key(self) -> tuple[str, str, str, date]:
        return (self.model, self.version or "", self.token_type, self.effective_from)

    @property
    def stored_model(self) -> str:
        """The ``price`` table's model: ``model``, or ``model@version`` for a version's row."""
        return f"{self.model}{VERSION_SEPARATOR}{self.version}" if self.version else self.model

    def as_row(self) -> dict[str, Any]:
        return {
            "model": self.stored_model,
            "token_type": self.token_type,
            "effective_from": self.effective_from,
            "usd_per_mtok": self.usd_per_mtok,
            "source": self.source,
        }


@dataclass(frozen=True)
class PriceSheet:
    """Prices by (model, token type), each list sorted by ``effective_from``; discounts by
    resource (lower-cased id or name) as a fraction off list price."""

    prices: tuple[Price, ...]
    discounts: Mapping[str, Decimal] = field(default_factory=dict)
    #: ``ContextLength`` label (lower-cased) -> tier (:data:`TIERS`)
    context_tiers: Mapping[str, str] = field(default_factory=dict)
    _index: dict[tuple[str, str, str], list[Price]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str, str, str], list[Price]] = {}
        for price in sorted(self.prices, key=lambda p: p.key):
            index.setdefault((price.model, price.version or "", price.token_type), []).append(price)
        object.__setattr__(self, "_index", index)

    @property
    def models(self) -> set[str]:
        return {p.model for p in self.prices}

    def versions(self, model: str | None) -> set[str]:
        """The versions of ``model`` with rows of their own."""
        name = (model or "").strip().lower()
        return {p.version for p in self.prices if p.model == name and p.version}

    def _in_effect(self, model: str, version: str, token_type: str, day: date) -> Decimal | None:
        rows = self._index.get((model, version, token_type), [])
        at = bisect.bisect_right([p.effective_from for p in rows], day)
        return rows[at - 1].usd_per_mtok if at else None

    def price(
        self, model: str | None, token_type: str, day: date, version: str | None = None
    ) -> Decimal | None:
        """USD per million tokens of ``model``'s ``token_type`` on ``day``: the row of the
        model's ``version`` in effect that day when the sheet has one, else the model's row
        without a version. None when unpriced (unknown model or token type, or a day before
        the model's first price)."""
        if not model:
            return None
        name = model.strip().lower()
        if version and version.strip():
            own = self._in_effect(name, version.strip(), token_type, day)
            if own is not None:
                return own
        return self._in_effect(name, "", token_type, day)

    def tier(self, label: str) -> str:
        """The price tier of a ``ContextLength`` label: its mapping, else the base tier (an
        unmapped label is reported by :meth:`unmapped`)."""
        return self.context_tiers.get(label.strip().lower(), BASE_TIER)

    def unmapped(self, labels: Iterable[str]) -> list[str]:
        """The non-empty labels the sheet does not map (priced at the base tier)."""
        return sorted({x for x in labels if x and x.strip().lower() not in self.context_tiers})

    def discount(self, resource_id: str, resource_name: str | None = None) -> Decimal:
        """Fraction off list price for a resource (0 when none is set)."""
        for key in (resource_id.lower(), (resource_name or "").lower()):
            if key and key in self.discounts:
                return self.discounts[key]
        return Decimal(0)

    def rows(self) -> list[dict[str, Any]]:
        """The sheet as ``price`` table rows."""
        return [p.as_row() for p in sorted(self.prices, key=lambda p: p.key)]


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{where}: expected a number >= 0, got {value!r}")
    return number


def parse_sheet(data: Mapping[str, Any], source: str) -> PriceSheet:
    """A sheet from parsed TOML: ``[[price]]`` blocks of model, optional version, effective_from
    and one number per token type (USD per million tokens), and an optional ``[discounts]``
    table."""
    prices: list[Price] = []
    unknown = set(data) - {"price", "discounts", "include_defaults", "context_length"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {sorted(unknown)}; expected [[price]] blocks, a "
            "[discounts] table, a [context_length] table and include_defaults"
        )
    blocks = data.get("price", [])
    if not isinstance(blocks, list):
        raise ConfigError(f"{source}: expected [[price]] blocks (an array of tables)")
    for n, block in enumerate(blocks, start=1):
        where = f"{source}: [[price]] block {n}"
        if not isinstance(block, dict):
            raise ConfigError(f"{where}: expected a table")
        model = block.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f'{where}: needs model = "<model id, e.g. claude-sonnet-4-5>"')
        effective = block.get("effective_from")
        if not isinstance(effective, date):
            raise ConfigError(f"{where} ({model}): needs effective_from = YYYY-MM-DD (a TOML date)")
        unknown = set(block) - {"model", "version", "effective_from", "source", *TOKEN_TYPES}
        if unknown:
            raise ConfigError(
                f"{where} ({model}): unknown key(s) {sorted(unknown)}; token types are "
                f"{', '.join(TOKEN_TYPES)}"
            )
        version = block.get("version")
        if version is not None and (
            not isinstance(version, str)
            or not version.strip()
            or VERSION_SEPARATOR in version
            or len(model.strip()) + len(version.strip()) + 1 > 100
        ):
            raise ConfigError(
                f'{where} ({model}): version must be a quoted model version, e.g. version = "1" '
                f'or "20250929" (got {version!r})'
            )
        note = str(block.get("source") or source)
        for token_type in TOKEN_TYPES:
            if token_type in block:
                prices.append(
                    Price(
                        model=model.strip().lower(),
                        token_type=token_type,
                        effective_from=effective,
                        usd_per_mtok=_decimal(block[token_type], f"{where} ({model}) {token_type}"),
                        source=note[:200],
                        version=version.strip() if version else None,
                    )
                )
    raw_discounts = data.get("discounts", {})
    if not isinstance(raw_discounts, dict):
        raise ConfigError(f"{source}: [discounts] must be a table of resource = fraction off")
    discounts: dict[str, Decimal] = {}
    for resource, value in raw_discounts.items():
        fraction = _decimal(value, f"{source}: discount of {resource}")
        if fraction >= 1:
            raise ConfigError(
                f"{source}: discount of {resource} is {value}: expected the fraction off list "
                "price, from 0 to below 1 (0.1 = 10 % off)"
            )
        discounts[resource.strip().lower()] = fraction
    raw_tiers = data.get("context_length", {})
    if not isinstance(raw_tiers, dict):
        raise ConfigError(f'{source}: [context_length] must be a table of "label" = "tier"')
    tiers: dict[str, str] = {}
    for label, tier in raw_tiers.items():
        if tier not in TIERS:
            raise ConfigError(
                f"{source}: [context_length] {label!r} = {tier!r}: the tier must be one of "
                f"{', '.join(TIERS)}"
            )
        tiers[str(label).strip().lower()] = tier
    return PriceSheet(tuple(prices), discounts, tiers)


def _load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"price file {source} is not valid TOML: {exc}") from None


def default_sheet() -> PriceSheet:
    """The shipped sheet."""
    text = resources.files("collector").joinpath("data/prices.toml").read_text(encoding="utf-8")
    return parse_sheet(_load_toml(text, DEFAULT_SOURCE), DEFAULT_SOURCE)


def overlay(base: PriceSheet, top: PriceSheet) -> PriceSheet:
    """``top``'s rows replace ``base``'s with the same (model, version, token type,
    effective_from) and add the rest; discounts likewise."""
    merged = {p.key: p for p in base.prices}
    merged.update({p.key: p for p in top.prices})
    return PriceSheet(
        tuple(merged.values()),
        {**base.discounts, **top.discounts},
        {**base.context_tiers, **top.context_tiers},
    )


def load_sheet(path: Path | str | None = None) -> PriceSheet:
    """The shipped sheet, overlaid with the file at ``path`` when given (or replaced by it, when
    the file says ``include_defaults = false``)."""
    sheet = default_sheet()
    if path is None or str(path) == "":
        return sheet
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"price file {file} does not exist: check FOUNDRY_MONITOR_PRICE_FILE"
        ) from None
    data = _load_toml(text, str(file))
    own = parse_sheet(data, f"file:{file}")
    include = data.get("include_defaults", True)
    if not isinstance(include, bool):
        raise ConfigError(f"price file {file}: include_defaults must be true or false")
    return overlay(sheet, own) if include else own


def sheet_from_rows(
    rows: Iterable[Mapping[str, Any]], context_tiers: Mapping[str, str] | None = None
) -> PriceSheet:
    """A sheet (without discounts) from ``price`` table rows (``model@version``: a version's)."""
    return PriceSheet(
        tuple(
            Price(
                model=str(r["model"]).partition(VERSION_SEPARATOR)[0],
                token_type=r["token_type"],
                effective_from=r["effective_from"],
                usd_per_mtok=Decimal(str(r["usd_per_mtok"])),
                source=r.get("source"),
                version=str(r["model"]).partition(VERSION_SEPARATOR)[2] or None,
            )
            for r in rows
        ),
        context_tiers=dict(context_tiers or {}),
    )
