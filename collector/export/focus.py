"""Claude spend as FOCUS 1.0 cost rows (pure): one row per deployment and day of allocated
Claude spend, one per resource-day for the bill's unallocated rest.

FOCUS is the FinOps Open Cost and Usage Specification; the column names, their meaning and types
follow FOCUS 1.0 as Microsoft's own FOCUS export documents it ("FocusCost 1.0",
https://learn.microsoft.com/cloud-computing/finops/focus/metadata): ``BilledCost`` is "the basis
for invoicing ... excluding the amortization of upfront charges", ``ChargePeriodStart`` inclusive
and ``ChargePeriodEnd`` exclusive, ``ConsumedQuantity``/``ConsumedUnit`` the usage measured.
Columns FOCUS lacks carry the ``x_`` prefix the specification reserves for them.

What each column holds (the README has the same table):

- ``BilledCost``: the deployment's share of its account's Claude Marketplace bill that day
  (:mod:`collector.spend.allocation`, to the cent), or the resource-day's unallocated rest. So the
  rows of an account and day sum to what Azure billed for it, and the rows of a resource group
  and day to the Claude charges booked there (Azure books them on SaaS resources in the account's
  resource group, see :mod:`collector.spend.attribution`). 0 while the day is not billed yet.
- ``EffectiveCost`` and ``ListCost``: equal to ``BilledCost``: Claude's Marketplace plans are
  pay-as-you-go at list price, with no commitment discount to amortize.
- ``x_EstimatedCost``: tokens x list price (the price sheet), the figure the bill is split by.
- ``ResourceId``: the Foundry account a row is allocated to (an unattributed charge's own SaaS
  resource when no account could be found); ``x_ChargeResourceIds``: the resources Azure booked
  the account's Claude charges of that day on (``;``-separated).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from collector.text import csv_cell

FORMATS = ("csv", "parquet")
PROVIDER = "Microsoft"
PUBLISHER = "Anthropic"
SERVICE_NAME = "Claude in Microsoft Foundry"
#: One of FOCUS 1.0's allowed ServiceCategory values.
SERVICE_CATEGORY = "AI and Machine Learning"
ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
SAAS_TYPE = "Microsoft.SaaS/resources"
TOKENS = "Tokens"
DEFAULT_CURRENCY = "USD"
#: Money columns keep the store's precision (Numeric(18, 6)).
MONEY_SCALE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What a row names of the resource it is allocated to."""

    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str | None


@dataclass(frozen=True, slots=True)
class DeploymentDay:
    """A Claude deployment's spend on one day (from ``spend_daily``)."""

    day: date
    resource_id: str
    deployment: str
    model: str | None
    model_version: str | None
    billed: Decimal | None
    estimated: Decimal | None
    provisional: bool
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int


@dataclass(frozen=True, slots=True)
class UnallocatedDay:
    """A resource-day's bill that no deployment got (from ``spend_resource_daily``)."""

    day: date
    resource_id: str
    unallocated: Decimal
    provisional: bool


@dataclass(frozen=True, slots=True)
class FocusRow:
    """One FOCUS row; field order is the files' column order."""

    BilledCost: Decimal
    EffectiveCost: Decimal
    ListCost: Decimal
    BillingCurrency: str
    ChargePeriodStart: datetime
    ChargePeriodEnd: datetime
    ChargeCategory: str
    ChargeDescription: str
    ResourceId: str
    ResourceName: str
    ResourceType: str
    RegionId: str | None
    SubAccountId: str | None
    ServiceName: str
    ServiceCategory: str
    ProviderName: str
    PublisherName: str
    ConsumedQuantity: int | None
    ConsumedUnit: str | None
    x_ResourceGroupName: str | None
    x_DeploymentName: str | None
    x_Model: str | None
    x_ModelVersion: str | None
    x_EstimatedCost: Decimal | None
    x_Provisional: bool
    x_InputTokens: int | None
    x_OutputTokens: int | None
    x_CacheReadTokens: int | None
    x_CacheWrite5mTokens: int | None
    x_CacheWrite1hTokens: int | None
    x_ChargeResourceIds: str | None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(FocusRow))
MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "x_EstimatedCost")
INT_COLUMNS = (
    "ConsumedQuantity",
    "x_InputTokens",
    "x_OutputTokens",
    "x_CacheReadTokens",
    "x_CacheWrite5mTokens",
    "x_CacheWrite1hTokens",
)
#: A deployment's usage: null on a row of charges that no deployment is given.
USAGE_COLUMNS = (
    *INT_COLUMNS,
    "ConsumedUnit",
    "x_DeploymentName",
    "x_Model",
    "x_ModelVersion",
    "x_EstimatedCost",
)
TIME_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd")
BOOL_COLUMNS = ("x_Provisional",)


def parse_arm_id(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an ARM id; empty strings for what it lacks."""
    parts = resource_id.strip().strip("/").split("/")
    lower = [p.lower() for p in parts]
    sub = parts[lower.index("subscriptions") + 1] if "subscriptions" in lower[:-1] else ""
    group = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower[:-1] else ""
    return sub, group, parts[-1] if parts else ""


def _money(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(MONEY_SCALE)


def _period(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _where(resource_id: str, accounts: Mapping[str, AccountInfo]) -> AccountInfo:
    """The account of ``resource_id``, or what its ARM id says (an unattributed SaaS resource)."""
    known = accounts.get(resource_id.lower())
    if known is not None:
        return known
    sub, group, name = parse_arm_id(resource_id)
    return AccountInfo(resource_id.lower(), name, sub, group, None)


def _shared(where: AccountInfo, day: date, amount: Decimal, currency: str) -> dict[str, Any]:
    """The FOCUS columns every row fills alike: the amount as billed, effective and list cost
    (pay-as-you-go at list price), the day, the account and the Claude Marketplace service."""
    start, end = _period(day)
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "BillingCurrency": currency,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ResourceId": where.resource_id,
        "ResourceName": where.name,
        "RegionId": where.location,
        "SubAccountId": f"/subscriptions/{where.subscription_id}"
        if where.subscription_id
        else None,
        "ServiceName": SERVICE_NAME,
        "ServiceCategory": SERVICE_CATEGORY,
        "ProviderName": PROVIDER,
        "PublisherName": PUBLISHER,
        "x_ResourceGroupName": where.resource_group or None,
    }


_NO_USAGE: dict[str, Any] = dict.fromkeys(USAGE_COLUMNS)


def focus_rows(
    deployment_days: Iterable[DeploymentDay],
    unallocated_days: Iterable[UnallocatedDay],
    accounts: Mapping[str, AccountInfo],
    charge_ids: Mapping[tuple[date, str], Sequence[str]],
    currencies: Mapping[tuple[date, str], str] | None = None,
) -> list[FocusRow]:
    """The FOCUS rows of the deployment-days and the unallocated resource-days, by day then
    resource then deployment. ``charge_ids`` and ``currencies`` are keyed by (day, lower-case
    resource id of the account or unattributed charge resource)."""
    currencies = currencies or {}
    rows: list[FocusRow] = []
    for d in deployment_days:
        where = _where(d.resource_id, accounts)
        key = (d.day, where.resource_id)
        billed = _money(d.billed)
        tokens = (
            d.input_tokens,
            d.output_tokens,
            d.cache_read_tokens,
            d.cache_write_5m_tokens,
            d.cache_write_1h_tokens,
        )
        model = d.model or "unknown model"
        rows.append(
            FocusRow(
                **_shared(where, d.day, billed, currencies.get(key, DEFAULT_CURRENCY)),
                ChargeDescription=(
                    f"{model} tokens of deployment {d.deployment}: its share of the "
                    "Claude Marketplace bill, allocated by estimate"
                ),
                ResourceType=ACCOUNT_TYPE,
                ConsumedQuantity=sum(tokens),
                ConsumedUnit=TOKENS,
                x_DeploymentName=d.deployment,
                x_Model=d.model,
                x_ModelVersion=d.model_version,
                x_EstimatedCost=None if d.estimated is None else _money(d.estimated),
                x_Provisional=d.provisional,
                x_InputTokens=tokens[0],
                x_OutputTokens=tokens[1],
                x_CacheReadTokens=tokens[2],
                x_CacheWrite5mTokens=tokens[3],
                x_CacheWrite1hTokens=tokens[4],
                x_ChargeResourceIds=";".join(charge_ids.get(key, ())) or None,
            )
        )
    for u in unallocated_days:
        if not u.unallocated:
            continue
        where = _where(u.resource_id, accounts)
        key = (u.day, where.resource_id)
        amount = _money(u.unallocated)
        account = where.resource_id in accounts
        rows.append(
            FocusRow(
                **_shared(where, u.day, amount, currencies.get(key, DEFAULT_CURRENCY)),
                ChargeDescription=(
                    "Claude Marketplace charges not allocated to a deployment"
                    if account
                    else "Claude Marketplace charges matching no Foundry account (unattributed)"
                ),
                ResourceType=ACCOUNT_TYPE if account else SAAS_TYPE,
                **_NO_USAGE,
                x_Provisional=u.provisional,
                x_ChargeResourceIds=";".join(charge_ids.get(key, ())) or where.resource_id,
            )
        )
    return sorted(
        rows,
        key=lambda r: (r.ChargePeriodStart, r.ResourceId, r.x_DeploymentName or "\uffff"),
    )


# -- files --------------------------------------------------------------------------------------


def csv_text(value: Any) -> str:
    """A FOCUS cell as CSV text: ISO 8601 UTC times with ``Z``, ``true``/``false``, empty for
    null, money with its six decimals; text made inert for spreadsheets (``csv_cell``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(csv_cell(value))


def write_csv(rows: Iterable[FocusRow], path: Path) -> int:
    """Write the rows as CSV with a header; returns the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([csv_text(v) for v in astuple(row)])
            count += 1
    return count


def arrow_table(rows: Sequence[FocusRow]) -> Any:
    """The rows as a pyarrow Table: decimal128(18, 6) money, int64 counts, UTC timestamps."""
    import pyarrow as pa

    types: dict[str, Any] = {name: pa.string() for name in COLUMNS}
    types |= {name: pa.decimal128(18, 6) for name in MONEY_COLUMNS}
    types |= {name: pa.int64() for name in INT_COLUMNS}
    types |= {name: pa.timestamp("us", tz="UTC") for name in TIME_COLUMNS}
    types |= {name: pa.bool_() for name in BOOL_COLUMNS}
    schema = pa.schema([(name, types[name]) for name in COLUMNS])
    columns = {name: [getattr(r, name) for r in rows] for name in COLUMNS}
    return pa.table(columns, schema=schema)


def write_parquet(rows: Sequence[FocusRow], path: Path) -> int:
    """Write the rows as Parquet (the same columns and values as the CSV); returns the count."""
    import pyarrow.parquet as pq

    pq.write_table(arrow_table(rows), path)
    return len(rows)
