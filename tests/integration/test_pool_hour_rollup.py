"""``pool_hour`` (issue 17) equals a recomputation from ``pool_minute`` in Python after the
collector's ingest, after a prune whose cut-off falls inside an hour, and after migration 0010
is downgraded and upgraded again (its fill), on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, inspect, select

from collector.runner import Collector
from collector.store import migrate, retention, rollup
from collector.store.schema import TABLES
from collector.store.types import to_utc
from tests.integration.conftest import BACKFILL_DAYS

KEY = ("subscription_id", "model", "model_version", "kind", "zone")


def _recomputed(store: Engine) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """pool_hour as Python computes it from pool_minute."""
    pm = TABLES["pool_minute"]
    out: dict[tuple[Any, ...], list[Any]] = {}
    with store.connect() as conn:
        for row in conn.execute(select(pm)).mappings():
            ts = to_utc(row["ts"])
            hour = rollup.floor_time(ts, rollup.HOUR)
            seen = out.setdefault((hour, *(row[c] for c in KEY)), [0.0, 0.0, 0.0, 0.0, 0, 0, ts])
            for i, name in enumerate(("requests", "itpm", "otpm")):
                seen[i] = max(seen[i], row[name] or 0.0)
            seen[3] += row["status_429"] or 0.0
            seen[4] += 1
            seen[5] += int((row["status_429"] or 0.0) > 0)
            seen[6] = max(seen[6], ts)
    return {key: tuple(values) for key, values in out.items()}


def _stored(store: Engine) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    ph = TABLES["pool_hour"]
    with store.connect() as conn:
        return {
            (to_utc(r["ts"]), *(r[c] for c in KEY)): (
                r["requests"] or 0.0, r["itpm"] or 0.0, r["otpm"] or 0.0,
                r["status_429"] or 0.0, r["minutes"], r["throttled_minutes"], to_utc(r["newest"]),
            )
            for r in conn.execute(select(ph)).mappings()
        }  # fmt: skip


def test_pool_hour_is_pool_minute_per_hour_after_ingest_prune_and_migration(
    make_collector: Callable[..., Collector], store: Engine
) -> None:
    assert all(r.status == "ok" for r in make_collector().run_once(backfill_days=BACKFILL_DAYS))
    expected = _recomputed(store)
    assert len({key[1:] for key in expected}) >= 2  # several pools
    assert sum(v[3] for v in expected.values()) > 0  # with 429s
    assert _stored(store) == expected

    pm = TABLES["pool_minute"]
    with store.connect() as conn:
        first = to_utc(conn.execute(select(pm.c.ts).order_by(pm.c.ts).limit(1)).scalar())
    cutoff = rollup.floor_time(first, rollup.HOUR) + timedelta(hours=2, minutes=23)
    retention.prune(store, retention_days=1, now=cutoff + timedelta(days=1))
    after = _recomputed(store)
    assert 0 < len(after) < len(expected)
    # the hour the cut-off fell inside kept its later minutes only
    cut = rollup.floor_time(cutoff, rollup.HOUR)
    assert any(key[0] == cut and v[4] < 60 for key, v in after.items())
    assert _stored(store) == after

    migrate.downgrade(store, "0009")
    assert "pool_hour" not in inspect(store).get_table_names()
    migrate.upgrade(store)
    assert _stored(store) == after
