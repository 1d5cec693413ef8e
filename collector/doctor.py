"""``foundry-monitor doctor``: can this collector read everything it needs, and if not, what to fix.

Each check makes one small, read-only Azure call (or store query) and returns a :class:`Check`
with a pass/fail, what it saw, and for a failure the fix: the role to grant, the setting to set or
the diagnostic setting to create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from sqlalchemy import Engine

from collector import kql
from collector.azure import AzureClients
from collector.config import Settings
from collector.rows import CostRow, ResourceRow
from collector.sources import costs, inventory, metrics


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    ok: bool
    detail: str
    fix: str = ""


ROLE_FIX = {
    "arm": "grant 'Reader' on the subscription (or resource group) to this identity",
    "metrics": "grant 'Monitoring Reader' on the subscription to this identity",
    "logs": "grant 'Log Analytics Reader' on the workspace to this identity",
    "costs": "grant 'Cost Management Reader' on the cost scope to this identity",
}


def _failure(area: str, name: str, target: str, exc: Exception) -> Check:
    if isinstance(exc, ClientAuthenticationError):
        return Check(
            name, target, False, f"authentication failed: {_short(exc)}", _credential_fix()
        )
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        detail = f"Azure answered {status}: {_short(exc)}"
        if status == 401:
            return Check(name, target, False, detail, _credential_fix())
        if status == 403:
            return Check(name, target, False, detail, ROLE_FIX[area])
        if status == 404:
            return Check(
                name, target, False, detail, "check the id in the settings: it does not exist"
            )
        return Check(
            name,
            target,
            False,
            detail,
            "a service-side or throttling error: run doctor again later",
        )
    return Check(
        name,
        target,
        False,
        f"{type(exc).__name__}: {_short(exc)}",
        "check the endpoint settings and network",
    )


def _short(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:200]


def _credential_fix() -> str:
    return (
        "sign in with 'az login', or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
        "(service principal), or run with a managed or workload identity"
    )


#: The doctor's check name for each metric group.
METRIC_CHECKS = {"requests": "metrics", "usage": "usage metrics", "cache": "cache metrics"}


def _guarded(area: str, name: str, target: str, body: Callable[[], Check]) -> Check:
    try:
        return body()
    except Exception as exc:
        return _failure(area, name, target, exc)


def run_checks(
    settings: Settings,
    clients: AzureClients,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> list[Check]:
    """Every check, in order: store, credential, inventory, metrics, logs, costs."""
    now = now or datetime.now(UTC)
    checks: list[Check] = []
    if engine is not None:
        checks.append(_store(engine))
        checks.append(_price_tiers(settings, engine))
        checks.extend(_quota_limits(settings, engine))
    checks.append(_credential(settings, clients))
    resources: list[ResourceRow] = []
    subscriptions = sorted(
        {s.lower() for s in settings.subscriptions}
        | {inventory.parse_resource_id(r)[0].lower() for r in settings.resource_ids}
    )
    if not subscriptions:
        checks.append(
            Check(
                "inventory",
                "-",
                False,
                "no subscription or resource configured",
                "set FOUNDRY_MONITOR_SUBSCRIPTIONS or FOUNDRY_MONITOR_RESOURCE_IDS",
            )
        )
    for sub in subscriptions:
        found: list[ResourceRow] = []

        def list_sub(sub: str = sub, found: list[ResourceRow] = found) -> Check:
            client = clients.inventory(sub)
            wanted = [r for r in settings.resource_ids if r.lower().split("/")[2] == sub]
            found.extend(inventory.list_resources(client, wanted))
            if not found:
                return Check(
                    "inventory",
                    f"/subscriptions/{sub}",
                    False,
                    "no Foundry (AIServices) resource found",
                    "check the subscription id; Claude resources are of kind AIServices",
                )
            deployments = sum(len(list(inventory.list_deployments(client, r))) for r in found)
            return Check(
                "inventory",
                f"/subscriptions/{sub}",
                True,
                f"{len(found)} Foundry resources, {deployments} deployments",
            )

        checks.append(_guarded("arm", "inventory", f"/subscriptions/{sub}", list_sub))
        resources += found
    for batch in metrics.batches(resources):
        target = f"/subscriptions/{batch.subscription_id}/regions/{batch.region}"

        for group in metrics.GROUPS:  # each group is its own call: any of them can be refused
            name = METRIC_CHECKS[group.name]

            def query(
                batch: metrics.Batch = batch,
                group: metrics.MetricGroup = group,
                name: str = name,
                target: str = target,
            ) -> Check:
                client = clients.metrics(batch.region)
                points = list(metrics.fetch(client, batch, group, now - timedelta(hours=1), now))
                labels = sorted({p.label for p in points if p.label})
                seen = f"; ContextLength labels: {', '.join(labels)}" if labels else ""
                return Check(
                    name,
                    target,
                    True,
                    f"{len(batch.resource_ids)} resources answer {', '.join(group.metrics)}; "
                    f"{len(points)} points in 1 h{seen}",
                )

            checks.append(_guarded("metrics", name, target, query))
    checks.append(_logs(settings, clients, resources, now))
    if engine is not None:
        checks.extend(_unlogged(engine, now))
    for scope in settings.effective_cost_scopes:
        fetched: list[CostRow] = []

        def query_costs(scope: str = scope, fetched: list[CostRow] = fetched) -> Check:
            rows = list(
                costs.fetch(clients.costs(), scope, (now - timedelta(days=7)).date(), now.date())
            )
            fetched.extend(rows)
            marketplace = sum(1 for r in rows if r.publisher_type.lower() == "marketplace")
            return Check(
                "costs",
                scope,
                True,
                f"{len(rows)} cost rows in the last 7 days ({marketplace} Marketplace)",
            )

        check = _guarded("costs", "costs", scope, query_costs)
        checks.append(check)
        if check.ok:
            checks.append(_attribution(settings, scope, fetched, resources))
    return checks


def _attribution(
    settings: Settings, scope: str, rows: list[CostRow], resources: list[ResourceRow]
) -> Check:
    """How the scope's Claude Marketplace charges of the last 7 days map to Foundry accounts."""
    from collector.spend.attribution import AccountRef, attribute
    from collector.spend.credits import is_claude_charge
    from collector.spend.refresh import unattributed_warning

    accounts = [
        # doctor lists no deployments: an AIServices account may host Claude
        AccountRef.of(
            r.id,
            r.subscription_id,
            r.resource_group,
            r.name,
            r.internal_id,
            {"claude"} if r.kind.lower() == "aiservices" else (),
        )
        for r in resources
    ]
    names = {a.resource_id: a.name for a in accounts}
    charges: dict[str, Decimal] = {}
    for row in rows:
        if is_claude_charge(row.publisher_type, row.meter, row.resource_id):
            charges[row.resource_id] = charges.get(row.resource_id, Decimal(0)) + row.cost
    if not charges:
        return Check("bill attribution", scope, True, "no Claude Marketplace charges in 7 days")
    lines, lost = [], []
    for charge_id, cost in sorted(charges.items()):
        how = attribute(charge_id, accounts, settings.spend.bill_attribution)
        short = charge_id.rsplit("/", 1)[-1]
        if how.accounts:
            to = ", ".join(names.get(a, a) for a in how.accounts)
            lines.append(f"{short} -> {to} ({how.how})")
        else:
            lost.append((charge_id, cost))
            lines.append(f"{short} -> unattributed (${cost:,.2f})")
    detail = "; ".join(lines)
    if lost:
        return Check("bill attribution", scope, False, detail, unattributed_warning(*lost[0]))
    return Check("bill attribution", scope, True, detail)


def _price_tiers(settings: Settings, engine: Engine) -> Check:
    """Whether the price sheet maps every ``ContextLength`` label the store has seen."""
    from collector.spend.prices import load_sheet
    from collector.spend.refresh import unmapped_labels_warning
    from collector.store import queries

    price_file = settings.spend.price_file
    target = str(price_file or "shipped price sheet")
    try:
        sheet = load_sheet(price_file)
    except Exception as exc:
        return Check("pricing", target, False, _short(exc), "check FOUNDRY_MONITOR_PRICE_FILE")
    try:
        with engine.connect() as conn:
            seen = sorted(queries.context_labels(conn).values())
    except Exception:  # an empty or unreachable store: the store check says which
        seen = []
    unmapped = sheet.unmapped(seen)
    if unmapped:
        return Check(
            "pricing",
            target,
            False,
            f"{len(unmapped)} ContextLength label(s) not mapped to a price tier",
            unmapped_labels_warning(unmapped),
        )
    labels = ", ".join(seen) if seen else "none seen yet"
    return Check("pricing", target, True, f"ContextLength labels mapped: {labels}")


def _quota_limits(settings: Settings, engine: Engine) -> list[Check]:
    """Per stored quota pool: its limits and whether they are shipped defaults (the offer's
    documented ones) or set; how to set the granted quota; a failure when nobody knows them."""
    from collector.quota_limits import SETTING_HINT, pool_limits
    from collector.store.queries.headroom import stored_pools

    try:
        pools = stored_pools(engine)
    except Exception as exc:  # the store check already names an unusable store
        return [Check("quota limits", "-", False, _short(exc), "run foundry-monitor db upgrade")]
    checks = []
    for key in pools:
        limits = pool_limits(key, settings.quota)
        if limits.note:
            checks.append(Check("quota limits", key.label, False, limits.note, SETTING_HINT))
            continue
        values = ", ".join(f"{n.upper()} {limits.get(n):,}" for n in ("rpm", "itpm", "otpm"))
        fix = "" if limits.source == "setting" else f"if your granted quota differs, {SETTING_HINT}"
        detail = f"{values} ({limits.source}, offer {limits.offer})"
        checks.append(Check("quota limits", key.label, True, detail, fix))
    return checks


def _unlogged(engine: Engine, now: datetime, window: timedelta = timedelta(days=1)) -> list[Check]:
    """From the store: a failing check per deployment with requests in Azure Monitor but no
    request-log rows over the last day (see ``queries.deployments_without_logs``)."""
    from collector.store import queries

    try:
        silent = queries.deployments_without_logs(engine, now - window, now)
    except Exception:  # an empty or unreachable store: the store check says which
        return []
    return [
        Check(
            "request logs",
            f"{d.resource}/{d.deployment}",
            False,
            d.notice,
            "check the resource's diagnostic settings send the RequestResponse category to the "
            "workspace; if they do, Azure does not log this deployment's calls: use the metrics "
            "pages (no percentiles) and record the apim-request-id of failures on the client",
        )
        for d in silent
    ]


def _store(engine: Engine) -> Check:
    from collector.store import migrate

    try:
        revision = migrate.current(engine)
    except Exception as exc:
        return Check(
            "store",
            migrate.safe_url(str(engine.url)),
            False,
            _short(exc),
            "check FOUNDRY_MONITOR_DATABASE_URL",
        )
    target = migrate.safe_url(str(engine.url))
    if revision is None:
        return Check(
            "store", target, True, "reachable and empty: the first collect creates the schema"
        )
    return Check("store", target, True, f"reachable, schema revision {revision}")


def _credential(settings: Settings, clients: AzureClients) -> Check:
    scope = settings.effective_arm_audience.rstrip("/") + "/.default"
    try:
        clients.credential.get_token(scope)
    except Exception as exc:
        return Check("credential", scope, False, _short(exc), _credential_fix())
    kind = "static token (emulator)" if settings.static_token else type(clients.credential).__name__
    return Check("credential", scope, True, f"token issued by {kind}")


def _logs(
    settings: Settings, clients: AzureClients, resources: list[ResourceRow], now: datetime
) -> Check:
    workspace = settings.workspace_id
    if not workspace:
        return Check(
            "logs",
            "-",
            False,
            "no Log Analytics workspace configured",
            "set FOUNDRY_MONITOR_WORKSPACE_ID to the workspace of the RequestResponse logs",
        )

    def body() -> Check:
        result: Any = clients.logs().query_workspace(
            workspace, kql.diagnostics_check_query(), timespan=(now - timedelta(days=1), now)
        )
        table = result.tables[0]
        index = {name: i for i, name in enumerate(table.columns)}
        sending = {str(row[index[kql.COL_RESOURCE_ID]]).lower() for row in table.rows}
        silent = [r.name for r in resources if r.id not in sending]
        if silent:
            return Check(
                "logs",
                workspace,
                False,
                f"no RequestResponse logs in 24 h from: {', '.join(sorted(silent))}",
                "add a diagnostic setting on each resource sending the RequestResponse "
                "category to this workspace",
            )
        return Check(
            "logs", workspace, True, f"RequestResponse logs arrive from {len(sending)} resources"
        )

    return _guarded("logs", "logs", workspace, body)
