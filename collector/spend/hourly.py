"""Estimated spend per hour: the store's token sums per hour priced on the fly.

:func:`spend_by_hour` reads through :func:`collector.store.queries.token_hours` and prices with
:mod:`collector.spend.estimate`; re-exported (lazily) by :mod:`collector.store.queries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Unpack

from sqlalchemy import Engine

from collector import metric_names as names
from collector.spend.estimate import Tokens, cache_part, cache_savings, estimate_tokens, merge_cache
from collector.spend.prices import PriceSheet, default_sheet, sheet_from_rows
from collector.store.queries import INPUT_TOKENS, OUTPUT_TOKENS, Filters, token_hours
from collector.store.types import to_utc
from collector.versions import is_claude_deployment


@dataclass(frozen=True, slots=True)
class SpendHour:
    """Estimated spend of one deployment over one hour (None when its model is unpriced)."""

    ts: datetime
    deployment_id: int
    resource: str
    deployment: str
    model: str | None
    input_tokens: int
    output_tokens: int
    estimated: Decimal | None
    unpriced: bool
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_savings: Decimal | None = None
    model_version: str | None = None
    model_label: str | None = None


def spend_by_hour(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    sheet: PriceSheet | None = None,
    **filters: Unpack[Filters],
) -> list[SpendHour]:
    """Estimated spend per hour and deployment: uncached input, cache writes (5 min, 1 h),
    cache reads and output tokens x the prices in effect that day, by the deployment's model,
    with the cache savings. Prices come from the ``price`` table (and the shipped
    ``ContextLength`` tiers) unless a ``sheet`` is given (pass
    ``collector.spend.prices.load_sheet(...)`` to apply its discounts and tiers, as the daily
    figures do). Deployments of other publishers get no estimate."""
    read = token_hours(engine, since, until, with_prices=sheet is None, **filters)
    labels = read.labels
    if sheet is None:
        sheet = sheet_from_rows(read.price_rows or [], default_sheet().context_tiers)
    hours: dict[tuple[datetime, int], dict[str, Any]] = {}
    for r in read.rows:
        ts = to_utc(r["ts"])
        entry = hours.setdefault((ts, r["deployment_id"]), {"row": r, "plain": {}, "cache": []})
        n = r["n"]
        if r["metric"] in names.CACHE_METRICS:
            entry["cache"].append(cache_part(r["metric"], labels.get(r["status_code"], ""), n))
        else:
            entry["plain"][r["metric"]] = entry["plain"].get(r["metric"], 0) + n
    result = []
    for (ts, dep_id), entry in hours.items():
        r = entry["row"]
        tokens = Tokens(
            entry["plain"].get(INPUT_TOKENS, 0),
            entry["plain"].get(OUTPUT_TOKENS, 0),
            merge_cache(entry["cache"]),
        )
        claude = is_claude_deployment(r["model_format"], r["model"])
        discount = sheet.discount(r["resource_id"], r["rn"])
        version = r["model_version"]
        cost = (
            estimate_tokens(sheet, r["model"], ts.date(), tokens, discount, version=version)
            if claude
            else None
        )
        result.append(
            SpendHour(
                ts=ts,
                deployment_id=dep_id,
                resource=r["resource"],
                deployment=r["name"],
                model=r["model"],
                input_tokens=tokens.input,
                output_tokens=tokens.output,
                estimated=cost,
                unpriced=claude and cost is None,
                cache_read_tokens=tokens.cache_read,
                cache_write_5m_tokens=tokens.cache_write_5m,
                cache_write_1h_tokens=tokens.cache_write_1h,
                cache_savings=cache_savings(
                    sheet, r["model"], ts.date(), tokens.cache, discount, version=version
                )
                if claude
                else None,
                model_version=version,
                model_label=r["model_label"],
            )
        )
    return sorted(result, key=lambda x: (x.ts, x.resource, x.deployment, x.deployment_id))
