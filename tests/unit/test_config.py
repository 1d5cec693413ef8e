"""Settings: defaults, parsing and the one-line errors (pure, no I/O beyond a temp TOML file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ENV_PREFIX, Settings, load_settings
from collector.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))


def test_defaults_are_a_sqlite_file_in_the_data_dir_and_30_days(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.retention_days == 30
    assert (
        settings.effective_database_url
        == f"sqlite:///{tmp_path / 'foundry-monitor' / 'foundry-monitor.db'}"
    )


def test_lists_accept_commas_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    monkeypatch.setenv("FOUNDRY_MONITOR_SUBSCRIPTIONS", f"{a}, {b}")
    assert load_settings().subscriptions == [a, b]
    monkeypatch.setenv("FOUNDRY_MONITOR_SUBSCRIPTIONS", f'["{a}"]')
    assert load_settings().subscriptions == [a]
    assert load_settings().effective_cost_scopes == [f"/subscriptions/{a}"]


def test_a_subscription_that_is_not_a_guid_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_SUBSCRIPTIONS", "prod")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert (
        str(error.value)
        == "FOUNDRY_MONITOR_SUBSCRIPTIONS='prod' is invalid: 'prod' is not a subscription id (a GUID)"
    )


def test_a_resource_id_of_another_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FOUNDRY_MONITOR_RESOURCE_IDS",
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
    )
    with pytest.raises(ConfigError, match="is not a Foundry resource id"):
        load_settings()


def test_a_broken_toml_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("retention_days = = 3")
    with pytest.raises(ConfigError, match=r"is not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_the_readme_documents_every_setting() -> None:
    text = README.read_text()
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in text, name


def test_the_readme_settings_table_is_the_generated_one() -> None:
    import importlib.util

    script = README.parent / "scripts" / "settings_table.py"
    spec = importlib.util.spec_from_file_location("settings_table", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = README.read_text()
    shown = text.split(module.START, 1)[1].split(module.END, 1)[0].strip()
    assert shown == module.table(), "run: python scripts/settings_table.py"


def test_a_static_token_is_refused_unless_every_endpoint_is_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_STATIC_TOKEN", "emulator-token")
    with pytest.raises(ConfigError) as info:
        load_settings(None)  # the public cloud's endpoints
    assert str(info.value).startswith("FOUNDRY_MONITOR_STATIC_TOKEN is only sent to loopback")
    assert "management.azure.com" in str(info.value) and "emulator-token" not in str(info.value)
    for name, url in (
        ("ARM_ENDPOINT", "https://127.0.0.1:8443"),
        ("METRICS_ENDPOINT", "https://127.0.0.1:8443/{region}"),
        ("LOGS_ENDPOINT", "https://localhost:8443"),
    ):
        monkeypatch.setenv(f"FOUNDRY_MONITOR_{name}", url)
    assert load_settings(None).static_token is not None
    monkeypatch.setenv("FOUNDRY_MONITOR_LOGS_ENDPOINT", "https://api.loganalytics.io")
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_LOGS_ENDPOINT points at api"):
        load_settings(None)


@pytest.mark.parametrize("location", ["evil.example/x", "eastus2.attacker.net", "", "East US"])
def test_an_arm_location_that_is_not_a_region_never_becomes_a_host_name(location: str) -> None:
    from collector.azure import AzureClients
    from collector.credentials import StaticTokenCredential

    clients = AzureClients(Settings(), StaticTokenCredential("t"))
    with pytest.raises(ValueError, match="not an Azure region name"):
        clients.metrics(location)
    assert clients.metrics("swedencentral") is not None
