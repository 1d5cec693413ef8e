"""Inventory: Foundry resources (AIServices accounts) and their deployments, from ARM."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from collector.rows import DeploymentRow, QuotaUsageRow, ResourceRow

FOUNDRY_KIND = "aiservices"


def parse_resource_id(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, account name) of an account's ARM id."""
    parts = resource_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    try:
        sub = parts[lower.index("subscriptions") + 1]
        group = parts[lower.index("resourcegroups") + 1]
        name = parts[lower.index("accounts") + 1]
    except (ValueError, IndexError):
        raise ValueError(
            f"{resource_id!r} is not a Microsoft.CognitiveServices account id"
        ) from None
    return sub, group, name


def resource_row(account: Any) -> ResourceRow:
    """A ``ResourceRow`` from the SDK's ``Account`` model."""
    sub, group, name = parse_resource_id(account.id)
    props = getattr(account, "properties", None)
    return ResourceRow(
        id=account.id.lower(),
        subscription_id=sub.lower(),
        resource_group=group,
        name=account.name or name,
        kind=account.kind or "",
        location=(account.location or "").lower().replace(" ", ""),
        endpoint=getattr(props, "endpoint", None),
        internal_id=getattr(props, "internal_id", None),
    )


def deployment_row(resource_id: str, deployment: Any) -> DeploymentRow:
    """A ``DeploymentRow`` from the SDK's ``Deployment`` model."""
    props = getattr(deployment, "properties", None)
    model = getattr(props, "model", None)
    sku = getattr(deployment, "sku", None)
    return DeploymentRow(
        resource_id=resource_id.lower(),
        name=deployment.name,
        model=getattr(model, "name", None),
        model_version=getattr(model, "version", None),
        model_format=getattr(model, "format", None),
        sku=getattr(sku, "name", None),
        capacity=getattr(sku, "capacity", None),
        provisioning_state=getattr(props, "provisioning_state", None),
    )


def list_resources(client: Any, resource_ids: Iterable[str] = ()) -> Iterator[ResourceRow]:
    """Every AIServices account of the client's subscription (or only ``resource_ids``)."""
    wanted = {rid.lower() for rid in resource_ids}
    for account in client.accounts.list():
        if (account.kind or "").lower() != FOUNDRY_KIND:
            continue
        if wanted and account.id.lower() not in wanted:
            continue
        yield resource_row(account)


def list_deployments(client: Any, resource: ResourceRow) -> Iterator[DeploymentRow]:
    for deployment in client.deployments.list(resource.resource_group, resource.name):
        yield deployment_row(resource.id, deployment)


def list_usages(
    client: Any, subscription: str, locations: Iterable[str]
) -> Iterator[QuotaUsageRow]:
    """ARM's usages list of the client's subscription in each location, one
    ``usages.list(location)`` call per location (REST ``GET /subscriptions/{sub}/providers/
    Microsoft.CognitiveServices/locations/{location}/usages``; azure-mgmt-cognitiveservices'
    ``UsagesOperations.list``). Claude's quota pools appear as ``AIServices.GlobalStandard.<model>``
    and ``AIServices.DataZoneStandard.<model>`` (``.Azure`` for version 2), in thousands of tokens
    per minute (issue 17)."""
    for location in sorted({loc.lower().replace(" ", "") for loc in locations if loc}):
        for usage in client.usages.list(location):
            name = getattr(usage, "name", None)
            value = getattr(name, "value", None)
            if not value:
                continue
            unit = getattr(usage, "unit", None)
            yield QuotaUsageRow(
                subscription_id=subscription.lower(),
                location=location,
                name=value,
                localized_name=getattr(name, "localized_value", None),
                current_value=getattr(usage, "current_value", None),
                limit=getattr(usage, "limit", None),
                unit=None if unit is None else str(getattr(unit, "value", unit)),
            )
