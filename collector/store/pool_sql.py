"""The quota-pool key of a deployment as SQL columns (:mod:`collector.pools` in SQL).

``(subscription, model, model version, kind, zone)``: kind from the deployment's ARM SKU,
zone from its resource's region through the shipped data-zone map, so every deployment falls
in exactly one pool, on SQLite and Postgres alike (plain ``CASE`` expressions).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from collector.pools import DATA_ZONE, GLOBAL, UNKNOWN_KIND, data_zones

POOL_COLUMNS = ("subscription_id", "model", "model_version", "kind", "zone")


def kind_expr(sku: Any) -> ColumnElement[str]:
    """The pool kind of an ARM ``sku.name`` column (:func:`collector.pools.pool_kind`)."""
    return case(
        (func.lower(sku) == "globalstandard", literal(GLOBAL)),
        (func.lower(sku) == "datazonestandard", literal(DATA_ZONE)),
        (func.coalesce(sku, "") == "", literal(UNKNOWN_KIND)),
        else_=sku,
    )


def zone_expr(sku: Any, location: Any) -> ColumnElement[str]:
    """The zone part of the key (:func:`collector.pools.pool_zone`)."""
    place = func.coalesce(func.lower(location), "")
    zone = case(data_zones(), value=place, else_=place)
    return case(
        (func.lower(sku) == "globalstandard", literal("")),
        (func.coalesce(sku, "") == "", literal("")),
        (func.lower(sku) == "datazonestandard", zone),
        else_=place,
    )


def pool_columns(subscription: Any, model: Any, version: Any, sku: Any, location: Any) -> list[Any]:
    """The five key columns, labelled as :data:`POOL_COLUMNS`."""
    return [
        func.coalesce(func.lower(subscription), "").label("subscription_id"),
        func.coalesce(model, "").label("model"),
        func.coalesce(version, "").label("model_version"),
        kind_expr(sku).label("kind"),
        zone_expr(sku, location).label("zone"),
    ]
