"""Claude quota pools (pure): which pool a deployment draws from, and the pool's ARM usage name.

Microsoft's "Claude quotas and limits" page
(https://learn.microsoft.com/en-us/azure/foundry/foundry-models/concepts/claude-models-quotas-limits):
quota is per **subscription**; all Global Standard deployments of one model *and version* share
one pool across every region, Data Zone Standard deployments one pool per data zone. A pool is
therefore keyed ``(subscription, model, model version, kind, zone)``:

- ``kind`` comes from the deployment's ARM ``sku.name``: ``GlobalStandard`` -> ``Global``,
  ``DataZoneStandard`` -> ``DataZone``; any other SKU (``Standard``, ``ProvisionedManaged``,
  ``GlobalProvisionedManaged``, ...) is its own kind, named after the SKU, never an error;
  no SKU at all -> ``Unknown``.
- ``zone`` is ``""`` for Global pools (one pool everywhere) and for an unknown SKU (nothing says
  the quota is regional, so the region does not split it), the data zone (``US``/``EU``) of the
  account's region for Data Zone pools (``collector/data/data_zones.toml``), and the region itself
  for every other kind (regional quota) or for a Data Zone deployment in a region of no known
  data zone.

Every deployment belongs to exactly one pool: :func:`pool_key` is total.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import NamedTuple

GLOBAL = "Global"
DATA_ZONE = "DataZone"
UNKNOWN_KIND = "Unknown"

#: ARM ``sku.name`` -> pool kind, for the two kinds Claude's quota page documents.
_KINDS = {"globalstandard": GLOBAL, "datazonestandard": DATA_ZONE}
#: The SKU name each pool kind has in ARM's usage names (``AIServices.<sku>.<model>``).
USAGE_SKU = {GLOBAL: "GlobalStandard", DATA_ZONE: "DataZoneStandard"}
USAGE_PREFIX = "AIServices"
#: Suffix of the usage name of Claude's version 2 (hosted on Azure).
AZURE_HOSTED_SUFFIX = ".Azure"


class PoolKey(NamedTuple):
    """A quota pool: ``(subscription, model, model version, kind, zone)``."""

    subscription_id: str
    model: str
    model_version: str
    kind: str
    zone: str

    @property
    def label(self) -> str:
        """``model vVERSION · Kind[ ZONE] · subscription prefix`` for tables and legends."""
        place = f"{self.kind} {self.zone}".strip()
        version = f" v{self.model_version}" if self.model_version else ""
        return f"{self.model}{version} · {place} · {self.subscription_id[:8]}"


@cache
def data_zones() -> dict[str, str]:
    """Region (lower-case ARM location) -> data zone, from the shipped data file."""
    text = resources.files("collector").joinpath("data/data_zones.toml").read_text("utf-8")
    zones: dict[str, list[str]] = tomllib.loads(text)["zones"]
    return {region: zone for zone, regions in zones.items() for region in regions}


def pool_kind(sku: str | None) -> str:
    """The pool kind of a deployment's ARM ``sku.name``."""
    if not sku:
        return UNKNOWN_KIND
    return _KINDS.get(sku.lower(), sku)


def pool_zone(kind: str, region: str | None) -> str:
    """The zone part of a pool key: ``""`` for Global, the data zone for DataZone (the region
    when it is in no known data zone), the region for every other kind."""
    place = (region or "").lower().replace(" ", "")
    if kind in (GLOBAL, UNKNOWN_KIND):
        return ""
    if kind == DATA_ZONE:
        return data_zones().get(place, place)
    return place


def pool_key(
    subscription_id: str | None,
    model: str | None,
    model_version: str | None,
    sku: str | None,
    region: str | None,
) -> PoolKey:
    """The pool a deployment draws from (missing parts become ``""``)."""
    kind = pool_kind(sku)
    return PoolKey(
        (subscription_id or "").lower(),
        model or "",
        model_version or "",
        kind,
        pool_zone(kind, region),
    )


def is_azure_hosted(model_version: str | None) -> bool:
    """Claude's version ``2`` is hosted on Azure (Foundry's model pages)."""
    return (model_version or "").strip() == "2"


def usage_name(kind: str, model: str, model_version: str | None) -> str:
    """ARM's usage name of a pool (``usages.list``): ``AIServices.GlobalStandard.<model>``,
    ``AIServices.DataZoneStandard.<model>``, with ``.Azure`` for the Azure-hosted version 2
    (issue 17: names observed in the usages list)."""
    sku = USAGE_SKU.get(kind, kind)
    suffix = AZURE_HOSTED_SUFFIX if is_azure_hosted(model_version) else ""
    return f"{USAGE_PREFIX}.{sku}.{model}{suffix}"
