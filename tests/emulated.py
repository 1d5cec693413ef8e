"""The session emulator the emulator and integration suites share: six hours of the default
workload ending on a Thursday noon, its clock three days later (every figure final)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.emulator import EmulatorServer, WorkloadConfig

END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)  # a Thursday: peak hours, 429 bursts
HOURS = 6
SETTLED = END + timedelta(days=3)  # the emulator's clock: every metric, log row and cost final
#: the log query row cap (a test may lower it; :func:`reset` restores it)
ROW_CAP = 500_000


#: a Cost Management query body: the month so far, daily cost per resource id
MONTH_COST_BY_RESOURCE: dict[str, Any] = {
    "type": "ActualCost",
    "timeframe": "MonthToDate",
    "dataset": {
        "granularity": "Daily",
        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
        "grouping": [{"type": "Dimension", "name": "ResourceId"}],
    },
}


@contextmanager
def running(seed: int, **options: Any) -> Iterator[EmulatorServer]:
    """The emulator of ``seed``'s workload (``options``: the server's page sizes), started."""
    server = EmulatorServer(
        WorkloadConfig(seed=seed, days=HOURS / 24, end=END), now=SETTLED, **options
    ).start()
    try:
        yield server
    finally:
        server.stop()


def reset(server: EmulatorServer) -> None:
    """No pending fault, the settled clock, the default row cap and Azure's metric names."""
    server.set_faults(None)
    server.set_now(SETTLED)
    server.logs.max_rows = ROW_CAP
    server.set_metric_name_case(None)
