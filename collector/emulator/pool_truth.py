"""The truth about quota pools (issue 17): per pool and day, its limits, its peak minute of each
limit and which level throttled each of its 429 minutes.

Usage per pool and minute is what Foundry's limits count, summed over the pool's deployments:
``rpm`` the accepted requests (every status but 429), ``itpm`` uncached input plus cache writes
(cache reads excluded), ``otpm`` output tokens. A peak is the largest minute of the day (the
earliest one on a tie; ``None`` minute when the pool had no traffic). A 429 minute's ``level`` is
``deployment`` when every 429 of that minute came from a deployment's own capacity, ``pool``
when every one came from the pool's limits, ``both`` otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from collector.emulator.workload import (
    MINUTE_MS,
    THROTTLE_DEPLOYMENT,
    THROTTLE_POOL,
    Requests,
    Workload,
    from_ms,
)

LIMITS = ("rpm", "itpm", "otpm")


def _minute_iso(minute: int) -> str:
    return from_ms(minute * MINUTE_MS).strftime("%Y-%m-%dT%H:%M:%SZ")


def pool_usage(req: Requests, members: list[int]) -> dict[str, dict[int, int]]:
    """Per limit, the pool's usage per epoch minute (minutes with traffic only)."""
    sel = np.isin(req.dep, np.asarray(members, np.int16))
    accepted = sel & (req.status != 429)
    minute = req.ts_ms[accepted] // MINUTE_MS
    values = {
        "rpm": np.ones(minute.shape, np.int64),
        "itpm": req.input_tokens[accepted].astype(np.int64)
        + req.cache_write_tokens[accepted].astype(np.int64),
        "otpm": req.output_tokens[accepted].astype(np.int64),
    }
    result: dict[str, dict[int, int]] = {}
    for name, value in values.items():
        per: dict[int, int] = {}
        if minute.size:
            keys, inverse = np.unique(minute, return_inverse=True)
            sums = np.bincount(inverse, weights=value, minlength=keys.size)
            per = {int(k): round(v) for k, v in zip(keys, sums, strict=True)}
        result[name] = per
    return result


def _peak(per_minute: dict[int, int]) -> tuple[int, str | None]:
    if not per_minute:
        return 0, None
    best = max(per_minute.values())
    minute = min(m for m, v in per_minute.items() if v == best)
    return best, _minute_iso(minute)


def throttled_minutes(
    workload: Workload, req: Requests, members: list[int]
) -> list[dict[str, Any]]:
    """Each minute with 429s in the pool: the level that throttled and the deployments."""
    sel = np.isin(req.dep, np.asarray(members, np.int16)) & (req.status == 429)
    minute = req.ts_ms[sel] // MINUTE_MS
    level = req.throttle[sel]
    dep = req.dep[sel]
    out = []
    for m in np.unique(minute):
        here = minute == m
        levels = set(level[here].tolist())
        name = (
            "deployment"
            if levels == {THROTTLE_DEPLOYMENT}
            else "pool"
            if levels == {THROTTLE_POOL}
            else "both"
        )
        deployments = sorted({workload.deployments[int(i)].name for i in dep[here]})
        out.append(
            {
                "minute": _minute_iso(int(m)),
                "level": name,
                "status_429": int(here.sum()),
                "deployments": deployments,
            }
        )
    return out


def pool_day(workload: Workload, pool_index: int, req: Requests, day: str) -> dict[str, Any]:
    """One pool's entry for one day of requests."""
    _key, members = workload.pools[pool_index]
    usage = pool_usage(req, members)
    entry: dict[str, Any] = {"day": day}
    for name in LIMITS:
        value, minute = _peak(usage[name])
        entry[f"peak_{name}"] = value
        entry[f"peak_{name}_minute"] = minute
    entry["throttled_minutes"] = throttled_minutes(workload, req, members)
    return entry


def pool_entries(workload: Workload, days: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The ``pools`` list of the truth: one entry per pool with its limits and ``days``."""
    at = workload.end or datetime.now(UTC)
    out = []
    for index, (key, members) in enumerate(workload.pools):
        quota = workload.catalog.pools.get(key)
        deployments = []
        for i in members:
            dep = workload.deployments[i]
            req_limit, tok_limit = dep.capacity_limits(int(at.timestamp() * 1000) - 1)
            deployments.append(
                {
                    "resource": dep.resource_id,
                    "deployment": dep.name,
                    "region": dep.region,
                    "sku": dep.spec.sku,
                    "capacity": dep.spec.capacity_at(at),
                    "limit_rpm": req_limit,
                    "limit_tpm": tok_limit,
                }
            )
        out.append(
            {
                "subscription_id": key.subscription_id,
                "model": key.model,
                "model_version": key.model_version,
                "kind": key.kind,
                "zone": key.zone or None,
                "limit_rpm": quota.rpm if quota else None,
                "limit_itpm": quota.input_tpm if quota else None,
                "limit_otpm": quota.output_tpm if quota else None,
                "deployments": deployments,
                "days": days.get(index, []),
            }
        )
    return out
