"""``foundry-monitor headroom``: how close each Claude quota pool is to its limits (issue 17).

A thin shell over :func:`collector.store.queries.headroom.pool_headroom`; errors are raised and
printed as one line by ``main()`` in :mod:`collector.cli.app`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from collector.cli.context import cli_context
from collector.cli.read import AsJsonList, Since, Until, _dumps, window
from collector.headroom import DeploymentHeadroom, PoolHeadroom
from collector.quota_limits import LIMITS
from collector.store.queries.headroom import pool_headroom
from collector.text import terminal, terminal_markup_free


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_json(d: DeploymentHeadroom) -> dict[str, Any]:
    """One deployment of a pool in ``headroom --json``."""
    return {
        "resource": d.resource,
        "deployment": d.deployment,
        "region": d.region,
        "sku": d.sku,
        "capacity": d.capacity,
        "limit_rpm": d.limit_rpm,
        "limit_tpm": d.limit_tpm,
        "peak_rpm": d.peak_rpm,
        "peak_rpm_minute": _iso(d.peak_rpm_at),
        "peak_tpm": d.peak_tpm,
        "peak_tpm_minute": _iso(d.peak_tpm_at),
        "status_429": d.status_429,
        "throttled_minutes": d.throttled_minutes,
    }


def pool_json(p: PoolHeadroom) -> dict[str, Any]:
    """One pool in ``headroom --json`` (the fields issue 17 lists, and more)."""
    out: dict[str, Any] = {
        "pool": p.key.label,
        "subscription_id": p.key.subscription_id,
        "model": p.key.model,
        "model_version": p.key.model_version or None,
        "kind": p.key.kind,
        "zone": p.key.zone or None,
        "offer": p.limits.offer,
        "limit_source": p.limits.source,
        "limit_sources": dict(p.limits.sources),
        "note": p.limits.note,
    }
    for limit in LIMITS:
        h = p.by_limit[limit]
        out[f"limit_{limit}"] = h.value
    for limit in LIMITS:
        h = p.by_limit[limit]
        out[f"peak_{limit}"] = h.peak
        out[f"peak_{limit}_minute"] = _iso(h.peak_at)
        out[f"p99_{limit}"] = h.p99
        out[f"utilization_{limit}"] = h.utilization
        out[f"minutes_over_80_{limit}"] = h.minutes_over_80
        out[f"minutes_at_100_{limit}"] = h.minutes_at_100
        out[f"remaining_{limit}"] = h.remaining
        out[f"forecast_{limit}"] = h.forecast
    out.update(
        {
            "minutes_over_80": p.minutes_over_80,
            "binding_limit": p.binding_limit,
            "status_429": p.status_429,
            "throttled_minutes": p.throttled_minutes,
            "throttle_levels": dict(p.throttle_levels),
            "binding_level": p.binding_level,
            "quota_allocated_ktpm": p.quota_allocated,
            "quota_limit_ktpm": p.quota_limit,
            "usage_name": p.usage_name,
            "last_complete_minute": _iso(p.last_complete_minute),
            "headers": p.headers(),
            "deployments": [deployment_json(d) for d in p.deployments],
        }
    )
    return out


def _num(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def headroom_table(pools: list[PoolHeadroom], since: datetime, until: datetime) -> Table:
    """The rich table ``headroom`` prints: one row per pool and limit."""
    table = Table(
        title=f"Quota pools, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC",
        caption="usage per minute summed over the pool's deployments: accepted requests, "
        "uncached input + cache writes, output; * binding limit",
    )
    for name in ("pool", "limit"):
        table.add_column(name, no_wrap=True)
    for name in ("limit/min", "peak", "peak at", "p99", ">=80% min", "left now", "forecast"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for p in pools:
        for i, limit in enumerate(LIMITS):
            h = p.by_limit[limit]
            mark = "*" if p.binding_limit == limit else ""
            table.add_row(
                terminal(p.key.label) if i == 0 else "",
                f"{limit.upper()}{mark}",
                _num(h.value),
                f"{h.peak:,}" + ("" if h.utilization is None else f" ({h.utilization:.0%})"),
                _iso(h.peak_at) or "-",
                f"{h.p99:,}",
                f"{h.minutes_over_80:,}",
                _num(h.remaining),
                h.forecast or "-",
                p.limits.sources[limit],
            )
    return table


def headroom_cmd(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    as_json: AsJsonList = False,
) -> None:
    """Headroom per Claude quota pool: peaks against RPM, ITPM and OTPM limits.

    A pool is one subscription's model and version, Global Standard (all regions) or Data Zone
    Standard (per data zone). Usage per minute is summed over the pool's deployments. Limits
    are the shipped defaults of the subscription's offer unless FOUNDRY_MONITOR_QUOTA_LIMITS
    sets the granted ones ("limit unknown" when neither knows the model). --json gives one
    object per pool with its deployments and a "headers" object shaped like Anthropic's
    anthropic-ratelimit-* headers for the last complete minute.

    Example: foundry-monitor headroom --since 2026-11-01 --until 2026-11-02 --json
    """
    start, end = window(since, until)
    context = cli_context(ctx)
    settings = context.settings()
    with context.store() as engine:
        pools = pool_headroom(engine, start, end, settings.quota)
    if as_json:
        typer.echo(_dumps([pool_json(p) for p in pools]))
        return
    if not pools:
        typer.echo("no Claude deployments stored (has the collector run? try: foundry-monitor run)")
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=250)
    console.print(headroom_table(pools, start, end))
    for p in pools:  # on stderr: the table stays the only thing on stdout
        if p.limits.note:
            typer.echo(f"note: {terminal_markup_free(p.key.label)}: {p.limits.note}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``headroom`` to ``app``."""
    app.command("headroom")(headroom_cmd)
