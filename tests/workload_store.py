"""The one seeded builder of a store from the emulator's workload, with its reference truth.

:func:`build` starts the emulator on a :class:`~collector.emulator.WorkloadConfig` (the default
catalog, or :func:`scaled_catalog`'s copies of it up to 100 deployments and more) and loads it
into a store the way the product loads Azure: :func:`collector.cli.demo.load_workload`, the
collector's backfill through the store's one write path and its spend refresh (the demo runs the
same function). The browser tests and ``benchmarks/dashboard_bench.py --builder workload`` use it.

:func:`reference` is the truth a test compares the store with, computed here from the workload's
simulated requests in plain Python and numpy (its percentiles by :mod:`tests.reference`), never
through the product's helpers or the emulator's own truth document.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from collector.cli.demo import emulator_settings, load_workload
from collector.emulator import EmulatorServer, WorkloadConfig
from collector.emulator.catalog import Catalog, default_catalog
from collector.emulator.workload import Workload, to_ms
from collector.runner import RunReport
from collector.store import migrate
from tests.reference import nearest_rank

#: how long after the end of traffic the emulator's clock stands: every figure is final by then
SETTLED = timedelta(days=3)


def _subscription(copy: int) -> str:
    return f"00000000-0000-4000-8000-{0xA00 + copy:012x}"


def scaled_catalog(deployments: int, *, change_at: datetime | None = None) -> Catalog:
    """The default catalog's Claude accounts copied into one subscription per copy (so each copy
    keeps its own quota pools, and throttles as the default does) until there are
    ``deployments`` deployments with traffic, the last copy cut short; the default's other
    accounts and orphan charges are kept once. Names get the copy's number (``-c01``)."""
    base = default_catalog(change_at=change_at)
    serving = base.claude_accounts
    accounts, pools, left, copy = [], {}, deployments, 0
    while left > 0:
        sub = _subscription(copy)
        for account in serving:
            if left <= 0:
                break
            kept = account.deployments[:left]
            left -= len(kept)
            accounts.append(
                dataclasses.replace(
                    account, subscription=sub, name=f"{account.name}-c{copy:02d}", deployments=kept
                )
            )
        for key, pool in base.pools.items():
            pools[(sub, *key[1:])] = pool
        copy += 1
    others = tuple(a for a in base.accounts if a not in serving)
    return dataclasses.replace(base, accounts=(*accounts, *others), pools=pools)


@dataclass(frozen=True)
class WorkloadStore:
    """A store loaded from a workload: its URL and engine, the workload, the collector's runs."""

    url: str
    engine: Engine
    workload: Workload
    reports: list[RunReport] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return self.workload.start

    @property
    def end(self) -> datetime:
        assert self.workload.end is not None
        return self.workload.end


@contextmanager
def serving(config: WorkloadConfig) -> Iterator[EmulatorServer]:
    """The emulator on ``config``, its clock :data:`SETTLED` after the end of traffic."""
    resolved = config.resolved()
    assert resolved.end is not None, "a seeded store needs a workload with an end"
    with EmulatorServer(resolved, now=resolved.end + SETTLED) as server:
        yield server


def build(
    url: str,
    *,
    seed: int = 1,
    days: float = 1.0,
    end: datetime,
    deployments: int | None = None,
    backfill_days: float | None = None,
    now: Callable[[], datetime] | None = None,
) -> WorkloadStore:
    """A store at ``url`` (migrated here) holding ``days`` of ``seed``'s workload ending at
    ``end``: the default catalog, or :func:`scaled_catalog` with ``deployments`` deployments.
    The collector backfills ``backfill_days`` (default: the workload and an hour) as of ``now``
    (its clock; default: half an hour after ``end``)."""
    catalog = None if deployments is None else scaled_catalog(deployments, change_at=None)
    config = WorkloadConfig(seed=seed, days=days, end=end, catalog=catalog)
    engine = migrate.prepare(url)
    with serving(config) as server:
        cfg = emulator_settings(server.env, database_url=url)
        _, reports = load_workload(
            cfg,
            engine,
            backfill_days or days + 1 / 24,
            now=now or (lambda: end + timedelta(minutes=30)),
        )
        workload = server.workload
    return WorkloadStore(url=url, engine=engine, workload=workload, reports=reports)


@dataclass
class Reference:
    """One deployment's requests over a window, as simulated: counts by status, tokens of the
    successful ones, their durations."""

    by_status: Counter[int] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    durations_2xx: list[int] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.by_status.values())

    def percentile_ms(self, q: float) -> float | None:
        """The exact nearest-rank ``q``-quantile of the successful requests' durations."""
        return nearest_rank(self.durations_2xx, q)


def reference(
    workload: Workload, since: datetime, until: datetime
) -> dict[tuple[str, str], Reference]:
    """Per (resource id in lower case, deployment name): the workload's requests in
    ``[since, until)``, from the simulated requests themselves."""
    req = workload.requests(to_ms(since), to_ms(until))
    result: dict[tuple[str, str], Reference] = {}
    for dep in workload.deployments:
        mine = req.dep == dep.index
        status = req.status[mine]
        ok = status == 200
        ref = Reference(
            by_status=Counter(
                {
                    int(s): int(n)
                    for s, n in zip(*np.unique(status, return_counts=True), strict=True)
                }
            ),
            input_tokens=int(req.input_tokens[mine][ok].sum()),
            output_tokens=int(req.output_tokens[mine][ok].sum()),
            durations_2xx=[int(d) for d in req.duration_ms[mine][ok]],
        )
        result[(dep.resource_id.lower(), dep.name)] = ref
    return result
