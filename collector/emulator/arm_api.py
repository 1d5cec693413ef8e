"""ARM: subscriptions, Cognitive Services accounts, their deployments (GET, paged) and the
subscription's usages per location (quota pools)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from collector.emulator.catalog import MODELS, AccountSpec, DeploymentSpec
from collector.emulator.errors import ApiError, arm_error
from collector.emulator.workload import Workload, stable_hash
from collector.pools import DATA_ZONE, GLOBAL, data_zones, usage_name

DEFAULT_PAGE_SIZE = 100
CREATED_BY = "platform-team@contoso.com"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _etag(*parts: object) -> str:
    return f'"{stable_hash(*parts):08x}-0000-0100-0000-{stable_hash("etag", *parts):08x}0000"'


def _system_data(created: datetime, modified: datetime) -> dict[str, str]:
    """ARM's ``systemData`` of a resource the platform team created and last changed."""
    return {
        "createdBy": CREATED_BY,
        "createdByType": "User",
        "createdAt": _iso(created),
        "lastModifiedBy": CREATED_BY,
        "lastModifiedByType": "User",
        "lastModifiedAt": _iso(modified),
    }


class ArmApi:
    """The inventory part of Azure Resource Manager for the emulated tenant."""

    def __init__(self, workload: Workload, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.workload = workload
        self.page_size = page_size
        created = workload.start - timedelta(days=30)
        self.created = created.replace(hour=9, minute=30, second=0, microsecond=0)

    # ------------------------------------------------------------------ helpers
    def _subscription(self, sub: str) -> str:
        for known in self.workload.catalog.subscriptions:
            if known.lower() == sub.lower():
                return known
        raise arm_error(
            404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found."
        )

    def _account(self, sub: str, rg: str, name: str) -> AccountSpec:
        for account in self.workload.accounts:
            if (
                account.subscription.lower() == sub.lower()
                and account.resource_group.lower() == rg.lower()
                and account.name.lower() == name.lower()
            ):
                return account
        raise arm_error(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.CognitiveServices/accounts/{name}' under resource group "
            f"'{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    def _page(self, items: list[dict[str, Any]], params: dict[str, str], path: str, base: str):
        offset = 0
        token = params.get("$skipToken") or params.get("$skiptoken")
        if token:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
            except ValueError:
                raise arm_error(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
        page = items[offset : offset + self.page_size]
        body: dict[str, Any] = {"value": page}
        if offset + self.page_size < len(items):
            next_token = base64.urlsafe_b64encode(str(offset + self.page_size).encode()).decode()
            version = params.get("api-version", "2025-09-01")
            body["nextLink"] = f"{base}{path}?api-version={version}&$skipToken={quote(next_token)}"
        return body

    def account_json(self, account: AccountSpec) -> dict[str, Any]:
        endpoint = f"https://{account.name}.services.ai.azure.com/"
        return {
            "id": account.id,
            "name": account.name,
            "type": "Microsoft.CognitiveServices/accounts",
            "etag": _etag(account.id),
            "location": account.location,
            "kind": account.kind,
            "sku": {"name": "S0"},
            "tags": {"team": "platform"},
            "identity": {"type": "None"},
            "systemData": _system_data(self.created, self.created),
            "properties": {
                "endpoint": endpoint
                if account.kind == "AIServices"
                else f"https://{account.name}.openai.azure.com/",
                "endpoints": {
                    "AI Foundry API": f"https://{account.name}.services.ai.azure.com/",
                    "OpenAI Language Model Instance API": f"https://{account.name}.openai.azure.com/",
                },
                "internalId": account.internal_id,
                "dateCreated": _iso(self.created),
                "customSubDomainName": account.name,
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Enabled",
                "disableLocalAuth": True,
                "allowProjectManagement": account.kind == "AIServices",
            },
        }

    def deployment_json(
        self, account: AccountSpec, spec: DeploymentSpec, now: datetime
    ) -> dict[str, Any]:
        model = MODELS[spec.model]
        modified = self.created
        if spec.changed_at is not None and now >= spec.changed_at:
            modified = spec.changed_at
        capacity = spec.capacity_at(now)
        return {
            "id": f"{account.id}/deployments/{spec.name}",
            "name": spec.name,
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "etag": _etag(account.id, spec.name, capacity),
            "sku": {"name": spec.sku, "capacity": capacity},
            "systemData": _system_data(self.created, modified),
            "properties": {
                "model": {
                    "format": model.format,
                    "name": model.id,
                    "version": spec.model_version(),
                },
                "versionUpgradeOption": "NoAutoUpgrade",
                "currentCapacity": capacity,
                "capabilities": {"chatCompletion": "true"},
                "provisioningState": "Succeeded",
                "raiPolicyName": "Microsoft.DefaultV2",
                "rateLimits": [
                    {"key": "request", "renewalPeriod": 60, "count": capacity},
                    {"key": "token", "renewalPeriod": 60, "count": capacity * 1000},
                ],
            },
        }

    def _other_deployment_json(
        self, account: AccountSpec, item: tuple[str, str, str, str]
    ) -> dict[str, Any]:
        name, model, version, fmt = item
        return {
            "id": f"{account.id}/deployments/{name}",
            "name": name,
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "sku": {"name": "GlobalStandard", "capacity": 50},
            "properties": {
                "model": {"format": fmt, "name": model, "version": version},
                "provisioningState": "Succeeded",
            },
        }

    # ------------------------------------------------------------------ routes
    def get_subscription(self, sub: str) -> dict[str, Any]:
        known = self._subscription(sub)
        return {
            "id": f"/subscriptions/{known}",
            "subscriptionId": known,
            "displayName": "Contoso AI",
            "state": "Enabled",
            "tenantId": "72f988bf-0000-0000-0000-00000000c0de",
            "subscriptionPolicies": {"spendingLimit": "Off", "quotaId": "PayAsYouGo_2014-09-01"},
        }

    def list_accounts(self, sub: str, params: dict[str, str], base: str) -> dict[str, Any]:
        known = self._subscription(sub)
        items = [self.account_json(a) for a in self.workload.accounts if a.subscription == known]
        path = f"/subscriptions/{known}/providers/Microsoft.CognitiveServices/accounts"
        return self._page(items, params, path, base)

    def list_accounts_in_group(
        self, sub: str, rg: str, params: dict[str, str], base: str
    ) -> dict[str, Any]:
        known = self._subscription(sub)
        items = [
            self.account_json(a)
            for a in self.workload.accounts
            if a.subscription == known and a.resource_group.lower() == rg.lower()
        ]
        path = (
            f"/subscriptions/{known}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/"
            "accounts"
        )
        return self._page(items, params, path, base)

    def get_account(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        return self.account_json(self._account(sub, rg, name))

    def list_deployments(
        self, sub: str, rg: str, name: str, params: dict[str, str], base: str, now: datetime
    ) -> dict[str, Any]:
        account = self._account(sub, rg, name)
        items = [self.deployment_json(account, d, now) for d in account.deployments]
        items += [self._other_deployment_json(account, o) for o in account.other_deployments]
        return self._page(items, params, f"{account.id}/deployments", base)

    def list_usages(self, sub: str, location: str, now: datetime) -> dict[str, Any]:
        """``GET .../subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/
        {location}/usages``, shaped like azure-rest-api-specs' ``ListUsages.json`` example
        (tests/contract/fixtures/arm-ListUsages.json): the account count, then one entry per
        Claude quota pool that applies in the location (Global pools everywhere, Data Zone pools
        in their zone's regions, other kinds in their own region). ``currentValue`` is the
        capacity allocated to the pool's deployments and ``limit`` the pool's quota, both in
        thousands of tokens per minute (the pool's ITPM / 1,000: the emulator's assumption);
        pools sharing a usage name (version 1 and a dated version) are added up, as one name
        cannot tell them apart."""
        known = self._subscription(sub)
        place = location.lower().replace(" ", "")
        accounts = [
            a for a in self.workload.accounts if a.subscription == known and a.location == place
        ]
        value: list[dict[str, Any]] = [
            {
                "name": {
                    "value": "AccountCount",
                    "localizedValue": "Cognitive Services total account limit",
                },
                "currentValue": len(accounts),
                "limit": 200,
                "unit": "Count",
            }
        ]
        entries: dict[str, dict[str, Any]] = {}
        for key, members in self.workload.pools:
            quota = self.workload.catalog.pools.get(key)
            if key.subscription_id != known.lower() or quota is None:
                continue
            if key.kind == GLOBAL:
                applies = True
            elif key.kind == DATA_ZONE:
                applies = data_zones().get(place, place) == key.zone
            else:
                applies = key.zone == place
            if not applies:
                continue
            name = usage_name(key.kind, key.model, key.model_version)
            allocated = sum(self.workload.deployments[i].spec.capacity_at(now) for i in members)
            entry = entries.setdefault(
                name,
                {
                    "name": {
                        "value": name,
                        "localizedValue": f"Tokens Per Minute (thousands) - {name}",
                    },
                    "currentValue": 0,
                    "limit": 0,
                    "unit": "Count",
                },
            )
            entry["currentValue"] += allocated
            entry["limit"] = max(entry["limit"], quota.input_tpm // 1000)
        value += [entries[name] for name in sorted(entries)]
        return {"value": value}

    def get_deployment(self, sub: str, rg: str, name: str, dep: str, now: datetime) -> dict:
        account = self._account(sub, rg, name)
        for spec in account.deployments:
            if spec.name.lower() == dep.lower():
                return self.deployment_json(account, spec, now)
        raise arm_error(
            404, "DeploymentNotFound", f"The deployment '{dep}' of account '{name}' was not found."
        )


__all__ = ["ApiError", "ArmApi"]
