"""The simulated workload: every request of every deployment, a pure function of (seed, time).

Requests are generated lazily per (quota pool, UTC hour) *chunk*: each deployment of the pool
draws its own requests from a generator seeded with (seed, deployment id, hour). Throttling has
two levels (issue 17). First each deployment's own capacity (ARM ``sku.capacity``, thousands of
tokens per minute, and ``capacity x requests_per_unit`` requests per minute): the share of a
minute's demand above it gets 429 (level *deployment*). The tokens a deployment's capacity counts
are uncached input + cache writes + output: the emulator's assumption, Azure does not document
it for Claude. Then the pool (:class:`collector.pools.PoolKey`: subscription, model, version,
kind, zone): the demand that passed its deployments is compared with the pool's RPM, ITPM
(uncached input + cache writes, cache reads excluded) and OTPM, and the excess share gets 429 on
every deployment of the pool (level *pool*). Nothing depends on the window being served, so any
hour can be produced on its own and always comes out the same.

Per-minute *atoms* (minute x context class x deployment x status x stream type: counts, token
sums, latency sums/min/max) are cached per UTC day; metrics answers, costs and the truth are built
from them.

Anthropic requests carry prompt-cache tokens: cache reads and cache writes, each write with a
5-minute or (about 20 % of writing requests) a 1-hour TTL; a small share of Sonnet requests (1M
context window) send prompts above 200k tokens (context class 1, ``">200K"``). Requests of
non-Anthropic models (``gpt-4o-mini``) have no cache tokens and no quota pool shared with Claude.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Self

import numpy as np

from collector.emulator.catalog import (
    LONG_CONTEXT_TOKENS,
    MODELS,
    AccountSpec,
    Catalog,
    DeploymentSpec,
    ModelSpec,
    QuotaPool,
    default_catalog,
)
from collector.pools import PoolKey

MINUTE_MS = 60_000
#: ``Requests.throttle``: not throttled, throttled by its deployment's capacity, by its pool
THROTTLE_NONE, THROTTLE_DEPLOYMENT, THROTTLE_POOL = 0, 1, 2
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Rare errors (probability per request that was not throttled), in this order.
ERROR_STATUSES: tuple[int, ...] = (400, 401, 403, 404, 408, 500, 529)
ERROR_RATES: tuple[float, ...] = (0.004, 0.0004, 0.0003, 0.0003, 0.0004, 0.0008, 0.0012)
CALLER_IPS: tuple[str, ...] = tuple(f"10.20.{i // 4}.{10 + 7 * i}" for i in range(12))
STREAMING_SHARE = 0.7
MAX_PROMPT_TOKENS = 195_000  # ordinary requests stay below the 200k long-context threshold
ONE_HOUR_WRITE_SHARE = 0.2  # of the requests that write the cache, those using the 1-hour TTL
# Of the requests to a model with a >200k window, those whose prompt is above 200k. Such a request
# is billed at the long-context rates for all its tokens, but only the cache metrics carry a
# ContextLength: the surcharge on its uncached input and output is invisible to an estimate from
# Azure Monitor (docs/architecture.md, "Cost model"). At 1 % it put Sonnet's estimate 0.5 % below
# its true cost; at 0.5 % about 0.25 %.
LONG_CONTEXT_SHARE = 0.005
LONG_PROMPT_MAX = 900_000


def stable_hash(*parts: object) -> int:
    """A 32-bit hash of the parts that does not change between processes (unlike hash())."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


def to_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def floor_minute(moment: datetime) -> datetime:
    """The start of ``moment``'s minute (UTC), in the emulator's epoch milliseconds."""
    return from_ms(to_ms(moment) // MINUTE_MS * MINUTE_MS)


@dataclass(frozen=True)
class Deployment:
    """A deployment with traffic (Claude, or another model) and its place in the workload."""

    index: int
    account: AccountSpec
    spec: DeploymentSpec
    model: ModelSpec
    resource_index: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        """The deployment's model version (its own, else the model's default)."""
        return self.spec.model_version()

    @property
    def resource_id(self) -> str:
        return self.account.id

    @property
    def region(self) -> str:
        return self.account.location

    @property
    def pool(self) -> PoolKey:
        """The quota pool the deployment draws from."""
        return self.spec.pool(self.account)

    def capacity_limits(self, at_ms: int) -> tuple[float, float]:
        """(requests, tokens) per minute its ARM capacity allows at ``at_ms``."""
        capacity = self.spec.capacity_at(from_ms(at_ms))
        return capacity * self.model.requests_per_unit, capacity * 1000.0


@dataclass
class _Columns:
    """A struct of arrays: every field an array with one element per row, the first field's
    length the number of rows."""

    def __len__(self) -> int:
        return int(getattr(self, fields(self)[0].name).shape[0])

    def take(self, index: np.ndarray) -> Self:
        """The rows at ``index``, in its order."""
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def _joined(cls, parts: list[Self]) -> Self:
        if len(parts) == 1:
            return parts[0]
        return replace(
            parts[0],
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)},
        )


@dataclass
class Requests(_Columns):
    """Struct of arrays, one element per request, sorted by (time, deployment)."""

    ts_ms: np.ndarray  # int64 epoch ms
    dep: np.ndarray  # int16 global deployment index
    status: np.ndarray  # int16 HTTP status
    input_tokens: np.ndarray  # int32, 0 unless 200
    output_tokens: np.ndarray
    cache_write_tokens: np.ndarray  # 5-minute + 1-hour cache writes
    cache_read_tokens: np.ndarray
    duration_ms: np.ndarray  # int32
    stream: np.ndarray  # int8 index into STREAM_TYPES
    caller: np.ndarray  # int8 index into CALLER_IPS
    request_bytes: np.ndarray  # int32
    response_bytes: np.ndarray  # int32
    log_lag_ms: np.ndarray  # int32 ingestion delay of the log row
    apim_id: np.ndarray  # uint64 (n, 2)
    request_id: np.ndarray  # uint64 (n, 2)
    cache_write_5m_tokens: np.ndarray  # int32, 0 unless 200
    cache_write_1h_tokens: np.ndarray  # int32, 0 unless 200
    ttft_ms: np.ndarray  # int32 time to first token, below duration_ms; 0 unless 200
    context: np.ndarray  # int8 index into CONTEXT_LENGTHS (whole prompt <= or > 200k tokens)
    #: int8 THROTTLE_NONE / THROTTLE_DEPLOYMENT / THROTTLE_POOL: which limit gave the 429
    throttle: np.ndarray

    @staticmethod
    def concat(parts: list[Requests]) -> Requests:
        return Requests._joined(parts) if parts else Requests.empty()

    @staticmethod
    def empty() -> Requests:
        z32 = np.zeros(0, np.int32)
        return Requests(
            ts_ms=np.zeros(0, np.int64),
            dep=np.zeros(0, np.int16),
            status=np.zeros(0, np.int16),
            input_tokens=z32,
            output_tokens=z32,
            cache_write_tokens=z32,
            cache_read_tokens=z32,
            duration_ms=z32,
            stream=np.zeros(0, np.int8),
            caller=np.zeros(0, np.int8),
            request_bytes=z32,
            response_bytes=z32,
            log_lag_ms=z32,
            apim_id=np.zeros((0, 2), np.uint64),
            request_id=np.zeros((0, 2), np.uint64),
            cache_write_5m_tokens=z32,
            cache_write_1h_tokens=z32,
            ttft_ms=z32,
            context=np.zeros(0, np.int8),
            throttle=np.zeros(0, np.int8),
        )


@dataclass
class Atoms(_Columns):
    """Per (minute, context class, deployment, status, stream type) aggregates, sorted by those
    keys. Token and latency aggregates cover successful requests only (zero otherwise)."""

    minute: np.ndarray  # int64 epoch minute
    dep: np.ndarray
    status: np.ndarray
    stream: np.ndarray
    context: np.ndarray  # int8 index into CONTEXT_LENGTHS
    count: np.ndarray  # requests
    input_sum: np.ndarray  # successful requests only (zero otherwise)
    input_min: np.ndarray
    input_max: np.ndarray
    output_sum: np.ndarray
    output_min: np.ndarray
    output_max: np.ndarray
    total_sum: np.ndarray
    total_min: np.ndarray
    total_max: np.ndarray
    duration_sum: np.ndarray
    duration_min: np.ndarray
    duration_max: np.ndarray
    cache_write_sum: np.ndarray
    cache_read_sum: np.ndarray
    cache_write_5m_sum: np.ndarray
    cache_write_1h_sum: np.ndarray
    ttft_sum: np.ndarray
    ttft_min: np.ndarray
    ttft_max: np.ndarray

    @staticmethod
    def concat(parts: list[Atoms]) -> Atoms:
        return Atoms._joined(parts)


class AtomView:
    """A lazy selection of atoms: a field is gathered only when read (queries read few)."""

    def __init__(self, base: Atoms, index: np.ndarray | None = None) -> None:
        self._base = base
        self._index = np.arange(len(base)) if index is None else index
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._cache.get(name)
        if value is None:
            value = getattr(self._base, name)[self._index]
            self._cache[name] = value
        return value

    def __len__(self) -> int:
        return int(self._index.shape[0])

    def take(self, index: np.ndarray | slice) -> AtomView:
        view = AtomView(self._base, self._index[index])
        for name, value in self._cache.items():
            view._cache[name] = value[index]
        return view


def atoms_of(req: Requests) -> Atoms:
    """Aggregate requests into per-minute atoms (vectorised)."""
    minute = req.ts_ms // MINUTE_MS
    key = (
        (minute.astype(np.int64) << 25)
        | (req.context.astype(np.int64) << 24)
        | (req.dep.astype(np.int64) << 12)
        | (req.status.astype(np.int64) << 2)
        | req.stream.astype(np.int64)
    )
    order = np.argsort(key, kind="stable")
    key = key[order]
    if key.size == 0:
        starts = np.zeros(0, np.int64)
    else:
        starts = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
    inp = req.input_tokens[order].astype(np.int64)
    out = req.output_tokens[order].astype(np.int64)
    tot = inp + out
    dur = req.duration_ms[order].astype(np.int64)
    cw = req.cache_write_tokens[order].astype(np.int64)
    cr = req.cache_read_tokens[order].astype(np.int64)
    cw5 = req.cache_write_5m_tokens[order].astype(np.int64)
    cw1 = req.cache_write_1h_tokens[order].astype(np.int64)
    ttft = req.ttft_ms[order].astype(np.int64)

    def red(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        if starts.size == 0:
            return np.zeros(0, np.int64)
        return ufunc.reduceat(values, starts)

    counts = np.diff(np.concatenate((starts, [key.size]))) if starts.size else np.zeros(0, np.int64)
    head = key[starts] if starts.size else key
    return Atoms(
        minute=head >> 25,
        dep=((head >> 12) & 0xFFF).astype(np.int16),
        status=((head >> 2) & 0x3FF).astype(np.int16),
        stream=(head & 0x3).astype(np.int8),
        context=((head >> 24) & 0x1).astype(np.int8),
        count=counts.astype(np.int64),
        input_sum=red(np.add, inp),
        input_min=red(np.minimum, inp),
        input_max=red(np.maximum, inp),
        output_sum=red(np.add, out),
        output_min=red(np.minimum, out),
        output_max=red(np.maximum, out),
        total_sum=red(np.add, tot),
        total_min=red(np.minimum, tot),
        total_max=red(np.maximum, tot),
        duration_sum=red(np.add, dur),
        duration_min=red(np.minimum, dur),
        duration_max=red(np.maximum, dur),
        cache_write_sum=red(np.add, cw),
        cache_read_sum=red(np.add, cr),
        cache_write_5m_sum=red(np.add, cw5),
        cache_write_1h_sum=red(np.add, cw1),
        ttft_sum=red(np.add, ttft),
        ttft_min=red(np.minimum, ttft),
        ttft_max=red(np.maximum, ttft),
    )


def _excess(demands: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Per minute, the share of demand above the tightest of the (demand, limit) pairs."""
    allowed = np.ones(60)
    with np.errstate(divide="ignore", invalid="ignore"):
        for demand, limit in demands:
            allowed = np.minimum(allowed, np.where(demand > 0, limit / demand, 1.0))
    return np.clip(1.0 - allowed, 0.0, 1.0)


def diurnal(hour_of_day: np.ndarray) -> np.ndarray:
    """Traffic multiplier by UTC hour (mean ~1 over a day, peak ~2.5 at 14:30)."""
    return 0.35 + 2.2 * np.exp(-(((hour_of_day - 14.5) / 4.0) ** 2))


def weekday_factor(day: datetime) -> float:
    return 0.45 if day.weekday() >= 5 else 1.0


@dataclass(frozen=True)
class WorkloadConfig:
    """Seed and time range of a workload.

    ``end`` pins the end of traffic (exclusive, rounded down to the minute); ``None`` is live
    mode: traffic keeps flowing with the wall clock. History starts ``days`` before ``end`` (or
    before the moment the workload is created, in live mode).
    """

    seed: int = 1
    days: float = 30.0
    end: datetime | None = None
    catalog: Catalog | None = None
    start: datetime | None = field(default=None)  # computed when omitted

    def resolved(self) -> WorkloadConfig:
        end = floor_minute(self.end) if self.end is not None else None
        anchor = end or floor_minute(datetime.now(UTC))
        start = floor_minute(self.start) if self.start else anchor - timedelta(days=self.days)
        catalog = self.catalog
        if catalog is None:
            change = (anchor - timedelta(days=min(3.0, self.days / 2))).replace(
                minute=0, second=0, microsecond=0
            )
            catalog = default_catalog(change_at=change)
        return WorkloadConfig(seed=self.seed, days=self.days, end=end, catalog=catalog, start=start)


class Workload:
    """Lazily generated, cached requests and per-minute aggregates of a workload."""

    def __init__(self, config: WorkloadConfig, *, chunk_cache: int = 256) -> None:
        self.config = config.resolved()
        assert self.config.catalog is not None and self.config.start is not None
        self.catalog: Catalog = self.config.catalog
        self.seed = self.config.seed
        self.start: datetime = self.config.start
        self.end: datetime | None = self.config.end
        self.start_ms = to_ms(self.start)
        self.end_ms: int | None = to_ms(self.end) if self.end else None
        self.accounts = list(self.catalog.accounts)
        self.resources = self.catalog.claude_accounts
        self.deployments: list[Deployment] = []
        for r_index, account in enumerate(self.resources):
            for spec in account.deployments:
                self.deployments.append(
                    Deployment(len(self.deployments), account, spec, MODELS[spec.model], r_index)
                )
        pools: dict[PoolKey, list[int]] = {}
        for dep in self.deployments:
            pools.setdefault(dep.pool, []).append(dep.index)
        self.pools: list[tuple[PoolKey, list[int]]] = sorted(pools.items())
        self.dep_resource = np.array([d.resource_index for d in self.deployments], np.int16)
        self._chunks: OrderedDict[tuple[int, int], Requests] = OrderedDict()
        self._chunk_cache = chunk_cache
        self._days: dict[int, Atoms] = {}
        self._ranges: dict[tuple[int, int], Atoms] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- generation
    def _quota(self, pool_key: PoolKey) -> QuotaPool | None:
        return self.catalog.pools.get(pool_key)

    def _deployment_hour(self, dep: Deployment, hour: int, burst: np.ndarray) -> dict:
        rng = np.random.default_rng([self.seed, stable_hash(dep.resource_id, dep.name), hour])
        hour_start = datetime.fromtimestamp(hour * 3600, tz=UTC)
        hod = hour_start.hour + (np.arange(60) + 0.5) / 60.0
        lam = dep.spec.rpm * diurnal(hod) * weekday_factor(hour_start) * burst
        per_minute = rng.poisson(lam)
        n = int(per_minute.sum())
        minute = np.repeat(np.arange(60, dtype=np.int64), per_minute)
        offset = rng.integers(0, MINUTE_MS, n)
        ts = hour * HOUR_MS + minute * MINUTE_MS + offset
        model = dep.model
        inp = np.clip(rng.lognormal(np.log(model.input_median), 1.0, n), 1, 150_000).astype(
            np.int64
        )
        has_write = rng.random(n) < 0.18
        cw = np.where(has_write, np.clip(rng.lognormal(np.log(2500), 0.8, n), 1, 20_000), 0)
        cw = cw.astype(np.int64)
        has_read = rng.random(n) < 0.55
        cr = np.where(has_read, rng.lognormal(np.log(6000), 0.9, n), 0).astype(np.int64)
        cr = np.minimum(cr, MAX_PROMPT_TOKENS - inp - cw)
        out = np.clip(rng.lognormal(np.log(model.output_median), 0.9, n), 1, 32_000)
        out = out.astype(np.int64)
        ttft = model.ttft_ms * rng.lognormal(0.0, 0.35, n)
        speed = model.tokens_per_s * rng.lognormal(0.0, 0.2, n)
        ttlb = np.maximum(1, np.rint(ttft + out / speed * 1000.0)).astype(np.int64)
        ttft_ms = np.maximum(0, np.minimum(np.rint(ttft).astype(np.int64), ttlb - 1))
        # Drawn after every older draw, so the older values stay what they were.
        one_hour = rng.random(n) < ONE_HOUR_WRITE_SHARE
        long_draw = rng.random(n) < LONG_CONTEXT_SHARE
        long_prompt = rng.integers(LONG_CONTEXT_TOKENS + 1, LONG_PROMPT_MAX + 1, n)
        if not model.anthropic:
            cw = np.zeros_like(cw)
            cr = np.zeros_like(cr)
        elif model.context_window > LONG_CONTEXT_TOKENS:
            # A long prompt: its cache reads fill it up (the large, reused part of a prompt).
            cr = np.where(long_draw, long_prompt - inp - cw, cr)
        cw1h = np.where(one_hour, cw, 0)
        context = (inp + cw + cr > LONG_CONTEXT_TOKENS).astype(np.int8)
        return {
            "ts": ts,
            "minute": minute,
            "inp": inp,
            "cw": cw,
            "cw1h": cw1h,
            "cr": cr,
            "out": out,
            "ttlb": ttlb,
            "ttft": ttft_ms,
            "context": context,
            "stream": (rng.random(n) >= STREAMING_SHARE).astype(np.int8),
            "caller": rng.integers(0, len(CALLER_IPS), n).astype(np.int8),
            "u_quota": rng.random(n),
            "u_error": rng.random(n),
            "u_latency": rng.random(n),
            "log_lag": rng.integers(120_000, 300_001, n).astype(np.int32),
            "ids": rng.integers(0, np.iinfo(np.uint64).max, (n, 4), dtype=np.uint64, endpoint=True),
            "dep": np.full(n, dep.index, np.int16),
        }

    def _generate_chunk(self, pool_index: int, hour: int) -> Requests:
        pool_key, members = self.pools[pool_index]
        prng = np.random.default_rng([self.seed, stable_hash("pool", *pool_key), hour])
        burst = np.ones(60)
        if prng.random() < 0.12:
            first = int(prng.integers(0, 60))
            burst[first : first + int(prng.integers(5, 21))] = float(prng.uniform(2.0, 3.2))
        parts = [self._deployment_hour(self.deployments[i], hour, burst) for i in members]
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        minute = cat["minute"]
        u = cat["u_quota"]
        # Level 1, each deployment's capacity: the share of its minute's demand above it.
        dep_excess = np.zeros(minute.shape)
        for i in members:
            mine = cat["dep"] == i
            if not mine.any():
                continue
            m = minute[mine]
            cap_r, cap_t = self.deployments[i].capacity_limits(hour * HOUR_MS)
            d_r = np.bincount(m, minlength=60).astype(float)
            d_t = np.bincount(m, weights=(cat["inp"] + cat["cw"] + cat["out"])[mine], minlength=60)
            dep_excess[mine] = _excess([(d_r, cap_r), (d_t, cap_t)])[m]
        by_deployment = u < dep_excess
        # Level 2, the pool: the demand that passed its deployments against the pool's limits.
        passed = ~by_deployment
        quota = self._quota(pool_key)
        if quota is None:
            pool_excess = np.zeros(60)
        else:
            m = minute[passed]
            pool_excess = _excess(
                [
                    (np.bincount(m, minlength=60).astype(float), quota.rpm),
                    (
                        np.bincount(m, weights=(cat["inp"] + cat["cw"])[passed], minlength=60),
                        quota.input_tpm,
                    ),
                    (np.bincount(m, weights=cat["out"][passed], minlength=60), quota.output_tpm),
                ]
            )
        # one uniform decides both levels: below dep_excess the deployment refuses; of the rest,
        # the pool refuses the share pool_excess
        by_pool = passed & (u < dep_excess + (1.0 - dep_excess) * pool_excess[minute])
        throttled = by_deployment | by_pool
        level = np.where(
            by_deployment, THROTTLE_DEPLOYMENT, np.where(by_pool, THROTTLE_POOL, THROTTLE_NONE)
        ).astype(np.int8)
        status = np.full(minute.shape, 200, np.int16)
        edges = np.cumsum(ERROR_RATES)
        err_index = np.searchsorted(edges, cat["u_error"], side="right")
        errored = err_index < len(ERROR_STATUSES)
        status[errored] = np.asarray(ERROR_STATUSES, np.int16)[err_index[errored]]
        status[throttled] = 429
        ok = status == 200
        lat = cat["u_latency"]
        duration = np.where(ok, cat["ttlb"], 0)
        for code, low, span in (
            (429, 3, 27),
            (400, 8, 60),
            (401, 5, 20),
            (403, 6, 25),
            (404, 6, 25),
            (408, 30_000, 30_000),
            (500, 200, 4_800),
            (529, 40, 400),
        ):
            sel = status == code
            duration = np.where(sel, (low + span * lat).astype(np.int64), duration)
        zero = np.zeros_like(cat["inp"])
        inp = np.where(ok, cat["inp"], zero)
        out = np.where(ok, cat["out"], zero)
        cw = np.where(ok, cat["cw"], zero)
        cr = np.where(ok, cat["cr"], zero)
        cw1h = np.where(ok, cat["cw1h"], zero)
        ttft = np.where(ok, cat["ttft"], zero)
        prompt = cat["inp"] + cat["cw"] + cat["cr"]
        request_bytes = prompt * 4 + 300
        response_bytes = np.where(
            ok,
            np.where(cat["stream"] == 0, cat["out"] * 6 + 600, cat["out"] * 4 + 350),
            180 + (lat * 80).astype(np.int64),
        )
        ts = cat["ts"]
        keep = ts >= self.start_ms
        if self.end_ms is not None:
            keep &= ts < self.end_ms
        order = np.lexsort((cat["dep"], ts))
        order = order[keep[order]]
        ids = cat["ids"]
        return Requests(
            ts_ms=ts[order].astype(np.int64),
            dep=cat["dep"][order],
            status=status[order],
            input_tokens=inp[order].astype(np.int32),
            output_tokens=out[order].astype(np.int32),
            cache_write_tokens=cw[order].astype(np.int32),
            cache_read_tokens=cr[order].astype(np.int32),
            duration_ms=duration[order].astype(np.int32),
            stream=cat["stream"][order],
            caller=cat["caller"][order],
            request_bytes=request_bytes[order].astype(np.int32),
            response_bytes=response_bytes[order].astype(np.int32),
            log_lag_ms=cat["log_lag"][order],
            apim_id=ids[order, 0:2],
            request_id=ids[order, 2:4],
            cache_write_5m_tokens=(cw - cw1h)[order].astype(np.int32),
            cache_write_1h_tokens=cw1h[order].astype(np.int32),
            ttft_ms=ttft[order].astype(np.int32),
            context=cat["context"][order],
            throttle=level[order],
        )

    def chunk(self, pool_index: int, hour: int) -> Requests:
        """Every request of one quota pool in one UTC hour (epoch hour index)."""
        key = (pool_index, hour)
        with self._lock:
            cached = self._chunks.get(key)
            if cached is not None:
                self._chunks.move_to_end(key)
                return cached
        value = self._generate_chunk(pool_index, hour)
        with self._lock:
            self._chunks[key] = value
            while len(self._chunks) > self._chunk_cache:
                self._chunks.popitem(last=False)
        return value

    # ---------------------------------------------------------------- windows
    def traffic_end_ms(self, now: datetime) -> int:
        """Exclusive end of generated traffic as seen at ``now``."""
        now_ms = to_ms(now)
        return now_ms if self.end_ms is None else min(self.end_ms, max(now_ms, self.end_ms))

    def hours(self, start_ms: int, end_ms: int) -> Iterator[int]:
        first = max(start_ms, self.start_ms) // HOUR_MS
        last = (end_ms - 1) // HOUR_MS
        if self.end_ms is not None:
            last = min(last, (self.end_ms - 1) // HOUR_MS)
        yield from range(first, last + 1)

    def requests(self, start_ms: int, end_ms: int, pools: list[int] | None = None) -> Requests:
        """Every request with ``start_ms <= ts < end_ms`` (ordered by pool then time)."""
        parts: list[Requests] = []
        pool_indexes = range(len(self.pools)) if pools is None else pools
        for hour in self.hours(start_ms, end_ms):
            for p in pool_indexes:
                chunk = self.chunk(p, hour)
                if hour * HOUR_MS >= start_ms and (hour + 1) * HOUR_MS <= end_ms:
                    parts.append(chunk)
                else:
                    sel = (chunk.ts_ms >= start_ms) & (chunk.ts_ms < end_ms)
                    parts.append(chunk.take(np.flatnonzero(sel)))
        return Requests.concat(parts)

    def day_atoms(self, day: int) -> Atoms:
        """Per-minute atoms of one UTC day (epoch day index), cached."""
        with self._lock:
            cached = self._days.get(day)
        if cached is not None:
            return cached
        value = atoms_of(self.requests(day * DAY_MS, (day + 1) * DAY_MS))
        with self._lock:
            self._days[day] = value
        return value

    def atoms(self, start_ms: int, end_ms: int) -> Atoms:
        """Atoms of every minute in [start_ms, end_ms) (minute-aligned by the caller)."""
        first_day = max(start_ms, self.start_ms) // DAY_MS
        last_day = (end_ms - 1) // DAY_MS
        if self.end_ms is not None:
            last_day = min(last_day, (self.end_ms - 1) // DAY_MS)
        if last_day < first_day:
            return atoms_of(Requests.empty())
        key = (first_day, last_day)
        with self._lock:
            combined = self._ranges.get(key)
        if combined is None:
            combined = Atoms.concat([self.day_atoms(d) for d in range(first_day, last_day + 1)])
            with self._lock:
                if len(self._ranges) > 16:
                    self._ranges.clear()
                self._ranges[key] = combined
        lo = np.searchsorted(combined.minute, start_ms // MINUTE_MS, side="left")
        hi = np.searchsorted(combined.minute, (end_ms + MINUTE_MS - 1) // MINUTE_MS, side="left")
        return combined.take(slice(lo, hi))  # type: ignore[arg-type]  # views, no copy

    def metric_visible_ms(self, atoms: Atoms | AtomView) -> np.ndarray:
        """When each atom's minute becomes visible in Azure Monitor (1 to 3 minutes late)."""
        resource = self.dep_resource[atoms.dep].astype(np.int64)
        lag = 60_000 + (atoms.minute * 2_654_435_761 + resource * 97_531) % 120_001
        return (atoms.minute + 1) * MINUTE_MS + lag

    def days(self, until: datetime | None = None) -> list[int]:
        """Epoch day indexes with traffic, up to ``until`` (default: end or now)."""
        end_ms = self.end_ms if self.end_ms is not None else to_ms(until or datetime.now(UTC))
        if until is not None:
            end_ms = min(end_ms, to_ms(until))
        if end_ms <= self.start_ms:
            return []
        return list(range(self.start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1))

    def warm(self, until: datetime | None = None) -> None:
        """Generate and cache every day's atoms (benchmarks; the first query otherwise pays)."""
        for day in self.days(until):
            self.day_atoms(day)


# ------------------------------------------------------------------ identifiers
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def guid_of(pair: np.ndarray) -> str:
    """A lower-case version-4 GUID from two uint64 words."""
    value = (int(pair[0]) << 64) | int(pair[1])
    value &= ~(0xF << 76)
    value |= 0x4 << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    h = f"{value:032x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def request_id_of(pair: np.ndarray) -> str:
    """An Anthropic request id: ``req_`` + 24 base62 characters."""
    value = (int(pair[0]) << 64) | int(pair[1])
    chars = []
    for _ in range(24):
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return "req_011C" + "".join(reversed(chars))[4:]
