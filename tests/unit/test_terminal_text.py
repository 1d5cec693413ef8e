"""Names and Azure's text are printed as themselves, never as console markup."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from collector.cli.read import summary_table
from collector.cli.terminal import print_reports
from collector.runner import RunReport
from collector.store.queries import DeploymentSummary

HOSTILE = ["[/bold]", "[link=https://evil.example]click[/link]", "[red]x", "a[/]b"]


def _summary(name: str) -> DeploymentSummary:
    return DeploymentSummary(
        resource=name,
        deployment=name,
        model=name,
        requests=1,
        status_2xx=1,
        status_429=0,
        status_4xx_other=0,
        status_5xx=0,
        rate_429=0.0,
        error_rate=0.0,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        input_tokens=1,
        output_tokens=1,
        spend_estimated=Decimal("0.01"),
        spend_billed=None,
        resource_id="/subscriptions/s/resourcegroups/g/providers/x/y/" + name,
        deployment_id=1,
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_the_summary_table_prints_markup_in_names_literally(name: str) -> None:
    console = Console(record=True, width=400)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    console.print(summary_table([_summary(name)], now, now))
    assert name in console.export_text()


@pytest.mark.parametrize("text", HOSTILE)
def test_run_reports_print_azure_error_text_literally(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = RunReport(
        "metrics", f"/subscriptions/{text}", status="failed", error=f"(BadRequest) {text}"
    )
    print_reports([failed])
    out = capsys.readouterr().out
    assert f"(BadRequest) {text}" in out and f"/subscriptions/{text}" in out


@pytest.mark.parametrize("text", HOSTILE)
def test_doctor_prints_azure_error_text_literally(text: str) -> None:
    from collector.cli.doctor import doctor_table
    from collector.doctor import Check

    console = Console(record=True, width=400)
    console.print(doctor_table([Check("costs", f"/subscriptions/{text}", False, text, text)]))
    out = console.export_text()
    assert f"/subscriptions/{text}" in out and out.count(text) >= 3 and "FAIL" in out
