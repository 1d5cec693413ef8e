"""Estimated cost of tokens at list price: tokens x USD per million tokens, less any discount.

Azure's token metrics (``InputTokens``, ``OutputTokens``) do not split cached input, so an
estimate from them prices every input token as plain input: that is the most an estimate can
reach (the bill also carries cache writes and reads, at their own prices).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from collector.spend.prices import PER_MILLION, PriceSheet

#: The store keeps money to six decimals.
MONEY = Decimal("0.000001")


def estimate_cost(
    sheet: PriceSheet,
    model: str | None,
    day: date,
    input_tokens: int,
    output_tokens: int,
    discount: Decimal = Decimal(0),
) -> Decimal | None:
    """USD for the tokens on ``day`` at ``model``'s prices in effect that day, to six decimals.

    None when the model is unpriced (no model, or no input or output price in effect that day):
    never 0 for "unknown".
    """
    input_price = sheet.price(model, "input", day)
    output_price = sheet.price(model, "output", day)
    if input_price is None or output_price is None:
        return None
    total = Decimal(input_tokens) * input_price + Decimal(output_tokens) * output_price
    return (total / PER_MILLION * (1 - discount)).quantize(MONEY)
