"""``refresh_spend``: recompute ``spend_daily`` and ``spend_resource_daily`` for recent days.

The days recomputed are the current month and the last ``spend_refresh_days`` days. Tokens come
from ``metric_minute`` for days it still holds whole (the retention window); older days reuse the
tokens stored in ``spend_daily``, so a late cost revision is still allocated after the raw
metrics were pruned. Bills are the Claude Marketplace rows of ``cost_daily``; when one resource
is read through more than one cost scope, the most recently fetched scope counts (never both).

Everything is written in one transaction: the price sheet (the ``price`` table mirrors it), then
the rows whose figures changed (``computed_at`` is when a row's figures last changed), and rows
that no longer have data are deleted. Running it twice changes nothing. The reads and writes
themselves are :mod:`collector.store.spend_rows`'s: this module builds the spend objects from
its plain rows and computes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from collector import metric_names as names
from collector.config import Settings
from collector.spend import month
from collector.spend.attribution import (
    AccountRef,
    Attributed,
    Attribution,
    Part,
    attribute_charges,
)
from collector.spend.credits import credits_warning, is_claude_charge
from collector.spend.daily import (
    Bill,
    DeploymentDay,
    DeploymentRef,
    ResourceDay,
    compute_days,
    is_claude_deployment,
)
from collector.spend.estimate import (
    CacheTokens,
    Tokens,
    cache_part,
    estimate_tokens,
    merge_cache,
)
from collector.spend.prices import PriceSheet, load_sheet
from collector.store import queries, spend_rows
from collector.store.types import to_utc

log = logging.getLogger("foundry_monitor.spend")

DEFAULT_REFRESH_DAYS = 10


@dataclass(frozen=True, slots=True)
class UnpricedDeployment:
    """A deployment with traffic whose model the price sheet lacks."""

    resource_id: str
    deployment: str
    model: str | None


@dataclass(frozen=True, slots=True)
class DriftDay:
    """A resource-day whose bill differs from the estimate beyond the threshold."""

    resource_id: str
    day: date
    estimated: Decimal | None
    billed: Decimal | None
    variance: Decimal | None


@dataclass(frozen=True)
class SpendReport:
    """What one refresh did, and what it found worth telling."""

    first_day: date
    last_day: date
    deployment_days: int
    resource_days: int
    rows_written: int
    rows_deleted: int
    unpriced: tuple[UnpricedDeployment, ...]
    drift: tuple[DriftDay, ...]
    marketplace_cost_month: Decimal
    credits_warning: str | None
    budgets: tuple[month.BudgetStatus, ...] = ()
    #: ``ContextLength`` labels of cache tokens the price sheet does not map (priced as base)
    unmapped_labels: tuple[str, ...] = ()
    #: how each resource Claude charges were booked on was attributed (charge id -> how)
    attribution: Mapping[str, Attribution] | None = None
    #: Claude charges that match no Foundry account: (charge resource id, cost over the days)
    unattributed: tuple[tuple[str, Decimal], ...] = ()

    @property
    def warnings(self) -> list[str]:
        """One line per thing a user should act on."""
        lines = [
            f"unpriced: {u.deployment} on {u.resource_id.rsplit('/', 1)[-1]} runs model "
            f"{u.model or '(unknown)'}, which the price sheet lacks: its spend is not estimated "
            "and its resource's bill is left unallocated; add the model to the price file "
            "(FOUNDRY_MONITOR_PRICE_FILE)"
            for u in self.unpriced
        ]
        lines += [
            f"budget {b.label}: {b.state} (spent {b.spent:,.2f} of {b.monthly_usd:,.2f}, "
            f"forecast {b.forecast_total:,.2f})"
            for b in self.budgets
            if b.state != "ok"
        ]
        if self.unmapped_labels:
            lines.append(unmapped_labels_warning(self.unmapped_labels))
        for charge_id, cost in self.unattributed:
            lines.append(unattributed_warning(charge_id, cost))
        if self.credits_warning:
            lines.append(self.credits_warning)
        return lines


def unmapped_labels_warning(labels: Iterable[str]) -> str:
    """The line telling a user which ``ContextLength`` labels the price sheet does not map."""
    shown = ", ".join(repr(x) for x in sorted(labels))
    return (
        f"cache tokens with ContextLength label(s) {shown} are priced at the base tier: the "
        "price sheet does not map them; add them to a [context_length] table in your price "
        'file (FOUNDRY_MONITOR_PRICE_FILE), e.g. ">200K" = "long"'
    )


def _unattributed_totals(attributed: Attributed) -> tuple[tuple[str, Decimal], ...]:
    totals: dict[str, Decimal] = {}
    for (_, charge_id), cost in attributed.unattributed.items():
        totals[charge_id] = totals.get(charge_id, Decimal(0)) + cost
    return tuple(sorted(totals.items()))


def unattributed_warning(charge_id: str, cost: Decimal) -> str:
    """The line telling a user that a Claude charge matches no Foundry account."""
    return (
        f"unattributed: Claude Marketplace charges of ${cost:,.2f} on {charge_id} match no "
        "Foundry account (no internalId in its name, no Claude deployment in its resource "
        "group): they are shown apart and not allocated; map the resource to an account with "
        'FOUNDRY_MONITOR_BILL_ATTRIBUTION, e.g. {"<resource id or name>": "<account name>"}'
    )


def refresh_window(
    now: datetime, refresh_days: int, retention_days: int
) -> tuple[date, date, date]:
    """First and last day to recompute, and the first day ``metric_minute`` holds whole."""
    today = to_utc(now).date()
    first = min(today.replace(day=1), today - timedelta(days=max(1, refresh_days) - 1))
    metrics_from = (to_utc(now) - timedelta(days=retention_days)).date() + timedelta(days=1)
    return first, today, metrics_from


def refresh_spend(engine: Engine, settings: Settings, now: datetime) -> SpendReport:
    """Recompute spend for the current month and the last ``spend_refresh_days`` days."""
    now = to_utc(now)
    spend = settings.spend
    sheet = load_sheet(spend.price_file)  # bad settings fail before writing
    budgets = spend.budgets
    first, last, metrics_from = refresh_window(now, spend.refresh_days, spend.retention_days)
    with engine.begin() as conn:
        write_prices(conn, sheet)
        deployments = read_deployments(conn)
        tokens = read_tokens(conn, max(first, metrics_from), last)
        if first < metrics_from:
            tokens.update(stored_tokens(conn, first, metrics_from - timedelta(days=1)))
        charges, other_costs = read_bills(conn, first, last)
        accounts = read_accounts(conn, deployments)
        known = {a.resource_id for a in accounts}
        # only the Foundry accounts' other costs: the scope's VMs and storage are not ours
        other_costs = {k: v for k, v in other_costs.items() if k[1] in known}
        bills, attributed = attribute_bills(
            charges,
            accounts,
            account_estimates(deployments, tokens, sheet),
            spend.bill_attribution,
        )
        dep_days, res_days = compute_days(
            deployments,
            tokens,
            bills,
            sheet,
            now,
            drift_threshold=spend.drift_threshold,
            final_after_days=spend.final_after_days,
            other_costs=other_costs,
        )
        written, deleted = write_days(conn, first, last, dep_days, res_days, now)
    month_start = last.replace(day=1)
    marketplace = sum((b.cost for (d, _), b in charges.items() if d >= month_start), Decimal(0))
    by_id = {d.id: d for d in deployments}
    unpriced = sorted(
        {
            UnpricedDeployment(
                by_id[x.deployment_id].resource_id,
                by_id[x.deployment_id].name,
                by_id[x.deployment_id].model,
            )
            for x in dep_days
            if x.unpriced
        },
        key=lambda u: (u.resource_id, u.deployment),
    )
    report = SpendReport(
        first_day=first,
        last_day=last,
        deployment_days=len(dep_days),
        resource_days=len(res_days),
        rows_written=written,
        rows_deleted=deleted,
        unpriced=tuple(unpriced),
        drift=tuple(
            DriftDay(r.resource_id, r.day, r.estimated, r.billed, r.variance)
            for r in res_days
            if r.drift_flagged
        ),
        marketplace_cost_month=marketplace,
        credits_warning=credits_warning(marketplace, spend.credits_warning),
        budgets=tuple(
            month.budgets(
                engine,
                now,
                budgets,
                window_days=spend.forecast_days,
                trend=spend.forecast_trend,
            )
        )
        if budgets
        else (),
        attribution=attributed.how,
        unattributed=_unattributed_totals(attributed),
        unmapped_labels=tuple(
            sheet.unmapped(
                c.label
                for t in tokens.values()
                for c in t.cache
                if c.read or c.write_5m or c.write_1h
            )
        ),
    )
    log.info(
        "spend days=%s..%s deployment_days=%d resource_days=%d written=%d deleted=%d "
        "unpriced=%d drift=%d",
        first,
        last,
        report.deployment_days,
        report.resource_days,
        written,
        deleted,
        len(report.unpriced),
        len(report.drift),
    )
    return report


# -- reads -----------------------------------------------------------------------------------


def read_deployments(conn: Connection) -> list[DeploymentRef]:
    return [
        DeploymentRef(
            row["id"],
            row["resource_id"].lower(),
            row["name"],
            row["model"],
            row["resource_name"],
            claude=is_claude_deployment(row["model_format"], row["model"]),
            model_version=row["model_version"],
        )
        for row in spend_rows.deployments(conn)
    ]


def read_accounts(conn: Connection, deployments: Iterable[DeploymentRef]) -> list[AccountRef]:
    """The inventory's Foundry accounts with the models of their Claude deployments."""
    models: dict[str, set[str]] = {}
    for d in deployments:
        if d.claude and d.model:
            models.setdefault(d.resource_id.lower(), set()).add(d.model)
    return [
        AccountRef.of(
            row["id"],
            row["subscription_id"],
            row["resource_group"],
            row["name"],
            row["internal_id"],
            models.get(row["id"].lower(), ()),
        )
        for row in spend_rows.accounts(conn)
    ]


def account_estimates(
    deployments: Iterable[DeploymentRef],
    tokens: Mapping[tuple[date, int], Tokens],
    sheet: PriceSheet,
) -> dict[tuple[date, str, str], Decimal | None]:
    """Estimated Claude cost per day, account and model (None when unpriced): the weights a
    charge spread over a resource group's accounts is split by."""
    by_id = {d.id: d for d in deployments}
    out: dict[tuple[date, str, str], Decimal | None] = {}
    for (day, dep_id), used in tokens.items():
        dep = by_id.get(dep_id)
        if dep is None or not dep.claude:
            continue
        key = (day, dep.resource_id.lower(), (dep.model or "").lower())
        discount = sheet.discount(dep.resource_id, dep.resource_name)
        estimate = estimate_tokens(sheet, dep.model, day, used, discount, version=dep.model_version)
        before = out.get(key, Decimal(0))
        out[key] = None if estimate is None or before is None else before + estimate
    return out


def attribute_bills(
    charges: Mapping[tuple[date, str], Bill],
    accounts: list[AccountRef],
    weights: Mapping[tuple[date, str, str], Decimal | None],
    overrides: Mapping[str, str],
) -> tuple[dict[tuple[date, str], Bill], Attributed]:
    """Claude charges per (day, charge resource id) as bills per (day, account id), with their
    model parts; an unattributed charge stays a bill of its own resource id (all unallocated)."""
    attributed = attribute_charges(
        {k: b.cost for k, b in charges.items()}, accounts, weights, overrides
    )
    stamps: dict[tuple[date, str], list[Bill]] = {}
    for (day, charge_id), bill in charges.items():
        targets = attributed.how[charge_id].accounts or (charge_id,)
        for target in targets:
            stamps.setdefault((day, target), []).append(bill)

    def stamped(key: tuple[date, str], cost: Decimal, parts: tuple[Part, ...]) -> Bill:
        seen = stamps.get(key, [])
        changed = [b.changed_at for b in seen if b.changed_at is not None]
        fetched = [b.fetched_at for b in seen if b.fetched_at is not None]
        return Bill(
            cost,
            max(changed) if changed else None,
            max(fetched) if fetched else None,
            parts,
        )

    bills = {
        key: stamped(key, sum((p.cost for p in parts), Decimal(0)), tuple(parts))
        for key, parts in attributed.parts.items()
    }
    for key, cost in attributed.unattributed.items():
        bills[key] = stamped(key, cost, ())
    return bills, attributed


def read_tokens(conn: Connection, first: date, last: date) -> dict[tuple[date, int], Tokens]:
    """Tokens per UTC day and deployment from ``metric_minute``: uncached input, output and the
    prompt-cache split by ``ContextLength`` label."""
    if first > last:
        return {}
    rows = spend_rows.token_sums(conn, first, last)
    labels = queries.context_labels(conn)
    plain: dict[tuple[date, int], dict[str, int]] = {}
    cache: dict[tuple[date, int], list[CacheTokens]] = {}
    for row in rows:
        key = (to_utc(row["day"]).date(), int(row["deployment_id"]))
        n = round(float(row["n"] or 0))
        sums = plain.setdefault(key, {})
        metric = row["metric"]
        if metric in names.CACHE_METRICS:
            part = cache_part(metric, labels.get(int(row["status_code"]), ""), n)
            cache.setdefault(key, []).append(part)
        else:
            sums[metric] = sums.get(metric, 0) + n
    return {
        key: Tokens(
            v.get(names.INPUT_TOKENS, 0),
            v.get(names.OUTPUT_TOKENS, 0),
            merge_cache(cache.get(key, [])),
        )
        for key, v in plain.items()
    }


def stored_tokens(conn: Connection, first: date, last: date) -> dict[tuple[date, int], Tokens]:
    """Tokens of days whose raw metrics are pruned, as the last refresh stored them."""
    # the labels are not kept past the raw retention: these cache tokens price at the base tier
    return {
        (r["day"], r["deployment_id"]): Tokens(
            r["input_tokens"],
            r["output_tokens"],
            merge_cache(
                [
                    CacheTokens(
                        "",
                        r["cache_read_tokens"],
                        r["cache_write_5m_tokens"],
                        r["cache_write_1h_tokens"],
                    )
                ]
            ),
        )
        for r in spend_rows.stored_tokens(conn, first, last)
    }


def read_bills(
    conn: Connection, first: date, last: date
) -> tuple[dict[tuple[date, str], Bill], dict[tuple[date, str], Decimal]]:
    """Billed Claude (Marketplace) cost per day and the resource Azure booked it on (a Foundry
    account, or a SaaS resource in its resource group: see :mod:`collector.spend.attribution`),
    summed over its meters, and the
    cost under every other meter or publisher per day and resource (never allocated to Claude
    deployments). When a resource is read through more than one cost scope, the most recently
    fetched scope counts, for each of the two."""
    claude: dict[tuple[date, str, str], list[Any]] = {}
    other: dict[tuple[date, str, str], list[Any]] = {}
    for row in spend_rows.costs(conn, first, last):
        charge = is_claude_charge(row["publisher_type"], row["meter"], row["resource_id"])
        into = claude if charge else other
        into.setdefault((row["day"], row["resource_id"].lower(), row["scope"]), []).append(row)
    return _latest_scope(claude), {key: bill.cost for key, bill in _latest_scope(other).items()}


def _latest_scope(
    per_scope: dict[tuple[date, str, str], list[Any]],
) -> dict[tuple[date, str], Bill]:
    """One bill per day and resource: the sum of the rows of its most recently fetched scope."""
    chosen: dict[tuple[date, str], tuple[datetime, str, Bill]] = {}
    for (day, resource_id, scope), group in per_scope.items():
        bill = Bill(
            cost=sum((Decimal(str(r["cost"])) for r in group), Decimal(0)),
            changed_at=max(to_utc(r["changed_at"]) for r in group),
            fetched_at=max(to_utc(r["fetched_at"]) for r in group),
        )
        assert bill.fetched_at is not None
        rank = (bill.fetched_at, scope)
        best = chosen.get((day, resource_id))
        if best is None or rank > best[:2]:
            chosen[(day, resource_id)] = (bill.fetched_at, scope, bill)
    return {key: bill for key, (_, _, bill) in chosen.items()}


# -- writes (in the store: collector.store.spend_rows) ---------------------------------------


def write_prices(conn: Connection, sheet: PriceSheet) -> None:
    """Make the ``price`` table hold exactly the sheet's rows."""
    spend_rows.write_prices(conn, sheet.rows())


def write_days(
    conn: Connection,
    first: date,
    last: date,
    dep_days: list[DeploymentDay],
    res_days: list[ResourceDay],
    now: datetime,
) -> tuple[int, int]:
    """Upsert the changed rows, delete the stale ones; returns (written, deleted)."""
    return spend_rows.write_days(
        conn, first, last, [x.as_row() for x in dep_days], [x.as_row() for x in res_days], now
    )
