"""The ground truth of a workload, as the JSON document ``foundry-monitor emulator truth`` writes.

Shape (issue #3, plus extra keys)::

    {"seed", "start", "end", "currency",
     "deployments": [{"resource", "deployment", "model", "model_version", "model_format",
                      "region",
                      "days": [{"day", "requests", "requests_by_status", "input_tokens",
                                "output_tokens", "cache_write_tokens", "cache_write_5m_tokens",
                                "cache_write_1h_tokens", "cache_read_tokens",
                                "cache_tokens_by_context_length", "p50_ms", "p95_ms", "p99_ms",
                                "ttft_avg_ms", "estimated_cost", "true_cost",
                                "true_cost_parts"}]}],
     "billed": [{"resource", "day", "cost", "preliminary_cost", "quantity_ccu", "currency",
                 "true_cost", "first_seen", "final_at",
                 "charges": [{"resource_id", "model", "meter", "cost", "preliminary_cost"}]}],
     "billed_unattributed": [{"resource_id", "model", "meter", "day", "cost",
                              "preliminary_cost"}],
     "billed_azure": [{"resource", "day", "meter", "deployment", "cost", "quantity",
                       "currency", "first_seen"}],
     "deployment_changes": [...], "failed_requests": [{"apim_request_id", "request_id",
                 "deployment", "resource", "status", "time", "duration_ms"}],
     "pools": [{"subscription_id", "model", "model_version", "kind", "zone", "limit_rpm",
                "limit_itpm", "limit_otpm", "deployments": [{"resource", "deployment", "region",
                "sku", "capacity", "limit_rpm", "limit_tpm"}],
                "days": [{"day", "peak_rpm", "peak_rpm_minute", "peak_itpm", "peak_itpm_minute",
                          "peak_otpm", "peak_otpm_minute",
                          "throttled_minutes": [{"minute", "level", "status_429",
                                                 "deployments"}]}]}]}

``pools`` is the truth about quota pools (:mod:`collector.emulator.pool_truth`).

Every deployment with traffic is listed, Claude (``model_format`` "Anthropic") or not
("OpenAI": ``gpt-4o-mini``, whose cache token counts are always 0).

Tokens are counted on successful (200) requests only: ``input_tokens`` is the uncached input
(Anthropic's ``input_tokens``), ``cache_write_5m_tokens`` / ``cache_write_1h_tokens`` the cache
writes by TTL (``cache_write_tokens`` is their sum), ``cache_read_tokens`` the cache reads;
``cache_tokens_by_context_length`` splits the three cache counts by the ``ContextLength`` label
Azure Monitor's cache metrics carry ("<=200K" / ">200K": whole prompt at most or above 200k
tokens). Latency percentiles are nearest-rank over the durations of the day's successful requests
and ``ttft_avg_ms`` the mean time to first token over them (None when there were none).
``estimated_cost`` = input x input price + output x output price at the base tier (cache-blind:
what Azure's InputTokens/OutputTokens metrics alone allow); ``true_cost`` prices all five token
types at list price, each request at its context tier (Sonnet's long-context prices above 200k
prompt tokens), and ``true_cost_parts`` is it by token type (input, output, cache_write_5m,
cache_write_1h, cache_read); for ``gpt-4o-mini`` it is its Azure price. All are exact integer
cost units / 1e8, unrounded. ``billed`` lists the Claude Marketplace charges per Foundry account
and day: ``cost`` is the final amount, the sum of its ``charges``, each rounded to the cent and
booked on the ``microsoft.saas/resources`` id Azure books it under (``resource_id``; see
:mod:`collector.emulator.billing`). ``billed_unattributed`` lists the Claude charges of SaaS
resources in a resource group without any Foundry account: no deployment's true cost.
``billed_azure`` lists the Azure-meter charges (the non-Anthropic deployment's token meters,
exact, and the OpenAI account's flat charge): never part of ``billed``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from collector.emulator.billing import bill_rows, quantity_of
from collector.emulator.catalog import CONTEXT_LENGTHS, COST_UNITS_PER_USD
from collector.emulator.pool_truth import pool_day, pool_entries
from collector.emulator.workload import (
    DAY_MS,
    Workload,
    from_ms,
    guid_of,
    request_id_of,
)
from collector.histogram import nearest_rank

FAILED_SAMPLE_SIZE = 200


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _percentiles(durations: np.ndarray) -> dict[str, int | None]:
    if durations.size == 0:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ordered = np.sort(durations)
    n = int(ordered.size)
    return {f"p{int(q * 100)}_ms": int(ordered[nearest_rank(n, q) - 1]) for q in (0.5, 0.95, 0.99)}


def build_truth(workload: Workload, until: datetime | None = None) -> dict[str, Any]:
    """The whole truth (may take seconds for 30 days: every request is generated once)."""
    days = workload.days(until)
    per_dep: dict[int, list[dict[str, Any]]] = {d.index: [] for d in workload.deployments}
    failed_parts: list[tuple[np.ndarray, ...]] = []
    pool_days: dict[int, list[dict[str, Any]]] = {}
    for day in days:
        day_str = datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC).strftime("%Y-%m-%d")
        req = workload.requests(day * DAY_MS, (day + 1) * DAY_MS)
        if until is not None:
            keep = req.ts_ms < int(until.timestamp() * 1000)
            req = req.take(np.flatnonzero(keep))
        for dep in workload.deployments:
            sel = req.dep == dep.index
            status = req.status[sel]
            codes, counts = np.unique(status, return_counts=True)
            ok = status == 200
            inp = int(req.input_tokens[sel].astype(np.int64).sum())
            out = int(req.output_tokens[sel].astype(np.int64).sum())
            cw = int(req.cache_write_tokens[sel].astype(np.int64).sum())
            cr = int(req.cache_read_tokens[sel].astype(np.int64).sum())
            cw5 = int(req.cache_write_5m_tokens[sel].astype(np.int64).sum())
            cw1 = int(req.cache_write_1h_tokens[sel].astype(np.int64).sum())
            parts = dict.fromkeys(
                ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"), 0
            )
            by_context: dict[str, dict[str, int]] = {}
            context = req.context[sel]
            for ctx, label in enumerate(CONTEXT_LENGTHS):
                c = context == ctx
                sums = [
                    int(getattr(req, f)[sel][c].astype(np.int64).sum())
                    for f in (
                        "input_tokens",
                        "output_tokens",
                        "cache_write_5m_tokens",
                        "cache_write_1h_tokens",
                        "cache_read_tokens",
                    )
                ]
                t_in, t_out, t_w5, t_w1, t_rd = sums
                for k, v in dep.model.cost_parts(
                    t_in, t_out, t_w5, t_w1, t_rd, long_context=ctx == 1
                ).items():
                    parts[k] += v
                if dep.model.anthropic and c.any():
                    by_context[label] = {
                        "cache_write_5m_tokens": sums[2],
                        "cache_write_1h_tokens": sums[3],
                        "cache_read_tokens": sums[4],
                    }
            ttft = req.ttft_ms[sel][ok]
            entry: dict[str, Any] = {
                "day": day_str,
                "requests": int(sel.sum()),
                "requests_by_status": {
                    str(int(c)): int(n) for c, n in zip(codes, counts, strict=True)
                },
                "input_tokens": inp,
                "output_tokens": out,
                "cache_write_tokens": cw,
                "cache_write_5m_tokens": cw5,
                "cache_write_1h_tokens": cw1,
                "cache_read_tokens": cr,
                "cache_tokens_by_context_length": by_context,
                **_percentiles(req.duration_ms[sel][ok]),
                "ttft_avg_ms": float(ttft.astype(np.int64).sum() / ttft.size)
                if ttft.size
                else None,
                "estimated_cost": dep.model.estimate_units(inp, out) / COST_UNITS_PER_USD,
                "true_cost": sum(parts.values()) / COST_UNITS_PER_USD,
                "true_cost_parts": {k: v / COST_UNITS_PER_USD for k, v in parts.items()},
            }
            per_dep[dep.index].append(entry)
        for pool_index in range(len(workload.pools)):
            pool_days.setdefault(pool_index, []).append(
                pool_day(workload, pool_index, req, day_str)
            )
        failed = np.flatnonzero(req.status != 200)
        failed_parts.append(
            (
                req.ts_ms[failed],
                req.dep[failed],
                req.status[failed],
                req.apim_id[failed],
                req.request_id[failed],
                req.duration_ms[failed],
            )
        )
    deployments = [
        {
            "resource": dep.resource_id,
            "deployment": dep.name,
            "model": dep.model.id,
            "model_version": dep.version,
            "model_format": dep.model.format,
            "region": dep.region,
            "days": per_dep[dep.index],
        }
        for dep in workload.deployments
    ]
    rows = bill_rows(workload, until)
    per_account: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        if row.marketplace and not row.orphan:
            per_account.setdefault((row.account.id, row.day.isoformat()), []).append(row)
    billed = [
        {
            "resource": resource,
            "day": day,
            "cost": sum(r.final_cents for r in group) / 100,
            "preliminary_cost": sum(r.preliminary_cents for r in group) / 100,
            "quantity_ccu": sum(r.final_cents for r in group),
            "currency": "USD",
            "true_cost": sum(r.true_cost_units for r in group) / COST_UNITS_PER_USD,
            "first_seen": iso(group[0].first_seen),
            "final_at": iso(group[0].final_at),
            "charges": [_charge(r) for r in group],
        }
        for (resource, day), group in sorted(per_account.items())
    ]
    billed_unattributed = [
        {**_charge(row), "day": row.day.isoformat()} for row in rows if row.orphan
    ]
    billed_azure = [
        {
            "resource": row.account.id,
            "day": row.day.isoformat(),
            "meter": row.meter,
            "deployment": row.deployment,
            "cost": row.final_units / COST_UNITS_PER_USD,
            "quantity": quantity_of(row, row.final_cents),
            "currency": "USD",
            "first_seen": iso(row.first_seen),
        }
        for row in rows
        if not row.marketplace
    ]
    changes = [
        {
            "resource": dep.resource_id,
            "deployment": dep.name,
            "at": iso(dep.spec.changed_at),
            "capacity_before": dep.spec.capacity,
            "capacity_after": dep.spec.new_capacity,
        }
        for dep in workload.deployments
        if dep.spec.changed_at is not None and dep.spec.new_capacity is not None
    ]
    return {
        "seed": workload.seed,
        "start": iso(workload.start),
        "end": iso(workload.end) if workload.end else None,
        "currency": "USD",
        "deployments": deployments,
        "billed_unattributed": billed_unattributed,
        "billed": billed,
        "billed_azure": billed_azure,
        "deployment_changes": changes,
        "failed_requests": _failed_sample(workload, failed_parts),
        "pools": pool_entries(workload, pool_days),
    }


def _charge(row: Any) -> dict[str, Any]:
    """One Claude Marketplace row as Azure books it."""
    return {
        "resource_id": row.resource_id,
        "model": row.model,
        "meter": row.meter,
        "cost": row.final_cents / 100,
        "preliminary_cost": row.preliminary_cents / 100,
    }


def _failed_sample(workload: Workload, parts: list[tuple[np.ndarray, ...]]) -> list[dict[str, Any]]:
    """Up to FAILED_SAMPLE_SIZE failures, spread evenly over statuses and over time."""
    if not parts:
        return []
    ts = np.concatenate([p[0] for p in parts])
    dep = np.concatenate([p[1] for p in parts])
    status = np.concatenate([p[2] for p in parts])
    apim = np.concatenate([p[3] for p in parts])
    rid = np.concatenate([p[4] for p in parts])
    dur = np.concatenate([p[5] for p in parts])
    codes = sorted(set(status.tolist()))
    if not codes:
        return []
    per_code = max(1, FAILED_SAMPLE_SIZE // len(codes))
    chosen: list[int] = []
    for code in codes:
        idx = np.flatnonzero(status == code)
        k = min(per_code, idx.size)
        picks = np.unique(np.linspace(0, idx.size - 1, k).round().astype(np.int64))
        chosen.extend(idx[picks].tolist())
    chosen.sort(key=lambda i: (int(ts[i]), int(dep[i])))
    sample = []
    for i in chosen:
        d = workload.deployments[int(dep[i])]
        sample.append(
            {
                "apim_request_id": guid_of(apim[i]),
                "request_id": request_id_of(rid[i]),
                "deployment": d.name,
                "resource": d.resource_id,
                "status": int(status[i]),
                "time": iso(from_ms(int(ts[i]))),
                "duration_ms": int(dur[i]),
            }
        )
    return sample


def truth_json(workload: Workload, until: datetime | None = None) -> str:
    """The truth serialised deterministically (same seed and end: same bytes)."""
    return json.dumps(build_truth(workload, until), indent=1, sort_keys=False) + "\n"
