"""Which Foundry account a Claude Marketplace charge belongs to (pure).

Azure does not book Claude's charges on the Foundry account. Microsoft's Foundry cost guide ("Plan
and manage costs", section *Models from partners and community*): charges of Marketplace models
"are associated with the resource group where your Foundry is deployed instead of to the Foundry
resource itself", category Marketplace, service name SaaS. Readers of real bills report the
resource type ``microsoft.saas/resources`` in the account's resource group, named
``<Claude model name cut to 15 characters>-<first 15 characters of the account's
properties.internalId>-<32 hex>``, not listed by ARM or Resource Graph, with no deployment tag.
Older bills (and this project's earlier emulator) book them on the account itself.

A charge row is attributed, first match wins:

1. **setting**: ``FOUNDRY_MONITOR_BILL_ATTRIBUTION`` maps the charge's resource id or SaaS
   resource name to an account (name or ARM id);
2. **account**: the charge is booked on a known Foundry account;
3. **internal id**: the SaaS name holds the first 15 characters of a known account's
   ``internalId``; the part before it is the model's name prefix, and the charge is spread over
   that account's deployments of that model (all its Claude deployments if none matches);
4. **resource group**: the charge's subscription and resource group hold Foundry accounts with
   Claude deployments; it is spread over them by their estimates (over those with a deployment
   of the model the SaaS name starts with, when any has one);
5. otherwise it is **unattributed**: kept and shown under its own resource id, never dropped and
   never spread over unrelated groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from collector.spend.allocation import allocate

#: Characters of the model name and of the internal id in a SaaS resource name.
NAME_PART = 15
SAAS_TYPE = "microsoft.saas/resources"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A Foundry account of the inventory, as attribution needs it."""

    resource_id: str  # lower-case ARM id
    subscription_id: str
    resource_group: str
    name: str
    internal_id: str | None = None
    #: models of its Claude deployments
    models: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        resource_id: str,
        subscription_id: str,
        resource_group: str,
        name: str,
        internal_id: str | None,
        models: Iterable[str] = (),
    ) -> AccountRef:
        """The account with its ids in lower case (ARM ids are case-insensitive)."""
        return cls(
            resource_id.lower(),
            subscription_id.lower(),
            resource_group.lower(),
            name,
            internal_id,
            frozenset(models),
        )


@dataclass(frozen=True, slots=True)
class Attribution:
    """Where one charge resource's cost goes: ``accounts`` (lower-case ids) and, for a SaaS name
    naming a model, the model prefix its deployments must start with."""

    how: str  # setting | account | internal id | resource group | unattributed
    accounts: tuple[str, ...] = ()
    model_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a bill, for the deployments whose model starts with ``model_prefix``."""

    model_prefix: str | None
    cost: Decimal


@dataclass
class Attributed:
    """Charges per account and day (as parts), the unattributed ones per charge resource and
    day, and how each charge resource was attributed."""

    parts: dict[tuple[date, str], list[Part]] = field(default_factory=dict)
    unattributed: dict[tuple[date, str], Decimal] = field(default_factory=dict)
    how: dict[str, Attribution] = field(default_factory=dict)


def parse_resource_id(resource_id: str) -> tuple[str, str, str, str]:
    """(subscription, resource group, provider/type, name) of an ARM id, lower-case; empty
    strings for what the id lacks."""
    parts = resource_id.strip().strip("/").lower().split("/")
    sub = rg = rtype = name = ""
    for i in range(0, len(parts) - 1):
        key, value = parts[i], parts[i + 1]
        if key == "subscriptions" and not sub:
            sub = value
        elif key == "resourcegroups" and not rg:
            rg = value
        elif key == "providers" and i + 3 < len(parts):
            rtype, name = f"{parts[i + 1]}/{parts[i + 2]}", parts[i + 3]
    return sub, rg, rtype, name


def model_prefix_of(saas_name: str, internal_id: str) -> str | None:
    """The model prefix of a SaaS resource name holding ``internal_id``'s first 15 characters
    as a dash-separated part (None when it does not)."""
    token = internal_id.strip().lower()[:NAME_PART]
    if not token:
        return None
    name = saas_name.lower()
    at = name.find(f"-{token}-")
    if at < 0 and name.endswith(f"-{token}"):
        at = len(name) - len(token) - 1
    if at < 0:
        return None
    return name[:at].rstrip("-") or None


def attribute(
    charge_resource_id: str,
    accounts: Iterable[AccountRef],
    overrides: Mapping[str, str] | None = None,
) -> Attribution:
    """How the charges booked on ``charge_resource_id`` are attributed (see the module doc)."""
    accounts = list(accounts)
    charge = charge_resource_id.strip().lower()
    sub, rg, rtype, name = parse_resource_id(charge)
    by_key = {a.resource_id: a for a in accounts} | {a.name.lower(): a for a in accounts}
    for key, target in (overrides or {}).items():
        if key.strip().lower() in (charge, name):
            account = by_key.get(target.strip().lower())
            if account is not None:
                return Attribution("setting", (account.resource_id,))
    if charge in {a.resource_id for a in accounts}:
        return Attribution("account", (charge,))
    prefix: str | None = None
    if rtype == SAAS_TYPE and name:
        for account in sorted(accounts, key=lambda a: a.resource_id):
            if not account.internal_id:
                continue
            token = account.internal_id.strip().lower()[:NAME_PART]
            if f"-{token}-" in f"{name}-":
                return Attribution(
                    "internal id", (account.resource_id,), model_prefix_of(name, token)
                )
        if name.startswith("claude"):  # "<model cut to 15 characters>-..."
            prefix = name[:NAME_PART].rstrip("-")
    group = [
        a
        for a in sorted(accounts, key=lambda a: a.resource_id)
        if a.models and a.subscription_id.lower() == sub and a.resource_group.lower() == rg
    ]
    if prefix:
        named = [a for a in group if any(m.lower().startswith(prefix) for m in a.models)]
        group = named or group
        if not named:
            prefix = None
    if sub and rg and group:
        return Attribution("resource group", tuple(a.resource_id for a in group), prefix)
    return Attribution("unattributed")


def account_weight(
    weights: Mapping[tuple[date, str, str], Decimal | None],
    day: date,
    account_id: str,
    prefix: str | None,
) -> Decimal | None:
    """An account's estimate of a day over its models starting with ``prefix`` (all models
    without one); None when any of them is unpriced."""
    total: Decimal | None = Decimal(0)
    for (d, account, model), value in weights.items():
        if d != day or account != account_id:
            continue
        if prefix and not model.lower().startswith(prefix):
            continue
        total = None if value is None or total is None else total + value
    return total


def attribute_charges(
    charges: Mapping[tuple[date, str], Decimal],
    accounts: Iterable[AccountRef],
    weights: Mapping[tuple[date, str, str], Decimal | None],
    overrides: Mapping[str, str] | None = None,
) -> Attributed:
    """Attribute each (day, charge resource id) charge; a charge spread over several accounts
    is split by the accounts' estimates of that day (``weights`` per day, account and model:
    over the models the charge names, to the cent; all to the first account when none has an
    estimate, where it shows as unallocated)."""
    accounts = list(accounts)
    out = Attributed()
    for (day, charge_id), cost in sorted(charges.items()):
        how = out.how.get(charge_id)
        if how is None:
            how = out.how[charge_id] = attribute(charge_id, accounts, overrides)
        if not how.accounts:
            key = (day, charge_id.lower())
            out.unattributed[key] = out.unattributed.get(key, Decimal(0)) + cost
            continue
        if len(how.accounts) == 1:
            shares = {how.accounts[0]: cost}
        else:
            split = allocate(
                cost,
                {a: account_weight(weights, day, a, how.model_prefix) for a in how.accounts},
            )
            shares = dict(split.shares)
            if split.unallocated:
                first = how.accounts[0]
                shares[first] = shares.get(first, Decimal(0)) + split.unallocated
        for account_id, share in shares.items():
            if share:
                out.parts.setdefault((day, account_id), []).append(Part(how.model_prefix, share))
    return out
