"""Headroom arithmetic per quota pool (pure, issue 17): peaks, p99, minutes near the limit, the
binding limit, what is left in the last complete minute, when the daily peak reaches the limit,
and which level (pool or deployment) a 429 minute points at.

Inputs are per-minute usage series (epoch minutes and values, minutes without traffic absent,
so they count as 0) and the limits of :mod:`collector.quota_limits`; a limit that is not known
(``None``) gives no utilization, no remaining and no forecast, never a division by zero.
Readers get these through :mod:`collector.store.queries.headroom`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from collector.pools import PoolKey
from collector.quota_limits import LIMITS, PoolLimits

NEAR = 0.8  # "minutes at or above 80 %"
FORECAST_DAYS = 30
NOT_WITHIN = f"not within {FORECAST_DAYS} days"
REACHED = "reached"
#: a 429 minute points at a level whose usage reached this share of its limit that minute (a
#: limit may be enforced over less than a minute: a throttled minute can end below it)
LEVEL_SHARE = 0.75
LEVEL_POOL, LEVEL_DEPLOYMENT, LEVEL_BOTH, LEVEL_UNEXPLAINED = (
    "pool",
    "deployment",
    "both",
    "unexplained",
)
#: Anthropic's rate-limit header names (``anthropic-ratelimit-`` prefix left out) per limit.
HEADER_NAMES = {"rpm": "requests", "itpm": "input-tokens", "otpm": "output-tokens"}


def minute_dt(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


@dataclass(frozen=True)
class LimitHeadroom:
    """One limit of one pool over the window."""

    limit: str  # rpm, itpm or otpm
    value: int | None  # the limit; None: unknown
    peak: int
    peak_at: datetime | None
    p99: int
    minutes_over_80: int
    minutes_at_100: int
    last_minute: int  # usage in the last complete minute
    remaining: int | None  # limit - usage in the last complete minute (0 when over)
    forecast: str | None  # ISO day the daily peak reaches the limit, NOT_WITHIN, REACHED

    @property
    def utilization(self) -> float | None:
        """Peak / limit (None when the limit is unknown)."""
        return self.peak / self.value if self.value else None


@dataclass(frozen=True)
class PoolDeployment:
    """A deployment of a pool: where it runs and its ARM capacity."""

    deployment_id: int
    resource: str
    deployment: str
    region: str
    sku: str | None
    capacity: int | None


@dataclass(frozen=True)
class DeploymentHeadroom(PoolDeployment):
    """A deployment of a pool: its own limits from ARM capacity, its peaks, its 429s."""

    limit_rpm: float | None
    limit_tpm: int | None
    peak_rpm: int
    peak_rpm_at: datetime | None
    peak_tpm: int  # uncached input + cache writes + output in one minute
    peak_tpm_at: datetime | None
    status_429: int
    throttled_minutes: int


@dataclass(frozen=True)
class PoolHeadroom:
    """One quota pool's headroom over a window."""

    key: PoolKey
    limits: PoolLimits
    by_limit: dict[str, LimitHeadroom]
    binding_limit: str | None
    minutes_over_80: int  # minutes in which any limit was at or above 80 %
    status_429: int
    throttled_minutes: int
    throttle_levels: dict[str, int]  # 429 minutes per level (pool, deployment, both, ...)
    last_complete_minute: datetime | None
    deployments: list[DeploymentHeadroom] = field(default_factory=list)
    #: ARM's usages list for the pool (thousands of tokens per minute): capacity allocated to
    #: its deployments and the subscription's quota; None when not collected
    quota_allocated: float | None = None
    quota_limit: float | None = None
    usage_name: str | None = None

    @property
    def binding_level(self) -> str | None:
        """The level most of the pool's explained 429 minutes point at (pool, deployment or
        both); ``unexplained`` when none is explained; None without 429s or levels."""
        counted = {k: v for k, v in self.throttle_levels.items() if v and k != LEVEL_UNEXPLAINED}
        if counted:
            return max(counted, key=lambda k: (counted[k], k))
        return LEVEL_UNEXPLAINED if self.throttle_levels.get(LEVEL_UNEXPLAINED) else None

    def headers(self) -> dict[str, str | int | None]:
        """The last complete minute in the shape of Anthropic's ``anthropic-ratelimit-*``
        headers (prefix left out); ``reset`` is when the minute after it ends (RFC 3339)."""
        out: dict[str, str | int | None] = {}
        for limit, name in HEADER_NAMES.items():
            h = self.by_limit[limit]
            out[f"{name}-limit"] = h.value
            out[f"{name}-remaining"] = h.remaining
        reset = (
            None
            if self.last_complete_minute is None
            else (self.last_complete_minute + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        out["reset"] = reset
        return out


def peak(minutes: np.ndarray, values: np.ndarray) -> tuple[int, datetime | None]:
    """The largest minute and when (the earliest on a tie); (0, None) without traffic."""
    if values.size == 0:
        return 0, None
    best = values.max()
    at = int(minutes[values == best].min())
    return round(float(best)), minute_dt(at)


def p99(values: np.ndarray, window_minutes: int) -> int:
    """Nearest-rank 99th percentile over every minute of the window (absent minutes are 0)."""
    n = max(window_minutes, int(values.size))
    if n == 0:
        return 0
    rank = math.ceil(0.99 * n)
    zeros = n - int(values.size)
    if rank <= zeros:
        return 0
    ordered = np.sort(values)
    return round(float(ordered[rank - zeros - 1]))


def daily_peaks(minutes: np.ndarray, values: np.ndarray) -> list[tuple[date, int]]:
    """The peak minute of each UTC day with traffic."""
    if values.size == 0:
        return []
    days = minutes // 1440
    out = []
    for day in np.unique(days):
        out.append((minute_dt(int(day) * 1440).date(), round(float(values[days == day].max()))))
    return out


def forecast(peaks: Sequence[tuple[date, int]], limit: int | None, today: date) -> str | None:
    """When the daily peak reaches ``limit`` at the current linear trend (least squares over
    the last 14 days with traffic): an ISO day, :data:`REACHED` when the last day's peak or the
    trend today is already there, else :data:`NOT_WITHIN`; None when the limit is unknown."""
    if not limit:
        return None
    recent = list(peaks)[-14:]
    if not recent:
        return NOT_WITHIN
    if recent[-1][1] >= limit:
        return REACHED
    if len(recent) < 2:
        return NOT_WITHIN
    x = np.array([d.toordinal() for d, _ in recent], float)
    y = np.array([v for _, v in recent], float)
    slope, intercept = np.polyfit(x, y, 1)
    if slope * today.toordinal() + intercept >= limit:
        return REACHED  # the trend is above it already (a quiet last day does not hide that)
    if slope <= 0:
        return NOT_WITHIN
    day = math.ceil((limit - intercept) / slope)
    if day <= today.toordinal():
        return REACHED
    if day - today.toordinal() > FORECAST_DAYS:
        return NOT_WITHIN
    return date.fromordinal(day).isoformat()


def limit_headroom(
    limit: str,
    value: int | None,
    minutes: np.ndarray,
    values: np.ndarray,
    window_minutes: int,
    last_minute: int | None,
    today: date,
) -> LimitHeadroom:
    """Every figure of one limit of one pool, from its minute series (the reference the SQL
    aggregates of :mod:`collector.store.queries.pool_stats` are tested against)."""
    top, at = peak(minutes, values)
    used = round(float(values[minutes == last_minute].sum())) if last_minute is not None else 0
    over = at_100 = 0
    if value:
        over = int((values >= NEAR * value).sum())
        at_100 = int((values >= value).sum())
    return limit_figures(
        limit,
        value,
        top,
        at,
        p99(values, window_minutes),
        over,
        at_100,
        used,
        daily_peaks(minutes, values),
        today,
    )


def limit_figures(
    limit: str,
    value: int | None,
    top: int,
    at: datetime | None,
    p99_value: int,
    over_80: int,
    at_100: int,
    last_used: int,
    daily: Sequence[tuple[date, int]],
    today: date,
) -> LimitHeadroom:
    """A :class:`LimitHeadroom` from its aggregates: remaining and forecast worked out here."""
    return LimitHeadroom(
        limit=limit,
        value=value,
        peak=top,
        peak_at=at,
        p99=p99_value,
        minutes_over_80=over_80 if value else 0,
        minutes_at_100=at_100 if value else 0,
        last_minute=last_used,
        remaining=None if value is None else max(0, value - last_used),
        forecast=forecast(daily, value, today),
    )


def binding_limit(by_limit: dict[str, LimitHeadroom]) -> str | None:
    """The limit closest to its ceiling at peak (rpm, itpm, otpm order on a tie)."""
    known = [(h.utilization, -LIMITS.index(k), k) for k, h in by_limit.items() if h.value]
    return max(known)[2] if known else None


def minutes_over(
    minutes: np.ndarray, series: dict[str, np.ndarray], limits: PoolLimits, share: float = NEAR
) -> int:
    """Minutes in which any known limit was at or above ``share`` of it."""
    hit = np.zeros(minutes.shape, bool)
    for limit in LIMITS:
        value = limits.get(limit)
        if value:
            hit |= series[limit] >= share * value
    return int(hit.sum())


def throttle_level(pool_near: bool, deployment_near: bool) -> str:
    """The level a 429 minute points at, from whether the pool's usage and the throttled
    deployment's usage reached :data:`LEVEL_SHARE` of their limits that minute."""
    if pool_near and deployment_near:
        return LEVEL_BOTH
    if pool_near:
        return LEVEL_POOL
    if deployment_near:
        return LEVEL_DEPLOYMENT
    return LEVEL_UNEXPLAINED
