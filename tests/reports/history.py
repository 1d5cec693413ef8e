"""Extra spend history on top of ``tests.seed``: a month of daily spend and reconciliation, with a
few drift days, so reports have daily charts, movers and flagged days to show.

Deterministic (``random.Random(7)``); days the seed already wrote are left alone.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from collector.store.schema import TABLES
from collector.store.writer import upsert
from tests.seed import Seed, resource_id

FIRST = date(2026, 10, 1)
LAST = date(2026, 10, 30)  # the seed's spend starts on 2026-10-31
#: Deployments with history, their resource and typical daily estimate (USD).
HISTORY = {
    "claude-opus-4-5": ("contoso-eastus2", 420),
    "support-bot": ("contoso-eastus2", 260),
    "claude-haiku-4-5": ("contoso-swedencentral", 60),
}
DRIFT_DAYS = {date(2026, 10, 14): Decimal("1.25"), date(2026, 10, 28): Decimal("0.70")}
#: Budgets that the report tests configure (ok, warning and over in November on this data).
BUDGETS = [
    {"deployment": "support-bot", "monthly_usd": 100000},
    {"deployment": "claude-opus-4-5", "monthly_usd": 9000},
    {"resource": "contoso-eastus2", "monthly_usd": 500},
]


def add_history(engine: Engine, seed: Seed) -> None:
    rng = random.Random(7)
    spend_rows = []
    per_resource: dict[tuple[str, date], tuple[Decimal, Decimal]] = {}
    day = FIRST
    while day <= LAST:
        weekend = day.weekday() >= 5
        for name, (resource, typical) in HISTORY.items():
            growth = 1 + (day - FIRST).days / 60
            base = typical * growth * (0.45 if weekend else 1.0)
            estimated = (Decimal(str(round(base * rng.uniform(0.85, 1.15), 2)))).quantize(
                Decimal("0.01")
            )
            factor = DRIFT_DAYS.get(day, Decimal(str(round(rng.uniform(0.96, 1.04), 3))))
            billed = (estimated * factor).quantize(Decimal("0.01"))
            spend_rows.append(
                {
                    "day": day,
                    "deployment_id": seed.deployment_ids[name],
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_read_tokens": 0,
                    "cache_write_5m_tokens": 0,
                    "cache_write_1h_tokens": 0,
                    "claude": True,
                    "estimated": estimated,
                    "billed_allocated": billed,
                    "unpriced": False,
                    "status": "final",
                    "computed_at": seed.end,
                }
            )
            est, bill = per_resource.get((resource, day), (Decimal(0), Decimal(0)))
            per_resource[(resource, day)] = (est + estimated, bill + billed)
        day += timedelta(days=1)
    resource_rows = []
    for (resource, day), (estimated, billed) in sorted(per_resource.items()):
        variance = billed - estimated
        resource_rows.append(
            {
                "day": day,
                "resource_id": resource_id(resource),
                "estimated": estimated,
                "billed": billed,
                "unallocated": Decimal(0),
                "variance": variance,
                "drift_flagged": abs(variance) > estimated * Decimal("0.15"),
                "status": "final",
                "computed_at": seed.end,
            }
        )
    with engine.begin() as conn:
        s = TABLES["spend_daily"]
        stored = {tuple(r) for r in conn.execute(select(s.c.deployment_id, s.c.day))}
        upsert(
            conn,
            "spend_daily",
            [r for r in spend_rows if (r["deployment_id"], r["day"]) not in stored],
        )
        upsert(conn, "spend_resource_daily", resource_rows)
