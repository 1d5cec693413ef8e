"""Cost Management ``POST {scope}/providers/Microsoft.CostManagement/query``.

Rows come from :mod:`collector.emulator.billing` as visible at the emulator clock. Columns follow
Azure: aggregations first (named by each aggregation's ``name``), then ``UsageDate`` (a number
such as 20251101) when the granularity is Daily, then the grouping dimensions, then
``Currency``. ResourceId values are lower-case, as Azure returns them. Pages hold ``page_size``
rows (1,000 by default); ``properties.nextLink`` carries a ``$skiptoken`` and is POSTed again
with the same body. Every answer carries the ``x-ms-ratelimit-microsoft.costmanagement-*``
headers.

Claude rows are Azure Marketplace rows (PublisherType ``Marketplace``, PublisherName
``Anthropic``, meter "Claude Consumption Units", amounts in whole cents); the non-Anthropic
deployment's tokens and the OpenAI account are Azure meter rows (PublisherType ``Azure``,
PublisherName ``Microsoft``, token meters such as "gpt-4o-mini-0718-Inp-glbl Tokens", exact
amounts), never part of a Claude row.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import isodate

from collector.emulator.billing import BillRow, bill_rows, quantity_of
from collector.emulator.catalog import COST_UNITS_PER_USD
from collector.emulator.errors import ApiError, arm_error
from collector.emulator.workload import Workload, stable_hash

DEFAULT_PAGE_SIZE = 1000
HEADER_PREFIX = "x-ms-ratelimit-microsoft.costmanagement"

COST_NAMES = {"cost", "pretaxcost", "costusd", "pretaxcostusd"}
QUANTITY_NAMES = {"usagequantity", "quantity"}


def _attributes(row: BillRow) -> dict[str, str]:
    account = row.account
    resource_type = "microsoft.cognitiveservices/accounts"
    if row.marketplace:
        resource_type = "microsoft.saas/resources"
        meter = {
            "MeterName": row.meter,
            "Meter": row.meter,
            "MeterCategory": "SaaS",
            "MeterSubcategory": f"Anthropic {row.model or 'Claude'}",
            "MeterId": str(uuid.UUID(int=stable_hash("ccu-meter", row.meter) << 96 | 0xC1A0DE)),
            "PublisherType": "Marketplace",
            "PublisherName": "Anthropic",
            "ServiceName": "SaaS",
            "ServiceFamily": "AI + Machine Learning",
            "PricingModel": "OnDemand",
        }
    else:
        meter = {
            "MeterName": row.meter,
            "Meter": row.meter,
            "MeterCategory": "Foundry Models",
            "MeterSubcategory": "Azure OpenAI",
            "MeterId": str(uuid.UUID(int=stable_hash("aoai-meter", row.meter) << 96 | 0xA0A1)),
            "PublisherType": "Azure",
            "PublisherName": "Microsoft",
            "ServiceName": "Foundry Models",
            "ServiceFamily": "AI + Machine Learning",
            "PricingModel": "OnDemand",
        }
    return {
        "ResourceId": row.resource_id.lower(),
        "ResourceGroup": account.resource_group.lower(),
        "ResourceGroupName": account.resource_group.lower(),
        "ResourceLocation": (account.location or "global").lower(),
        "ResourceType": resource_type,
        "SubscriptionId": account.subscription,
        "SubscriptionName": "Contoso AI",
        "ChargeType": "Usage",
        **meter,
    }


#: The dimensions Cost Management groups and filters by, as its 400 answer lists them (quoted in
#: Azure/azure-rest-api-specs#32810 and #36332): ``Meter``, never ``MeterName``; no
#: ``PublisherName``.
DIMENSION_NAMES = (
    "ResourceId",
    "ResourceGroup",
    "ResourceGroupName",
    "ResourceLocation",
    "ResourceType",
    "SubscriptionId",
    "SubscriptionName",
    "ChargeType",
    "Meter",
    "MeterCategory",
    "MeterSubcategory",
    "MeterId",
    "PublisherType",
    "ServiceName",
    "ServiceFamily",
    "PricingModel",
)
_CANONICAL = {d.lower(): d for d in DIMENSION_NAMES}


def _bad(message: str) -> ApiError:
    return arm_error(400, "BadRequest", message)


class CostsApi:
    """Answers Cost Management queries for the workload's subscriptions."""

    def __init__(self, workload: Workload, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.workload = workload
        self.page_size = page_size
        self._rows_cache: list[BillRow] | None = None
        self._cache_until: date | None = None
        self.calls = 0

    def _rows(self, now: datetime) -> list[BillRow]:
        day = now.date()
        if self._rows_cache is None or self._cache_until != day:
            self._rows_cache = bill_rows(self.workload, until=now)
            self._cache_until = day
        return self._rows_cache

    def headers(self) -> dict[str, str]:
        """Informational throttling headers sent with every answer."""
        self.calls += 1
        n = self.calls
        hour_left = max(0, 600 - n)
        return {
            f"{HEADER_PREFIX}-qpu-consumed": "1",
            f"{HEADER_PREFIX}-qpu-remaining": f"QueriesPerHour:{hour_left}",
            f"{HEADER_PREFIX}-entity-requests": "1",
            f"{HEADER_PREFIX}-entity-remaining": f"QueriesPerFiveMinutes:{max(0, 60 - n)}",
            f"{HEADER_PREFIX}-tenant-requests": "1",
            f"{HEADER_PREFIX}-tenant-remaining": f"QueriesPerFiveMinutes:{max(0, 600 - n)}",
            "x-ms-request-id": str(uuid.UUID(int=stable_hash("cm", self.calls) << 64 | self.calls)),
        }

    def query(
        self,
        scope: str,
        body: dict[str, Any],
        params: dict[str, str],
        now: datetime,
        base_url: str,
    ) -> dict[str, Any]:
        sub, rg = self._scope(scope)
        if not isinstance(body, dict):
            raise _bad("The request body must be a query definition.")
        kind = str(body.get("type", ""))
        if kind.lower() not in ("actualcost", "amortizedcost", "usage"):
            raise _bad(f"Invalid query type '{kind}': expected ActualCost, AmortizedCost or Usage.")
        first, last = self._period(body, now)
        dataset = body.get("dataset") or {}
        granularity = str(dataset.get("granularity") or "None")
        if granularity.lower() not in ("daily", "none", "monthly"):
            raise _bad(f"Invalid granularity '{granularity}'.")
        aggregations = dataset.get("aggregation") or {
            "totalCost": {"name": "Cost", "function": "Sum"}
        }
        agg_columns: list[tuple[str, str]] = []
        for alias, spec in aggregations.items():
            name = str((spec or {}).get("name", ""))
            if str((spec or {}).get("function", "")).lower() != "sum":
                raise _bad(f"Aggregation '{alias}': only the Sum function is supported.")
            if name.lower() in COST_NAMES:
                agg_columns.append((name, "cost"))
            elif name.lower() in QUANTITY_NAMES:
                agg_columns.append((name, "quantity"))
            else:
                raise _bad(f"Aggregation '{alias}': invalid column name '{name}'.")
        groups: list[str] = []
        for grouping in dataset.get("grouping") or []:
            if str(grouping.get("type", "")).lower() != "dimension":
                raise _bad(f"Grouping type '{grouping.get('type')}' is not supported.")
            canonical = _CANONICAL.get(str(grouping.get("name", "")).lower())
            if canonical is None:
                valid = ",".join(f"'{d}'" for d in DIMENSION_NAMES)
                raise _bad(
                    "Invalid query definition: Invalid dataset grouping: "
                    f"'{grouping.get('name')}'; valid values: {valid}."
                )
            groups.append(canonical)
        predicate = self._filter(dataset.get("filter"))
        table: dict[tuple, list[Any]] = {}
        for row in self._rows(now):
            cents = row.cents_at(now)
            units = row.units_at(now)
            if cents is None or units is None or not first <= row.day <= last:
                continue
            attrs = _attributes(row)
            if attrs["SubscriptionId"].lower() != sub.lower():
                continue
            if rg is not None and attrs["ResourceGroup"] != rg.lower():
                continue
            if not predicate(attrs):
                continue
            day_key: tuple = ()
            if granularity.lower() == "daily":
                day_key = (int(row.day.strftime("%Y%m%d")),)
            elif granularity.lower() == "monthly":
                day_key = (row.day.replace(day=1).strftime("%Y-%m-%dT00:00:00"),)
            key = (*day_key, *(attrs[g] for g in groups))
            acc = table.setdefault(key, [0, 0.0])
            acc[0] += units
            acc[1] += quantity_of(row, cents)
        columns = [{"name": n, "type": "Number"} for n, _ in agg_columns]
        if granularity.lower() == "daily":
            columns.append({"name": "UsageDate", "type": "Number"})
        elif granularity.lower() == "monthly":
            columns.append({"name": "BillingMonth", "type": "Datetime"})
        columns += [{"name": g, "type": "String"} for g in groups]
        columns.append({"name": "Currency", "type": "String"})
        rows = []
        for key in sorted(table):
            units, quantity = table[key]
            cost = units / COST_UNITS_PER_USD
            values = [cost if what == "cost" else quantity for _, what in agg_columns]
            rows.append([*values, *key, "USD"])
        offset = self._offset(params.get("$skiptoken"))
        page = rows[offset : offset + self.page_size]
        next_link = None
        if offset + self.page_size < len(rows):
            token = base64.urlsafe_b64encode(
                json.dumps({"offset": offset + self.page_size}).encode()
            ).decode()
            version = params.get("api-version", "2025-03-01")
            next_link = (
                f"{base_url}/{scope.strip('/')}/providers/Microsoft.CostManagement/query"
                f"?api-version={version}&$skiptoken={quote(token)}"
            )
        query_id = uuid.UUID(int=stable_hash(scope, json.dumps(body, sort_keys=True)) << 96 | 1)
        return {
            "id": f"{scope.strip('/')}/providers/Microsoft.CostManagement/query/{query_id}",
            "name": str(query_id),
            "type": "Microsoft.CostManagement/query",
            "location": None,
            "sku": None,
            "eTag": None,
            "tags": None,
            "properties": {"nextLink": next_link, "columns": columns, "rows": page},
        }

    # ------------------------------------------------------------------ parsing
    def _scope(self, scope: str) -> tuple[str, str | None]:
        parts = scope.strip("/").split("/")
        if len(parts) not in (2, 4) or parts[0].lower() != "subscriptions":
            raise _bad(f"Scope '{scope}' is not supported by the emulator.")
        sub = parts[1]
        if sub.lower() not in {s.lower() for s in self.workload.catalog.subscriptions}:
            raise arm_error(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found."
            )
        if len(parts) == 4:
            if parts[2].lower() != "resourcegroups":
                raise _bad(f"Scope '{scope}' is not supported by the emulator.")
            return sub, parts[3]
        return sub, None

    def _period(self, body: dict[str, Any], now: datetime) -> tuple[date, date]:
        timeframe = str(body.get("timeframe", "")).lower()
        today = now.astimezone(UTC).date()
        if timeframe == "custom":
            period = body.get("timePeriod") or {}
            try:
                start = isodate.parse_datetime(period["from"]).date()
                end = isodate.parse_datetime(period["to"]).date()
            except (KeyError, TypeError, ValueError, isodate.ISO8601Error):
                raise _bad("A Custom timeframe needs timePeriod.from and timePeriod.to.") from None
            if start > end:
                start, end = end, start
            return start, end
        if timeframe in ("monthtodate", "billingmonthtodate"):
            return today.replace(day=1), today
        if timeframe in ("thelastmonth", "thelastbillingmonth"):
            last = today.replace(day=1) - timedelta(days=1)
            return last.replace(day=1), last
        if timeframe == "weektodate":
            return today - timedelta(days=today.weekday()), today
        raise _bad(f"Invalid timeframe '{body.get('timeframe')}'.")

    def _filter(self, spec: Any) -> Any:
        if not spec:
            return lambda attrs: True
        if not isinstance(spec, dict):
            raise _bad("Invalid filter.")
        if spec.get("and"):
            parts = [self._filter(s) for s in spec["and"]]
            return lambda attrs: all(p(attrs) for p in parts)
        if spec.get("or"):
            parts = [self._filter(s) for s in spec["or"]]
            return lambda attrs: any(p(attrs) for p in parts)
        if spec.get("not"):
            inner = self._filter(spec["not"])
            return lambda attrs: not inner(attrs)
        dims = spec.get("dimensions")
        if dims:
            name = _CANONICAL.get(str(dims.get("name", "")).lower())
            if name is None:
                raise _bad(f"Invalid dimension name '{dims.get('name')}' in filter.")
            if str(dims.get("operator", "In")).lower() != "in":
                raise _bad("Only the 'In' operator is supported in dimension filters.")
            values = {str(v).lower() for v in dims.get("values") or []}
            return lambda attrs: attrs[name].lower() in values
        raise _bad("Only dimension filters (with and/or/not) are supported.")

    @staticmethod
    def _offset(token: str | None) -> int:
        if not token:
            return 0
        try:
            padded = token + "=" * (-len(token) % 4)
            return int(json.loads(base64.urlsafe_b64decode(padded))["offset"])
        except (ValueError, KeyError, TypeError):
            raise _bad("Invalid $skiptoken.") from None
