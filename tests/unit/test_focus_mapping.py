"""The FOCUS mapping (pure): one row per Claude deployment-day, one per unallocated
resource-day, costs to the cent, text inert in CSV."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.export.focus import (
    COLUMNS,
    AccountInfo,
    DeploymentDay,
    UnallocatedDay,
    focus_rows,
    write_csv,
)

EXE = shutil.which("foundry-monitor", path=str(Path(sys.executable).parent)) or "foundry-monitor"
ACCOUNT = (
    "/subscriptions/s1/resourcegroups/rg-ai/providers/microsoft.cognitiveservices/accounts/ai-weu"
)
SAAS = "/subscriptions/s1/resourceGroups/rg-sandbox/providers/Microsoft.SaaS/resources/claude-x-1"
DAY = date(2026, 11, 2)


def _deployment(name: str, billed: str | None, estimated: str = "1.5") -> DeploymentDay:
    return DeploymentDay(
        day=DAY,
        resource_id=ACCOUNT.upper(),  # stored ids may come in any case
        deployment=name,
        model="claude-sonnet-4-5",
        model_version="1",
        billed=None if billed is None else Decimal(billed),
        estimated=Decimal(estimated),
        provisional=billed is None,
        input_tokens=100,
        output_tokens=20,
        cache_read_tokens=3,
        cache_write_5m_tokens=2,
        cache_write_1h_tokens=1,
    )


def test_deployment_and_unallocated_rows_sum_to_the_bill_and_name_their_charges() -> None:
    accounts = {ACCOUNT: AccountInfo(ACCOUNT, "ai-weu", "s1", "rg-ai", "westeurope")}
    rows = focus_rows(
        [_deployment("=chat", "1.23"), _deployment("batch", None)],
        [
            UnallocatedDay(DAY, ACCOUNT, Decimal("0.07"), False),
            UnallocatedDay(DAY, SAAS, Decimal("2.00"), True),
            UnallocatedDay(DAY, ACCOUNT, Decimal(0), False),  # nothing left: no row
        ],
        accounts,
        {(DAY, ACCOUNT): [SAAS.lower()]},
    )
    assert len(rows) == 4
    assert sum((r.BilledCost for r in rows), Decimal(0)) == Decimal("3.30")
    chat = next(r for r in rows if r.x_DeploymentName == "=chat")
    assert (chat.ResourceId, chat.ResourceName, chat.RegionId) == (ACCOUNT, "ai-weu", "westeurope")
    assert chat.SubAccountId == "/subscriptions/s1" and chat.x_ResourceGroupName == "rg-ai"
    assert chat.ConsumedQuantity == 126 and chat.x_CacheWrite1hTokens == 1
    assert chat.x_ChargeResourceIds == SAAS.lower()
    assert chat.ChargePeriodStart == datetime(2026, 11, 2, tzinfo=UTC)
    unbilled = next(r for r in rows if r.x_DeploymentName == "batch")
    assert (
        unbilled.BilledCost == 0
        and unbilled.x_Provisional
        and unbilled.x_EstimatedCost == Decimal("1.5")
    )
    orphan = next(r for r in rows if r.ResourceId == SAAS.lower())
    assert (
        orphan.x_ResourceGroupName == "rg-sandbox"
        and orphan.ResourceType == "Microsoft.SaaS/resources"
    )
    assert orphan.x_ChargeResourceIds == SAAS.lower() and orphan.ConsumedQuantity is None


def test_csv_cells_are_inert_and_typed(tmp_path: Path) -> None:
    rows = focus_rows([_deployment("=cmd|' /C calc'!A0", "1.2")], [], {}, {})
    path = tmp_path / "f.csv"
    assert write_csv(rows, path) == 1
    with path.open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert list(row) == list(COLUMNS)
    assert row["x_DeploymentName"] == "'=cmd|' /C calc'!A0"
    assert row["BilledCost"] == "1.200000" and row["ChargePeriodStart"] == "2026-11-02T00:00:00Z"
    assert row["x_Provisional"] == "false" and row["RegionId"] == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "--format 'xlsx' is not known: choose csv or parquet"),
        (["--since", "2026-11-05", "--until", "2026-11-01"], "must be before --until"),
        (["--since", "yesterday"], "--since 'yesterday' is not a date"),
    ],
)
def test_bad_export_options_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    options = {"--since": "2026-11-01", "--until": "2026-11-02", "--out": str(tmp_path / "f.csv")}
    for i in range(0, len(args), 2):
        options[args[i]] = args[i + 1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["FOUNDRY_MONITOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 's.db'}"
    command = [EXE, "export", "focus", *[x for kv in options.items() for x in kv]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_empty_window_writes_the_header_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_MONITOR_")}
    env["FOUNDRY_MONITOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 's.db'}"
    command = [EXE, "export", "focus", "--since", "2026-11-01", "--until", "2026-11-02"]
    done = subprocess.run(
        [*command, "--out", str(out)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 0 FOCUS rows to {out}"
    assert "no Claude spend in the window" in done.stderr
    assert out.read_text().splitlines() == [",".join(COLUMNS)]
