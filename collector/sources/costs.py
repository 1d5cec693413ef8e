"""Costs: daily actual cost per resource and meter at a scope, from Cost Management, every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from collector.rows import CostRow

#: Cost Management groups only by the dimensions it lists in its 400 answer ("Invalid dataset
#: grouping: ...; valid values: 'ResourceGroup', ..., 'ResourceId', 'MeterId', ..., 'Meter', ...,
#: 'ChargeType', 'PublisherType', ..."; quoted in Azure/azure-rest-api-specs#32810 and #36332):
#: the meter's name is ``Meter`` there, never ``MeterName`` (a column of exports, not of queries).
#: The REST API takes more than two groupings (Azure/azure-sdk-for-python#12973).
GROUPING = ("ResourceId", "Meter", "PublisherType", "ChargeType")
#: The store keeps money to 6 decimals; rounding here makes re-read amounts compare equal.
MONEY = Decimal("0.000001")


def definition(start: date, end: date) -> Any:
    """The query: ActualCost, daily, grouped by resource, meter, publisher and charge type.

    ``end`` is inclusive (Cost Management's ``to`` is the last day's end).
    """
    from azure.mgmt.costmanagement.models import (
        QueryAggregation,
        QueryDataset,
        QueryDefinition,
        QueryGrouping,
        QueryTimePeriod,
    )

    return QueryDefinition(
        type="ActualCost",
        timeframe="Custom",
        time_period=QueryTimePeriod(
            from_property=datetime(start.year, start.month, start.day),
            to=datetime(end.year, end.month, end.day, 23, 59, 59),
        ),
        dataset=QueryDataset(
            granularity="Daily",
            aggregation={
                "totalCost": QueryAggregation(name="Cost", function="Sum"),
                "totalQuantity": QueryAggregation(name="UsageQuantity", function="Sum"),
            },
            grouping=[QueryGrouping(type="Dimension", name=name) for name in GROUPING],
        ),
    )


def _day(value: Any) -> date:
    text = str(int(value)) if isinstance(value, int | float) else str(value)
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def rows_of(scope: str, columns: list[Any], rows: list[list[Any]]) -> Iterator[CostRow]:
    """Cost rows of one answer page; columns are matched by name, in any order or letter case."""
    names = [(getattr(c, "name", None) or c["name"]).lower() for c in columns]
    index = {name: i for i, name in enumerate(names)}
    cost_col = next((index[n] for n in ("cost", "pretaxcost", "costusd") if n in index), None)
    if cost_col is None or "usagedate" not in index:
        raise ValueError(f"cost answer lacks a cost or UsageDate column (columns: {names})")

    def get(row: list[Any], name: str) -> Any:
        return row[index[name]] if name in index else None

    for row in rows:
        quantity = get(row, "usagequantity")
        yield CostRow(
            day=_day(get(row, "usagedate")),
            scope=scope,
            resource_id=str(get(row, "resourceid") or "").lower(),
            meter=str(get(row, "meter") or get(row, "metername") or ""),
            publisher_type=str(get(row, "publishertype") or ""),
            charge_type=str(get(row, "chargetype") or ""),
            currency=str(get(row, "currency") or ""),
            cost=Decimal(str(row[cost_col])).quantize(MONEY),
            quantity=None if quantity is None else Decimal(str(quantity)).quantize(MONEY),
        )


def fetch(client: Any, scope: str, start: date, end: date) -> Iterator[CostRow]:
    """Every row for ``[start, end]`` (days inclusive), following each ``nextLink``."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.costmanagement.models import QueryResult

    body = definition(start, end)
    result = client.query.usage(scope.lstrip("/"), body)
    while True:
        yield from rows_of(scope, list(result.columns or []), list(result.rows or []))
        if not result.next_link:
            return
        # The SDK returns one page and has no pager for this POST: send the next page's request
        # through the same client pipeline (auth, retries, ClientType header, call counting).
        request = HttpRequest("POST", result.next_link, json=body.as_dict())
        response = client.send_request(request)
        response.raise_for_status()
        result = QueryResult(response.json())
