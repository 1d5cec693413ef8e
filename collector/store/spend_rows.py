"""What the spend refresh (:func:`collector.spend.refresh_spend`) reads and writes.

Reads return plain dicts (the spend package builds its own objects from them; the store never
imports it): deployments with their resource's name, the Foundry accounts, token sums per day,
deployment, metric and split code from ``metric_minute``, the tokens ``spend_daily`` stored,
and ``cost_daily`` rows. Writes make the ``price`` table hold a sheet's rows, and upsert the
``spend_daily`` and ``spend_resource_daily`` rows whose figures changed (``computed_at`` is
when they last changed) and delete the stored days no longer computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from collector.store import writer
from collector.store.queries import TOKEN_METRICS, time_bucket
from collector.store.schema import TABLES

Row = Mapping[str, Any]
#: ``spend_daily``'s token counts.
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
#: The columns whose values make a spend row "changed" (the others are its key and times).
VALUE_COLUMNS = {
    "spend_daily": (
        *TOKEN_COLUMNS,
        "estimated",
        "cache_savings",
        "billed_allocated",
        "unpriced",
        "claude",
        "status",
    ),
    "spend_resource_daily": (
        "estimated",
        "billed",
        "unallocated",
        "variance",
        "drift_flagged",
        "other_billed",
        "status",
    ),
}


# -- reads -----------------------------------------------------------------------------------


def deployments(conn: Connection) -> list[dict[str, Any]]:
    """Every deployment: id, resource_id, name, model, model_format, model_version and its
    resource's name (``resource_name``, None when the inventory lacks the resource)."""
    d, r = TABLES["deployment"], TABLES["resource"]
    rows = conn.execute(
        select(
            d.c.id,
            d.c.resource_id,
            d.c.name,
            d.c.model,
            d.c.model_format,
            d.c.model_version,
            r.c.name.label("resource_name"),
        ).select_from(d.outerjoin(r, r.c.id == d.c.resource_id))
    ).mappings()
    return [dict(row) for row in rows]


def accounts(conn: Connection) -> list[dict[str, Any]]:
    """Every resource: id, subscription_id, resource_group, name, internal_id."""
    r = TABLES["resource"]
    rows = conn.execute(
        select(r.c.id, r.c.subscription_id, r.c.resource_group, r.c.name, r.c.internal_id)
    ).mappings()
    return [dict(row) for row in rows]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def token_sums(conn: Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Token metrics of the UTC days ``[first, last]`` from ``metric_minute``, summed per day
    (``day``, a datetime), ``deployment_id``, ``metric`` and ``status_code`` (the cache
    metrics' ``ContextLength`` label id) as ``n``."""
    m = TABLES["metric_minute"]
    day = time_bucket(m.c.ts, 86_400, conn.dialect.name)
    rows = conn.execute(
        select(
            day.label("day"),
            m.c.deployment_id,
            m.c.metric,
            m.c.status_code,
            func.sum(m.c.total).label("n"),
        )
        .where(
            m.c.ts >= _midnight(first),
            m.c.ts < _midnight(last + timedelta(days=1)),
            m.c.metric.in_(TOKEN_METRICS),
        )
        .group_by(day, m.c.deployment_id, m.c.metric, m.c.status_code)
    ).mappings()
    return [dict(row) for row in rows]


def _days(
    conn: Connection, table: str, columns: Sequence[str], first: date, last: date
) -> list[dict[str, Any]]:
    """``columns`` of the rows of ``table`` whose ``day`` is in ``[first, last]``."""
    t = TABLES[table]
    rows = conn.execute(
        select(*(t.c[name] for name in columns)).where(t.c.day >= first, t.c.day <= last)
    ).mappings()
    return [dict(row) for row in rows]


def stored_tokens(conn: Connection, first: date, last: date) -> list[dict[str, Any]]:
    """The token columns of the ``spend_daily`` rows of ``[first, last]``."""
    return _days(conn, "spend_daily", ("day", "deployment_id", *TOKEN_COLUMNS), first, last)


def costs(conn: Connection, first: date, last: date) -> list[dict[str, Any]]:
    """The ``cost_daily`` rows of ``[first, last]``, every scope: day, resource_id, scope,
    meter, publisher_type, cost, changed_at, fetched_at."""
    key = ("day", "resource_id", "scope", "meter", "publisher_type")
    return _days(conn, "cost_daily", (*key, "cost", "changed_at", "fetched_at"), first, last)


# -- writes ----------------------------------------------------------------------------------


def write_prices(conn: Connection, wanted: Sequence[Row]) -> None:
    """Make the ``price`` table hold exactly ``wanted`` (a price sheet's rows)."""
    p = TABLES["price"]
    keys = {(r["model"], r["token_type"], r["effective_from"]) for r in wanted}
    stale = [
        {"model": row.model, "token_type": row.token_type, "effective_from": row.effective_from}
        for row in conn.execute(select(p.c.model, p.c.token_type, p.c.effective_from)).all()
        if tuple(row) not in keys
    ]
    writer.delete(conn, p, stale)
    writer.upsert(conn, p, wanted)


def _changed(
    conn: Connection,
    table: str,
    key: str,
    first: date,
    last: date,
    rows: Iterable[Row],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[tuple[date, Any]]]:
    """Rows whose figures differ from the stored ones, and stored keys no longer computed."""
    t = TABLES[table]
    columns = VALUE_COLUMNS[table]
    stored = {
        (r["day"], r[key]): tuple(r[c] for c in columns)
        for r in conn.execute(select(t).where(t.c.day >= first, t.c.day <= last)).mappings()
    }
    out = []
    seen = set()
    for row in rows:
        ident = (row["day"], row[key])
        seen.add(ident)
        if stored.get(ident) != tuple(row[c] for c in columns):
            out.append({**row, "computed_at": now})
    return out, [ident for ident in stored if ident not in seen]


def write_days(
    conn: Connection,
    first: date,
    last: date,
    deployment_days: Iterable[Row],
    resource_days: Iterable[Row],
    now: datetime,
) -> tuple[int, int]:
    """Upsert the changed ``spend_daily`` and ``spend_resource_daily`` rows of ``[first,
    last]``, delete the stale ones; returns (written, deleted)."""
    written = deleted = 0
    for table, key, rows in (
        ("spend_daily", "deployment_id", deployment_days),
        ("spend_resource_daily", "resource_id", resource_days),
    ):
        changed, stale = _changed(conn, table, key, first, last, rows, now)
        written += writer.upsert(conn, table, changed)
        deleted += writer.delete(conn, table, [{"day": day, key: ident} for day, ident in stale])
    return written, deleted
