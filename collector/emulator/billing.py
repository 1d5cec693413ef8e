"""What Cost Management bills, per resource and UTC day.

*Claude* (Azure Marketplace, PublisherType ``Marketplace``, service SaaS) is booked the way
Azure books it, not on the Foundry account: Microsoft's Foundry cost guide ("Plan and manage
costs", *Models from partners and community*) says Marketplace models' charges "are associated
with the resource group where your Foundry is deployed instead of to the Foundry resource
itself"; readers of real bills see them on ``microsoft.saas/resources`` in that group, one per
model, named ``<model cut to 15 characters>-<first 15 characters of the account's internalId>-
<32 hex>``. Since CCU billing there is one meter per plan ("Azure hosted"), never naming the
model; accounts on the older plan (``AccountSpec.legacy_meters``) are billed by per-model token
meters ("claude-sonnet-4-5 - paygo-inference-input-tokens"; the cache meters' names follow that
pattern by analogy: not documented). A SaaS name may carry a stale internalId
(``AccountSpec.stale_saas_models``), and an orphaned SaaS resource (``Catalog.orphan_charges``)
bills a flat amount in a group without any Foundry account.

Money is computed exactly: token sums x list price in integer cost units (1e-8 USD, see
:mod:`collector.emulator.catalog`), all five token types (input, output, 5-minute and 1-hour cache
writes, cache reads), each request at its context tier (Sonnet's long-context prices above 200k
prompt tokens), over the account's Anthropic deployments of the row's model. A row's *final*
amount is its true cost rounded half up to the cent (1 cent = 1 Claude Consumption Unit). It
first appears at day+1 06:00 UTC with a *preliminary* amount of 96.00-99.00 % of the final one
(basis points drawn from a hash of seed, resource, meter and day, rounded down to the cent) and
is revised to the final amount at day+2 06:00.

*Azure meters* (PublisherType ``Azure``, publisher Microsoft): the non-Anthropic deployments'
tokens (``gpt-4o-mini`` on an AIServices account: one row per token meter, input and output,
exact cost, quantity in 1K tokens) and the OpenAI account's flat daily cost. They appear at
day+1 06:00 UTC with their final amount. They never enter a Claude (Marketplace) row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from collector.emulator.catalog import AccountSpec
from collector.emulator.workload import DAY_MS, Atoms, Workload, stable_hash

FIRST_SEEN_AFTER = timedelta(days=1, hours=6)
FINAL_AFTER = timedelta(days=2, hours=6)
CENT_UNITS = 1_000_000  # cost units per cent
CLAUDE_METER = "Azure hosted"  # the CCU plan's one meter
#: Older plans: per-model token meters, "<model> - <suffix>".
LEGACY_METERS: dict[str, str] = {
    "input": "paygo-inference-input-tokens",
    "output": "paygo-inference-output-tokens",
    "cache_write_5m": "paygo-inference-cache-write-5m-tokens",
    "cache_write_1h": "paygo-inference-cache-write-1h-tokens",
    "cache_read": "paygo-inference-cache-read-tokens",
}
NAME_PART = 15


def saas_resource_id(
    subscription: str, resource_group: str, model: str, internal_id: str, salt: object = ""
) -> str:
    """The ``microsoft.saas/resources`` id a Claude model's charges are booked on."""
    tail = "".join(f"{stable_hash(i, model, internal_id, salt):08x}" for i in range(4))
    name = f"{model[:NAME_PART]}-{internal_id[:NAME_PART]}-{tail}"
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.SaaS/resources/{name}"
    )


#: Azure token meters (Global Standard) of non-Anthropic models: (input meter, output meter).
AZURE_METERS: dict[str, tuple[str, str]] = {
    "gpt-4o-mini": ("gpt-4o-mini-0718-Inp-glbl Tokens", "gpt-4o-mini-0718-Outp-glbl Tokens"),
}
#: The OpenAI account's flat daily charge is shown under this meter.
OTHER_METER = AZURE_METERS["gpt-4o-mini"][0]


@dataclass(frozen=True)
class BillRow:
    """A resource-day (and meter) as Cost Management will show it over time."""

    account: AccountSpec
    day: date
    final_cents: int
    preliminary_cents: int
    true_cost_units: int
    marketplace: bool  # False: an Azure meter (non-Claude)
    meter: str = CLAUDE_METER
    #: usage quantity (Azure token meters: thousands of tokens); None: derived from the cents
    quantity: float | None = None
    #: exact amount in cost units (Azure token meters); None: the (rounded) cents
    exact_units: int | None = None
    deployment: str | None = None  # the deployment an Azure token meter row belongs to
    #: where Azure books the row (a SaaS resource for Claude); None: the account itself
    booked_on: str | None = None
    model: str | None = None  # the Claude model of a Marketplace row
    orphan: bool = False  # a Claude SaaS resource with no Foundry account in its group

    @property
    def resource_id(self) -> str:
        return self.booked_on or self.account.id

    @property
    def first_seen(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + FIRST_SEEN_AFTER

    @property
    def final_at(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + FINAL_AFTER

    @property
    def final_units(self) -> int:
        return self.exact_units if self.exact_units is not None else self.final_cents * CENT_UNITS

    def cents_at(self, now: datetime) -> int | None:
        """Amount shown at ``now``: None before it first appears, then preliminary, then final."""
        if now < self.first_seen:
            return None
        if now < self.final_at or not self.marketplace:
            return self.preliminary_cents if self.marketplace else self.final_cents
        return self.final_cents

    def units_at(self, now: datetime) -> int | None:
        """Like :meth:`cents_at`, in cost units (exact for Azure token meters)."""
        cents = self.cents_at(now)
        if cents is None:
            return None
        if self.exact_units is not None:
            return self.exact_units
        return cents * CENT_UNITS


def round_cents(units: int) -> int:
    """Cost units to cents, half up."""
    return (units + CENT_UNITS // 2) // CENT_UNITS


def _sums(atoms: Atoms, sel: np.ndarray) -> tuple[int, int, int, int, int]:
    return (
        int(atoms.input_sum[sel].sum()),
        int(atoms.output_sum[sel].sum()),
        int(atoms.cache_write_5m_sum[sel].sum()),
        int(atoms.cache_write_1h_sum[sel].sum()),
        int(atoms.cache_read_sum[sel].sum()),
    )


def day_cost_parts(workload: Workload, day: int) -> dict[int, dict[str, int]]:
    """Exact true cost (1e-8 USD) by token type per deployment index for one epoch day, at list
    price (each context class at its tier)."""
    atoms = workload.day_atoms(day)
    result: dict[int, dict[str, int]] = {}
    for dep in workload.deployments:
        mine = atoms.dep == dep.index
        parts: dict[str, int] = dict.fromkeys(LEGACY_METERS, 0)
        for c in (0, 1):
            tier = dep.model.cost_parts(
                *_sums(atoms, mine & (atoms.context == c)), long_context=c == 1
            )
            for key, units in tier.items():
                parts[key] += units
        result[dep.index] = parts
    return result


def day_cost_units(workload: Workload, day: int) -> dict[int, int]:
    """Exact true cost (1e-8 USD) per deployment index for one epoch day."""
    return {i: sum(p.values()) for i, p in day_cost_parts(workload, day).items()}


def _claude_rows(
    workload: Workload, account: AccountSpec, the_day: date, parts: dict[int, dict[str, int]]
) -> list[BillRow]:
    """An account's Claude Marketplace rows of a day: one per model (CCU plan) or per model and
    token type (legacy meters), booked on the model's SaaS resource in the account's group."""
    rows: list[BillRow] = []
    mine = [d for d in workload.deployments if d.account.id == account.id and d.model.anthropic]
    for model in sorted({d.model.id for d in mine}):
        by_type = dict.fromkeys(LEGACY_METERS, 0)
        for dep in mine:
            if dep.model.id == model:
                for key, units in parts[dep.index].items():
                    by_type[key] += units
        stale = model in account.stale_saas_models
        internal = f"{stable_hash('recreated', account.id):08x}" * 4 if stale else None
        booked = saas_resource_id(
            account.subscription, account.resource_group, model, internal or account.internal_id
        )
        if account.legacy_meters:
            meters = [(f"{model} - {LEGACY_METERS[k]}", u) for k, u in by_type.items()]
        else:
            meters = [(CLAUDE_METER, sum(by_type.values()))]
        for meter, units in meters:
            final = round_cents(units)
            if final <= 0:
                continue
            bp = 9600 + stable_hash(workload.seed, booked.lower(), meter, the_day) % 301
            rows.append(
                BillRow(
                    account,
                    the_day,
                    final,
                    final * bp // 10_000,
                    units,
                    True,
                    meter=meter,
                    booked_on=booked,
                    model=model,
                )
            )
    return rows


def bill_rows(workload: Workload, until: datetime | None = None) -> list[BillRow]:
    """Every billed resource-day (and meter) of the workload (zero-cost days have no row, as in
    Azure)."""
    rows: list[BillRow] = []
    days = workload.days(until)
    for day in days:
        the_day = datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC).date()
        parts = day_cost_parts(workload, day)
        atoms = workload.day_atoms(day)
        for account in workload.accounts:
            if account.kind == "AIServices" and account.deployments:
                mine = [d for d in workload.deployments if d.account.id == account.id]
                rows.extend(_claude_rows(workload, account, the_day, parts))
                for dep in mine:
                    if dep.model.anthropic:
                        continue
                    sel = atoms.dep == dep.index
                    tokens = (int(atoms.input_sum[sel].sum()), int(atoms.output_sum[sel].sum()))
                    prices = (dep.model.input_price, dep.model.output_price)
                    for meter, count, price in zip(
                        AZURE_METERS[dep.model.id], tokens, prices, strict=True
                    ):
                        exact = count * price
                        if exact <= 0:
                            continue
                        cents = round_cents(exact)
                        rows.append(
                            BillRow(
                                account,
                                the_day,
                                cents,
                                cents,
                                exact,
                                False,
                                meter=meter,
                                quantity=count / 1000,
                                exact_units=exact,
                                deployment=dep.name,
                            )
                        )
            elif account.daily_other_cost_cents:
                cents = account.daily_other_cost_cents + stable_hash(account.name, the_day) % 200
                rows.append(
                    BillRow(
                        account, the_day, cents, cents, cents * CENT_UNITS, False, meter=OTHER_METER
                    )
                )
        for orphan in workload.catalog.orphan_charges:
            cents = orphan.daily_cents + stable_hash("orphan", orphan.model, the_day) % 50
            bp = 9600 + stable_hash(workload.seed, "orphan", orphan.model, the_day) % 301
            holder = AccountSpec(orphan.subscription, orphan.resource_group, "(deleted)", "")
            booked = saas_resource_id(
                orphan.subscription, orphan.resource_group, orphan.model, "0" * 32, "orphan"
            )
            rows.append(
                BillRow(
                    holder,
                    the_day,
                    cents,
                    cents * bp // 10_000,
                    cents * CENT_UNITS,
                    True,
                    booked_on=booked,
                    model=orphan.model,
                    orphan=True,
                )
            )
    return rows


def quantity_of(row: BillRow, cents: int) -> float:
    """Usage quantity of a row: CCUs for Claude (1 CCU = 1 cent), thousands of tokens for Azure
    token meters, an approximation from the cost for the flat OpenAI charge."""
    if row.quantity is not None:
        return row.quantity
    return float(cents) if row.marketplace else float(np.round(cents * 6.5, 2))
