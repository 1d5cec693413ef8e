"""``doctor`` against the emulator: passes when all is readable, names the fix when not."""

from __future__ import annotations

from pathlib import Path

from collector import metric_names as names
from collector.azure import AzureClients, CallCounter
from collector.doctor import ROLE_FIX, _price_tiers, run_checks
from collector.emulator import EmulatorServer, StaticTokenCredential
from collector.store import ids, migrate
from tests.integration.conftest import COLLECTOR_NOW, emulator_settings


def _clients(settings, token: str) -> AzureClients:  # type: ignore[no-untyped-def]
    return AzureClients(settings, StaticTokenCredential(token), CallCounter(), retry_total=0)


def test_every_check_passes_against_the_emulator(emulator: EmulatorServer, tmp_path: Path) -> None:
    settings = emulator_settings(emulator, f"sqlite:///{tmp_path / 'd.db'}")
    checks = run_checks(settings, _clients(settings, emulator.token), now=COLLECTOR_NOW)
    # all but one: the orphaned Claude SaaS resource in rg-sandbox matches no Foundry account
    (attribution,) = [c for c in checks if not c.ok]
    assert attribution.name == "bill attribution" and "FOUNDRY_MONITOR_BILL_ATTRIBUTION" in (
        attribution.fix
    )
    assert "unattributed" in attribution.detail and "rg-sandbox" in attribution.fix
    assert "(internal id)" in attribution.detail and "(resource group)" in attribution.detail
    assert {c.name for c in checks} == {
        "credential",
        "inventory",
        "metrics",
        "usage metrics",
        "cache metrics",
        "logs",
        "costs",
        "bill attribution",
    }
    cache = [c for c in checks if c.name == "cache metrics"]
    assert cache and all("ContextLength labels" in c.detail for c in cache)
    usage = [c for c in checks if c.name == "usage metrics"]
    assert usage and all("NormalizedTimeToFirstToken" in c.detail for c in usage)


def test_context_length_labels_the_price_sheet_does_not_map_are_named(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    settings = emulator_settings(emulator, f"sqlite:///{tmp_path / 'd.db'}")
    engine = migrate.prepare(settings.effective_database_url)
    with engine.begin() as conn:
        ids.label_ids(conn, names.CONTEXT_LENGTH, ["<=200K", ">200K"])
    pricing = _price_tiers(settings, engine)
    assert pricing.ok and "<=200K" in pricing.detail and ">200K" in pricing.detail
    with engine.begin() as conn:
        ids.label_ids(conn, names.CONTEXT_LENGTH, ["<=1M"])
    pricing = _price_tiers(settings, engine)
    assert not pricing.ok and "1 ContextLength label" in pricing.detail
    assert "<=1M" in pricing.fix and "base" in pricing.fix


def test_a_wrong_token_fails_with_the_credential_fix(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    settings = emulator_settings(emulator, f"sqlite:///{tmp_path / 'd.db'}")
    checks = run_checks(settings, _clients(settings, "not-the-token"), now=COLLECTOR_NOW)
    inventory = next(c for c in checks if c.name == "inventory")
    assert not inventory.ok and "InvalidAuthenticationToken" in inventory.detail
    assert "az login" in inventory.fix


def test_a_forbidden_scope_names_the_role_to_grant(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from azure.core.exceptions import HttpResponseError

    from collector.doctor import _failure

    error = HttpResponseError(message="AuthorizationFailed")
    error.status_code = 403
    check = _failure("costs", "costs", "/subscriptions/x", error)
    assert not check.ok and check.fix == ROLE_FIX["costs"]


def test_missing_workspace_and_silent_resources_are_named(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    settings = emulator_settings(emulator, f"sqlite:///{tmp_path / 'd.db'}", workspace_id=None)
    checks = run_checks(settings, _clients(settings, emulator.token), now=COLLECTOR_NOW)
    logs = next(c for c in checks if c.name == "logs")
    assert not logs.ok and "FOUNDRY_MONITOR_WORKSPACE_ID" in logs.fix
    long_after = COLLECTOR_NOW.replace(year=COLLECTOR_NOW.year + 1)
    emulator.set_now(long_after)
    settings = emulator_settings(emulator, f"sqlite:///{tmp_path / 'd.db'}")
    checks = run_checks(settings, _clients(settings, emulator.token), now=long_after)
    logs = next(c for c in checks if c.name == "logs")
    assert not logs.ok and "diagnostic setting" in logs.fix and "contoso-ai-eus2" in logs.detail
