"""What Cost Management bills: one Marketplace (CCU) row per Claude resource per UTC day.

Money is computed exactly: token sums x list price in integer cost units (1e-8 USD, see
:mod:`collector.emulator.catalog`). A resource-day's *final* bill is its true cost rounded half
up to the cent (1 cent = 1 Claude Consumption Unit). It first appears at day+1 06:00 UTC with a
*preliminary* amount of 96.00-99.00 % of the final one (basis points drawn from a hash of seed,
resource and day, rounded down to the cent) and is revised to the final amount at day+2 06:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from collector.emulator.catalog import AccountSpec
from collector.emulator.workload import DAY_MS, Workload, stable_hash

FIRST_SEEN_AFTER = timedelta(days=1, hours=6)
FINAL_AFTER = timedelta(days=2, hours=6)
CENT_UNITS = 1_000_000  # cost units per cent


@dataclass(frozen=True)
class BillRow:
    """A resource-day as Cost Management will show it over time."""

    account: AccountSpec
    day: date
    final_cents: int
    preliminary_cents: int
    true_cost_units: int
    marketplace: bool  # False: the non-Claude account's Azure meter

    @property
    def first_seen(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + FIRST_SEEN_AFTER

    @property
    def final_at(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + FINAL_AFTER

    def cents_at(self, now: datetime) -> int | None:
        """Amount shown at ``now``: None before it first appears, then preliminary, then final."""
        if now < self.first_seen:
            return None
        if now < self.final_at or not self.marketplace:
            return self.preliminary_cents if self.marketplace else self.final_cents
        return self.final_cents


def round_cents(units: int) -> int:
    """Cost units to cents, half up."""
    return (units + CENT_UNITS // 2) // CENT_UNITS


def day_cost_units(workload: Workload, day: int) -> dict[int, int]:
    """Exact true cost (1e-8 USD) per deployment index for one epoch day."""
    atoms = workload.day_atoms(day)
    result: dict[int, int] = {}
    for dep in workload.deployments:
        sel = atoms.dep == dep.index
        result[dep.index] = dep.model.cost_units(
            int(atoms.input_sum[sel].sum()),
            int(atoms.output_sum[sel].sum()),
            int(atoms.cache_write_sum[sel].sum()),
            int(atoms.cache_read_sum[sel].sum()),
        )
    return result


def bill_rows(workload: Workload, until: datetime | None = None) -> list[BillRow]:
    """Every billed resource-day of the workload (zero-cost days have no row, as in Azure)."""
    rows: list[BillRow] = []
    days = workload.days(until)
    for day in days:
        the_day = datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC).date()
        units_by_dep = day_cost_units(workload, day)
        for account in workload.accounts:
            if account.kind == "AIServices" and account.deployments:
                units = sum(
                    units_by_dep[d.index]
                    for d in workload.deployments
                    if d.account.id == account.id
                )
                final = round_cents(units)
                if final <= 0:
                    continue
                bp = 9600 + stable_hash(workload.seed, account.id.lower(), the_day) % 301
                rows.append(BillRow(account, the_day, final, final * bp // 10_000, units, True))
            elif account.daily_other_cost_cents:
                cents = account.daily_other_cost_cents + stable_hash(account.name, the_day) % 200
                rows.append(BillRow(account, the_day, cents, cents, cents * CENT_UNITS, False))
    return rows


def quantity_of(row: BillRow, cents: int) -> float:
    """Usage quantity of a row: CCUs for Claude (1 CCU = 1 cent), tokens/1000 otherwise."""
    return float(cents) if row.marketplace else float(np.round(cents * 6.5, 2))
