"""Estimated cost of tokens at list price: tokens x USD per million tokens, less any discount.

The cost model (Anthropic's prompt caching, as Azure Monitor reports it for Claude deployments):

    estimate = input            x input price         (``InputTokens``: uncached input only)
             + 5-min writes     x cache-write price    (``ephemeral5mInputTokens``)
             + 1-hour writes    x 1-h cache-write price (``ephemeral1hInputTokens``)
             + cache reads      x cache-read price     (``cacheReadInputTokens``)
             + output           x output price         (``OutputTokens``)

Each price is the one in effect that day for the deployment's model and version (a version's
own row when the sheet has one, else the model's, see :meth:`PriceSheet.price`). The cache
metrics carry a ``ContextLength`` label: the price sheet maps a label to a tier (``base``, or
``long`` for the ``long_*`` prices of models with a long-context tier); an unmapped label is
priced at the base tier and reported. ``InputTokens`` and ``OutputTokens`` carry no such label,
so they are always priced at the base tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from collector import metric_names as names
from collector.spend.prices import BASE_TIER, PER_MILLION, PriceSheet

#: The store keeps money to six decimals.
MONEY = Decimal("0.000001")


def sum_known(values: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the known amounts; None when none is known (never 0 for "unknown")."""
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


@dataclass(frozen=True, slots=True)
class CacheTokens:
    """Prompt-cache tokens of one ``ContextLength`` label ("" when Azure gave none)."""

    label: str = ""
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0


@dataclass(frozen=True, slots=True)
class Tokens:
    """A deployment's tokens over a span: uncached input, output and the cache split by label."""

    input: int
    output: int
    cache: tuple[CacheTokens, ...] = ()

    @property
    def cache_read(self) -> int:
        return sum(c.read for c in self.cache)

    @property
    def cache_write_5m(self) -> int:
        return sum(c.write_5m for c in self.cache)

    @property
    def cache_write_1h(self) -> int:
        return sum(c.write_1h for c in self.cache)


def cache_part(metric: str, label: str, tokens: int) -> CacheTokens:
    """The :class:`CacheTokens` of one cache metric's total (``metric`` in its documented
    spelling, see :mod:`collector.metric_names`)."""
    if metric == names.CACHE_READ:
        return CacheTokens(label, read=tokens)
    if metric == names.CACHE_WRITE_5M:
        return CacheTokens(label, write_5m=tokens)
    if metric == names.CACHE_WRITE_1H:
        return CacheTokens(label, write_1h=tokens)
    raise ValueError(f"{metric} is not a prompt-cache metric")


def merge_cache(parts: Iterable[CacheTokens]) -> tuple[CacheTokens, ...]:
    """Cache tokens summed per label, ordered by label."""
    sums: dict[str, list[int]] = {}
    for part in parts:
        acc = sums.setdefault(part.label, [0, 0, 0])
        acc[0] += part.read
        acc[1] += part.write_5m
        acc[2] += part.write_1h
    return tuple(CacheTokens(label, *sums[label]) for label in sorted(sums))


def _tier_price(
    sheet: PriceSheet,
    model: str | None,
    token_type: str,
    tier: str,
    day: date,
    version: str | None = None,
) -> Decimal | None:
    """The tier's price of ``token_type``, the base tier's when the model has no such tier."""
    if tier != BASE_TIER:
        price = sheet.price(model, f"{tier}_{token_type}", day, version)
        if price is not None:
            return price
    return sheet.price(model, token_type, day, version)


def _cache_usd(
    sheet: PriceSheet,
    model: str | None,
    day: date,
    cache: Sequence[CacheTokens],
    version: str | None = None,
) -> tuple[Decimal, Decimal] | None:
    """(cost, savings) of the cache tokens in USD per million, before discount; None when a
    price the tokens need is missing (unpriced, never 0)."""
    cost = savings = Decimal(0)
    for part in cache:
        if not (part.read or part.write_5m or part.write_1h):
            continue
        tier = sheet.tier(part.label)
        prices = {
            t: _tier_price(sheet, model, t, tier, day, version)
            for t in ("input", "cache_read", "cache_write", "cache_write_1h")
        }
        needed = {
            "input": True,
            "cache_read": part.read > 0,
            "cache_write": part.write_5m > 0,
            "cache_write_1h": part.write_1h > 0,
        }
        if any(needed[t] and prices[t] is None for t in needed):
            return None
        base = prices["input"] or Decimal(0)
        read = prices["cache_read"] or Decimal(0)
        w5 = prices["cache_write"] or Decimal(0)
        w1 = prices["cache_write_1h"] or Decimal(0)
        cost += part.read * read + part.write_5m * w5 + part.write_1h * w1
        savings += part.read * (base - read) - part.write_5m * (w5 - base)
        savings -= part.write_1h * (w1 - base)
    return cost, savings


def estimate_cost(
    sheet: PriceSheet,
    model: str | None,
    day: date,
    input_tokens: int,
    output_tokens: int,
    discount: Decimal = Decimal(0),
    *,
    cache: Sequence[CacheTokens] = (),
    version: str | None = None,
) -> Decimal | None:
    """USD for the tokens on ``day`` at the prices of ``model`` (in ``version``, when the sheet
    prices it apart) in effect that day, to six decimals.

    None when the model is unpriced (no model, no input or output price in effect that day, or
    cache tokens without their price): never 0 for "unknown".
    """
    input_price = sheet.price(model, "input", day, version)
    output_price = sheet.price(model, "output", day, version)
    if input_price is None or output_price is None:
        return None
    cached = _cache_usd(sheet, model, day, cache, version)
    if cached is None:
        return None
    total = Decimal(input_tokens) * input_price + Decimal(output_tokens) * output_price
    return ((total + cached[0]) / PER_MILLION * (1 - discount)).quantize(MONEY)


def estimate_tokens(
    sheet: PriceSheet,
    model: str | None,
    day: date,
    tokens: Tokens,
    discount: Decimal = Decimal(0),
    *,
    version: str | None = None,
) -> Decimal | None:
    """:func:`estimate_cost` of a :class:`Tokens`."""
    return estimate_cost(
        sheet,
        model,
        day,
        tokens.input,
        tokens.output,
        discount,
        cache=tokens.cache,
        version=version,
    )


def cache_savings(
    sheet: PriceSheet,
    model: str | None,
    day: date,
    cache: Sequence[CacheTokens],
    discount: Decimal = Decimal(0),
    *,
    version: str | None = None,
) -> Decimal | None:
    """What the cache reads saved against paying them as plain input, less the premium the
    cache writes cost over plain input, in USD to six decimals (negative when writes were not
    read back enough to pay off). None when a needed price is missing."""
    cached = _cache_usd(sheet, model, day, cache, version)
    if cached is None:
        return None
    return (cached[1] / PER_MILLION * (1 - discount)).quantize(MONEY)
