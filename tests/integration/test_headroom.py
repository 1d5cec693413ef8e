"""``foundry-monitor headroom`` on the emulator (issue 17's acceptance), on both databases: the
peaks equal the truth's per pool, a Global Standard pool spans two regions as one pool while a
Data Zone pool does not, a model in two versions gives two pools, settings override the shipped
defaults, an unknown model says "limit unknown"; the usages list is collected with the
inventory."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from collector.emulator import EmulatorServer
from collector.runner import Collector
from collector.store import rollup
from collector.store.schema import TABLES
from tests.integration.conftest import BACKFILL_DAYS, END, HOURS

cli = importlib.import_module("collector.cli.app")
SINCE = END - timedelta(hours=HOURS)
LIMITS = ("rpm", "itpm", "otpm")


def _headroom(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, **env: str
) -> tuple[int, Any, str]:
    for name in [k for k in os.environ if k.startswith("FOUNDRY_MONITOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FOUNDRY_MONITOR_DATABASE_URL", url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = ["foundry-monitor", "headroom", "--since", SINCE.isoformat(), "--until"]
    monkeypatch.setattr(sys, "argv", [*argv, END.isoformat(), "--json"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 0), (json.loads(out) if out else None), err


def _key(pool: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return (pool["model"], pool["model_version"], pool["kind"], pool["zone"])


def _truth_peaks(truth: dict[str, Any]) -> dict[tuple[str, str, str, str | None], dict[str, Any]]:
    """Per Claude pool, the window's peak of each limit and its (earliest) minute."""
    out = {}
    for pool in truth["pools"]:
        if not pool["model"].startswith("claude"):
            continue
        best: dict[str, Any] = {}
        for day in pool["days"]:
            for limit in LIMITS:
                value, minute = day[f"peak_{limit}"], day[f"peak_{limit}_minute"]
                if minute is None:
                    continue
                held = best.get(limit)
                if held is None or value > held[0] or (value == held[0] and minute < held[1]):
                    best[limit] = (value, minute)
        out[_key(pool)] = best
    return out


def test_headroom_matches_the_truth_per_pool(
    make_collector: Callable[..., Collector],
    emulator: EmulatorServer,
    truth: dict[str, Any],
    store: Engine,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert all(r.status == "ok" for r in make_collector().run_once(backfill_days=BACKFILL_DAYS))
    # the usages list came with the inventory: one call per location with accounts
    usage = TABLES["quota_usage"]
    with store.connect() as conn:
        stored = conn.execute(select(usage.c.location, usage.c.name)).all()
    assert {loc for loc, _ in stored} == {"eastus2", "swedencentral"}
    assert ("eastus2", "AIServices.DataZoneStandard.claude-haiku-4-5") in stored

    code, pools, err = _headroom(monkeypatch, capsys, db_url)
    assert code == 0, err
    expected = _truth_peaks(truth)
    assert {_key(p) for p in pools} == set(expected)
    for pool in pools:
        for limit in LIMITS:
            value, minute = expected[_key(pool)][limit]
            assert pool[f"peak_{limit}"] == value, (_key(pool), limit)
            assert pool[f"peak_{limit}_minute"] == minute, (_key(pool), limit)
        assert pool["headers"]["requests-limit"] == pool["limit_rpm"]
        assert set(pool["headers"]) == {
            "requests-limit", "requests-remaining", "input-tokens-limit",
            "input-tokens-remaining", "output-tokens-limit", "output-tokens-remaining", "reset",
        }  # fmt: skip

    by_key = {_key(p): p for p in pools}
    # a Global Standard pool spans two regions as one pool
    sonnet = by_key[("claude-sonnet-4-5", "20250929", "Global", None)]
    assert {d["region"] for d in sonnet["deployments"]} == {"eastus2", "swedencentral"}
    assert len(sonnet["deployments"]) == 3
    # a Data Zone pool does not: haiku is one pool per data zone
    haiku = [p for p in pools if p["model"] == "claude-haiku-4-5"]
    assert sorted(p["zone"] for p in haiku) == ["EU", "US"]
    assert all(len({d["region"] for d in p["deployments"]}) == 1 for p in haiku)
    # a model deployed in two versions: two pools
    assert {p["model_version"] for p in pools if p["model"] == "claude-sonnet-4-5"} == {
        "1",
        "20250929",
    }
    # shipped defaults (pay-as-you-go) unless set
    assert (sonnet["limit_rpm"], sonnet["limit_itpm"], sonnet["limit_otpm"]) == (80, 80_000, 16_000)
    assert sonnet["limit_source"] == "shipped default"
    # the usages list's quota and allocation for the pool
    assert sonnet["usage_name"] == "AIServices.GlobalStandard.claude-sonnet-4-5"
    assert sonnet["quota_allocated_ktpm"] is not None

    # the granted quota from the settings wins over the defaults
    sub = sonnet["subscription_id"]
    granted = {f"{sub}/claude-sonnet-4-5": {"rpm": 400, "itpm": 400_000, "otpm": 90_000}}
    code, pools, err = _headroom(
        monkeypatch,
        capsys,
        db_url,
        FOUNDRY_MONITOR_QUOTA_LIMITS=json.dumps(granted),
        FOUNDRY_MONITOR_QUOTA_OFFERS=json.dumps({sub: "enterprise"}),
    )
    assert code == 0, err
    by_key = {_key(p): p for p in pools}
    for version in ("1", "20250929"):
        pool = by_key[("claude-sonnet-4-5", version, "Global", None)]
        assert (pool["limit_rpm"], pool["limit_itpm"], pool["limit_otpm"]) == (400, 400_000, 90_000)
        assert pool["limit_source"] == "setting"
        assert pool["utilization_rpm"] == pool["peak_rpm"] / 400
    opus = by_key[("claude-opus-4-5", "20251101", "Global", None)]
    assert opus["limit_rpm"] == 10_000 and opus["offer"] == "enterprise"

    # with the pools' real limits granted, each 429 minute is traced to the level that throttled
    # it in the truth (or left unexplained), never to the other one
    real = {
        f"{k.subscription_id}/{k.model}/{k.model_version}": {
            "rpm": q.rpm, "itpm": q.input_tpm, "otpm": q.output_tpm,
        }
        for k, q in emulator.workload.catalog.pools.items()
    }  # fmt: skip
    code, pools, err = _headroom(
        monkeypatch, capsys, db_url, FOUNDRY_MONITOR_QUOTA_LIMITS=json.dumps(real)
    )
    assert code == 0, err
    by_key = {_key(p): p for p in pools}
    for pool in truth["pools"]:
        levels = [m["level"] for day in pool["days"] for m in day["throttled_minutes"]]
        if not pool["model"].startswith("claude") or not levels:
            continue
        ours = by_key[_key(pool)]
        assert ours["throttled_minutes"] == len(levels)
        counted = {level: levels.count(level) for level in ("pool", "deployment", "both")}
        got = ours["throttle_levels"]
        assert got["pool"] <= counted["pool"] + counted["both"], _key(pool)
        assert got["deployment"] <= counted["deployment"] + counted["both"], _key(pool)
        assert got["unexplained"] * 2 <= len(levels), _key(pool)
        assert ours["binding_level"] == max(counted, key=lambda k: counted[k]), _key(pool)

    # a model nobody knows: "limit unknown", never 0 and never a division by zero
    d = TABLES["deployment"]
    with store.begin() as conn:
        conn.execute(update(d).where(d.c.model == "claude-opus-4-1").values(model="claude-opus-9"))
        rollup.refresh(conn, SINCE, END)  # pool_minute keeps the pool a minute was rolled up in
    code, pools, err = _headroom(monkeypatch, capsys, db_url)
    assert code == 0, err
    unknown = next(p for p in pools if p["model"] == "claude-opus-9")
    assert unknown["limit_rpm"] is None and unknown["utilization_rpm"] is None
    assert unknown["headers"]["requests-remaining"] is None
    assert unknown["binding_limit"] is None and unknown["forecast_rpm"] is None
    assert unknown["note"].startswith("limit unknown (RPM, ITPM, OTPM): claude-opus-9")
    assert unknown["peak_rpm"] > 0


def test_a_bad_quota_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, out, err = _headroom(
        monkeypatch, capsys, url, FOUNDRY_MONITOR_QUOTA_OFFERS='{"sub": "gold"}'
    )
    assert code == 2 and out is None
    assert err.strip().splitlines() == [
        "error: FOUNDRY_MONITOR_QUOTA_OFFERS['sub']: 'gold' is not a known offer: expected one "
        "of enterprise, pay-as-you-go (or mca-e)"
    ]
