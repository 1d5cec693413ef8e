"""The one seeded builder (tests/workload_store.py): the emulator's workload, scaled beyond the
default catalog, loaded through the product's collector and spend refresh, reads back as the
simulated requests say, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector import histogram
from collector.store import queries
from tests import workload_store
from tests.workload_store import reference, scaled_catalog

END = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)  # a Thursday noon: peak hours, 429 bursts


def test_a_scaled_catalog_has_the_deployments_asked_for_and_pools_per_copy() -> None:
    catalog = scaled_catalog(20)
    serving = catalog.claude_accounts
    assert sum(len(a.deployments) for a in serving) == 20
    names = [(a.subscription, a.name) for a in serving]
    assert len(set(names)) == len(names)
    for account in serving:  # every copy's models have their quota pool in its subscription
        for spec in account.deployments:
            if spec.model.startswith("claude"):
                assert any(k[0] == account.subscription and spec.model in k for k in catalog.pools)


def test_a_workload_store_reads_back_as_the_simulated_requests(db_url: str) -> None:
    built = workload_store.build(db_url, seed=3, days=2 / 24, end=END, deployments=12)
    try:
        assert [r.status for r in built.reports] == ["ok"] * len(built.reports)
        refs = reference(built.workload, built.start, built.end)
        rows = {
            (r.resource_id.lower(), r.deployment): r
            for r in queries.summary(built.engine, built.start, built.end)
        }
        assert set(rows) == set(refs) and len(refs) == 12
        for key, want in refs.items():
            got = rows[key]
            by_status = want.by_status
            assert got.requests == want.requests > 0, key
            assert got.status_429 == by_status.get(429, 0), key
            assert got.status_5xx == sum(n for s, n in by_status.items() if s >= 500), key
            assert (got.input_tokens, got.output_tokens) == (
                want.input_tokens,
                want.output_tokens,
            ), key
            for q, upper in ((0.5, got.p50_ms), (0.95, got.p95_ms), (0.99, got.p99_ms)):
                true = want.percentile_ms(q)
                assert upper is not None and true is not None, key
                lower, _ = histogram.bucket_bounds(histogram.bucket_of(upper - 1e-9))
                assert lower <= true < upper, (key, q)
        spend = queries.spend_days(built.engine, built.start, built.end)
        assert any(d.estimated for d in spend)  # the spend refresh ran on the loaded store
    finally:
        built.engine.dispose()


@pytest.mark.parametrize("count", [1, 9, 10])
def test_a_scaled_catalog_cuts_the_last_copy_short(count: int) -> None:
    assert sum(len(a.deployments) for a in scaled_catalog(count).claude_accounts) == count
