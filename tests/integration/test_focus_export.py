"""``foundry-monitor export focus`` on the emulator's bill (both databases): BilledCost per
resource group and day equals the Claude Marketplace charges booked there, to the cent, and the
Parquet file reads back to the CSV's rows."""

from __future__ import annotations

import csv
import importlib
import os
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from collector.export.focus import (
    BOOL_COLUMNS,
    COLUMNS,
    INT_COLUMNS,
    MONEY_COLUMNS,
    TIME_COLUMNS,
    parse_arm_id,
)
from collector.runner import Collector
from collector.spend import refresh_spend
from tests.integration.conftest import BACKFILL_DAYS, COLLECTOR_NOW, END

cli = importlib.import_module("collector.cli.app")
DAY = END.date()


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    monkeypatch.setattr(sys, "argv", ["foundry-monitor", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        cli.main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out, err


@pytest.fixture
def exported(
    make_collector: Callable[..., Collector],
    store: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[Path, Path]:
    collector = make_collector()
    reports = collector.run_once(["inventory", "metrics", "costs"], backfill_days=BACKFILL_DAYS)
    assert all(r.status == "ok" for r in reports), [r.error for r in reports]
    refresh_spend(store, collector.settings, COLLECTOR_NOW)
    for name in [k for k in os.environ if k.startswith("FOUNDRY_MONITOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FOUNDRY_MONITOR_DATABASE_URL", db_url)
    window = ["--since", str(DAY - timedelta(days=1)), "--until", str(DAY + timedelta(days=1))]
    files = tmp_path / "focus.csv", tmp_path / "focus.parquet"
    for path in files:
        code, out, err = _main(monkeypatch, capsys, "export", "focus", *window, "--out", str(path))
        assert code == 0, err
        assert out.startswith("wrote ") and str(path) in out
    return files


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows with each column parsed to its type (empty cells are null)."""

    def parse(name: str, text: str) -> Any:
        if text == "":
            return None
        if name in MONEY_COLUMNS:
            return Decimal(text)
        if name in INT_COLUMNS:
            return int(text)
        if name in TIME_COLUMNS:
            return datetime.fromisoformat(text)
        if name in BOOL_COLUMNS:
            return {"true": True, "false": False}[text]
        return text

    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return [{k: parse(k, v) for k, v in row.items()} for row in reader]


def _booked(truth: dict[str, Any]) -> dict[tuple[str, date], Decimal]:
    """The Claude Marketplace charges per resource group (of the resource Azure booked each
    on) and day, as the emulator billed them."""
    charges = [{**c, "day": b["day"]} for b in truth["billed"] for c in b["charges"]] + truth[
        "billed_unattributed"
    ]
    out: dict[tuple[str, date], Decimal] = {}
    for c in charges:
        key = (parse_arm_id(c["resource_id"])[1].lower(), date.fromisoformat(c["day"]))
        out[key] = out.get(key, Decimal(0)) + Decimal(str(c["cost"]))
    return out


def test_billed_cost_per_resource_group_and_day_equals_the_claude_charges_booked_there(
    exported: tuple[Path, Path], truth: dict[str, Any]
) -> None:
    rows = _csv_rows(exported[0])
    booked = _booked(truth)
    assert booked and rows
    got: dict[tuple[str, date], Decimal] = {}
    for row in rows:
        key = (parse_arm_id(row["ResourceId"])[1].lower(), row["ChargePeriodStart"].date())
        got[key] = got.get(key, Decimal(0)) + row["BilledCost"]
    assert got == booked
    # ResourceId is the Foundry account; the SaaS resources the charges sit on are named apart
    accounts = {b["resource"].lower() for b in truth["billed"]}
    deployments = [r for r in rows if r["x_DeploymentName"]]
    assert deployments and {r["ResourceId"] for r in deployments} <= accounts
    assert all("/microsoft.saas/resources/" in r["x_ChargeResourceIds"] for r in deployments)
    unattributed = {c["resource_id"].lower() for c in truth["billed_unattributed"]}
    assert unattributed <= {r["ResourceId"] for r in rows if not r["x_DeploymentName"]}


def test_each_claude_deployment_day_is_one_row_with_its_tokens(
    exported: tuple[Path, Path], truth: dict[str, Any]
) -> None:
    rows = [r for r in _csv_rows(exported[0]) if r["x_DeploymentName"]]
    by_key = {
        (r["ResourceId"], r["x_DeploymentName"], r["ChargePeriodStart"].date()): r for r in rows
    }
    assert len(by_key) == len(rows)
    expected = [
        (dep, day)
        for dep in truth["deployments"]
        if dep["model_format"] == "Anthropic"
        for day in dep["days"]
        if day["input_tokens"] or day["output_tokens"]
    ]
    assert len(expected) == len(rows)
    for dep, day in expected:
        row = by_key[(dep["resource"].lower(), dep["deployment"], date.fromisoformat(day["day"]))]
        assert (row["x_InputTokens"], row["x_OutputTokens"]) == (
            day["input_tokens"],
            day["output_tokens"],
        )
        assert row["x_Model"] == dep["model"] and row["ConsumedUnit"] == "Tokens"
        assert row["ConsumedQuantity"] >= day["input_tokens"] + day["output_tokens"]
        assert row["EffectiveCost"] == row["ListCost"] == row["BilledCost"]
        assert row["x_EstimatedCost"] is not None and row["x_EstimatedCost"] > 0
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["PublisherName"] == "Anthropic" and row["ChargeCategory"] == "Usage"
        assert row["ChargePeriodEnd"] - row["ChargePeriodStart"] == timedelta(days=1)


def test_the_parquet_file_reads_back_to_the_csvs_rows(exported: tuple[Path, Path]) -> None:
    csv_rows = _csv_rows(exported[0])
    table = pq.read_table(exported[1])
    assert tuple(table.column_names) == COLUMNS
    assert table.to_pylist() == csv_rows
