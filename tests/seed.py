"""One deterministic seeded data builder for the store, with the ground truth it wrote.

``build(engine, seed=42)`` simulates every request of a few deployments minute by minute with
``random.Random(seed)``, writes what the collector would write (inventory, ``metric_minute``,
``latency_hist``, ``request_log`` rows of failed and slow requests, ``spend_daily``, collection
runs and watermarks) through the one write path (the metric points and histogram rows through
the collector's own ``collector.store.ingest``, as a source's rows), and returns a :class:`Seed`
that keeps the simulated requests. Expected aggregates are computed from those requests in plain Python
(:meth:`Seed.expected`), independently of the SQL in ``collector.store.queries``.

The default window starts at 22:00 UTC and lasts four hours, so it crosses midnight.

Claude deployments also get what Azure Monitor reports for Anthropic models: prompt-cache tokens
(``cacheReadInputTokens``, ``ephemeral5mInputTokens``, ``ephemeral1hInputTokens``, split by a
``ContextLength`` label) and ``NormalizedTimeToFirstToken``, drawn from their own random stream so
that the rest of the data is the same with or without them. ``build(..., other_publisher=True)``
adds a deployment of another publisher (an OpenAI model on ``contoso-eastus2``), simulated from
a third stream: it has traffic and tokens but no cache, TTFT or estimate.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, select

from collector import metric_names as names
from collector.histogram import bucket_bounds, bucket_of
from collector.spend.estimate import CacheTokens, cache_savings
from collector.spend.prices import default_sheet
from collector.store import ingest, migrate, rollup
from collector.store.engine import make_engine
from collector.store.ids import label_ids
from collector.store.schema import TABLES
from collector.store.writer import upsert
from tests.pg import PostgresServer
from tests.reference import nearest_rank

if TYPE_CHECKING:
    import pytest

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
START = datetime(2026, 11, 1, 22, 0, tzinfo=UTC)
SLOW_MS = 20_000
QUANTILES = (0.5, 0.95, 0.99)


def resource_id(name: str, group: str = "rg-ai") -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{group}/providers/"
        f"microsoft.cognitiveservices/accounts/{name}"
    )


@dataclass(frozen=True)
class DeploymentSpec:
    resource: str
    name: str
    model: str
    rate: int  # mean requests per minute (0: idle)
    latency_mu: float  # log(ms) of the typical successful request
    removed: bool = False
    model_format: str = "Anthropic"

    @property
    def claude(self) -> bool:
        return self.model_format == "Anthropic"


SPECS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec("contoso-eastus2", "claude-opus-4-5", "claude-opus-4-5", 8, math.log(6000)),
    DeploymentSpec("contoso-eastus2", "support-bot", "claude-sonnet-4-5", 14, math.log(3500)),
    DeploymentSpec(
        "contoso-swedencentral", "claude-haiku-4-5", "claude-haiku-4-5", 18, math.log(900)
    ),
    DeploymentSpec(
        "contoso-swedencentral", "claude-opus-4-1", "claude-opus-4-1", 0, math.log(8000)
    ),
    DeploymentSpec("contoso-swedencentral", "old-bot", "claude-sonnet-4-5", 0, 0.0, removed=True),
)
REGIONS = {"contoso-eastus2": "eastus2", "contoso-swedencentral": "swedencentral"}
#: Another publisher's deployment on a Claude resource (``build(other_publisher=True)``).
OTHER_PUBLISHER = DeploymentSpec(
    "contoso-eastus2", "gpt-4o-mini", "gpt-4o-mini", 6, math.log(700), model_format="OpenAI"
)
#: ``ContextLength`` labels of the cache metrics (those the shipped price sheet maps).
BASE_LABEL, LONG_LABEL = "<=200K", ">200K"

_ERRORS = (400, 401, 403, 404, 408, 500, 503, 529)


@dataclass(frozen=True)
class SimRequest:
    """One simulated request (every one, not only those with a request_log row)."""

    ts: datetime
    deployment_id: int
    status: int
    duration_ms: int
    input_tokens: int
    output_tokens: int
    correlation_id: str
    client_request_id: str | None
    logged: bool  # written to request_log (non-2xx or slow)
    #: prompt-cache tokens and time to first token (successful Claude requests only)
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    context_label: str = BASE_LABEL
    ttft_ms: int | None = None

    @property
    def minute(self) -> datetime:
        return self.ts.replace(second=0, microsecond=0)


@dataclass
class Expected:
    """What ``summary`` must report for one deployment over a window."""

    requests: int = 0
    status_2xx: int = 0
    status_429: int = 0
    status_4xx_other: int = 0
    status_5xx: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    durations_2xx: list[int] = field(default_factory=list)
    spend_estimated: Decimal | None = None
    spend_billed: Decimal | None = None
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_savings: Decimal | None = None
    ttft_ms: list[int] = field(default_factory=list)

    @property
    def cache_hit_rate(self) -> float | None:
        prompt = (
            self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )
        return self.cache_read_tokens / prompt if prompt else None

    @property
    def ttft_avg_ms(self) -> float | None:
        return sum(self.ttft_ms) / len(self.ttft_ms) if self.ttft_ms else None

    def percentile_value(self, q: float) -> int | None:
        """The exact nearest-rank q-quantile of the raw durations (not of a histogram)."""
        value = nearest_rank(self.durations_2xx, q)
        return None if value is None else int(value)

    def percentile_ms(self, q: float) -> float | None:
        """The upper bound of the bucket holding the true quantile: what the store can report."""
        value = self.percentile_value(q)
        return None if value is None else bucket_bounds(bucket_of(value))[1]


@dataclass
class Seed:
    start: datetime
    end: datetime
    deployment_ids: dict[str, int]  # by deployment name (names are unique in the seed)
    requests: list[SimRequest]
    spend: dict[tuple[int, date], tuple[Decimal | None, Decimal | None]]
    ttlb_average: dict[tuple[int, datetime], float]
    #: spend_daily's cache savings per (deployment id, day) with spend rows
    savings: dict[tuple[int, date], Decimal | None] = field(default_factory=dict)
    #: deployment names of other publishers (not Claude)
    not_claude: frozenset[str] = frozenset()

    def expected(self, since: datetime, until: datetime) -> dict[int, Expected]:
        """Ground truth per deployment id over ``[since, until)`` (every inventory deployment)."""
        result = {dep_id: Expected() for dep_id in self.deployment_ids.values()}
        for r in self.requests:
            if not since <= r.minute < until:
                continue
            e = result[r.deployment_id]
            e.requests += 1
            if 200 <= r.status < 300:
                e.status_2xx += 1
                e.input_tokens += r.input_tokens
                e.output_tokens += r.output_tokens
                e.durations_2xx.append(r.duration_ms)
                e.cache_read_tokens += r.cache_read
                e.cache_write_5m_tokens += r.cache_write_5m
                e.cache_write_1h_tokens += r.cache_write_1h
                if r.ttft_ms is not None:
                    e.ttft_ms.append(r.ttft_ms)
            elif r.status == 429:
                e.status_429 += 1
            elif 400 <= r.status < 500:
                e.status_4xx_other += 1
            elif 500 <= r.status < 600:
                e.status_5xx += 1
        first, last = since.date(), (until - timedelta(microseconds=1)).date()
        for (dep_id, day), (estimated, billed) in self.spend.items():
            if first <= day <= last:
                e = result[dep_id]
                if estimated is not None:
                    e.spend_estimated = (e.spend_estimated or Decimal(0)) + estimated
                if billed is not None:
                    e.spend_billed = (e.spend_billed or Decimal(0)) + billed
                saved = self.savings.get((dep_id, day))
                if saved is not None:
                    e.cache_savings = (e.cache_savings or Decimal(0)) + saved
        return result

    def logged(self) -> list[SimRequest]:
        return [r for r in self.requests if r.logged]

    def in_minute(self, deployment_id: int, minute: datetime) -> list[SimRequest]:
        return [r for r in self.requests if r.deployment_id == deployment_id and r.minute == minute]


def _request_id(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "req_011" + "".join(rng.choice(alphabet) for _ in range(21))


def _status(rng: random.Random, burst: bool) -> int:
    x = rng.random()
    if x < (0.45 if burst else 0.02):
        return 429
    if x < (0.47 if burst else 0.05):
        return rng.choice(_ERRORS)
    return 200


def _cache_and_ttft(rng: random.Random, duration_ms: int) -> dict[str, object]:
    """A successful Claude request's prompt-cache tokens and time to first token."""
    return {
        "cache_read": rng.randint(1_000, 40_000) if rng.random() < 0.6 else 0,
        "cache_write_5m": rng.randint(500, 8_000) if rng.random() < 0.3 else 0,
        "cache_write_1h": rng.randint(500, 8_000) if rng.random() < 0.1 else 0,
        "context_label": LONG_LABEL if rng.random() < 0.1 else BASE_LABEL,
        "ttft_ms": max(1, round(duration_ms * rng.uniform(0.05, 0.4))),
    }


def build(
    engine: Engine,
    seed: int = 42,
    start: datetime = START,
    minutes: int = 240,
    unlogged: Collection[str] = (),
    *,
    other_publisher: bool = False,
) -> Seed:
    """Fill ``engine``'s store (schema already at head) and return what was written.

    Deployments named in ``unlogged`` get metrics but no request-log rows (no ``latency_hist``,
    no ``request_log``), as when Azure does not log their calls."""
    rng = random.Random(seed)
    cache_rng = random.Random(seed * 1_000_003 + 1)  # cache and TTFT: their own stream
    end = start + timedelta(minutes=minutes)
    requests: list[SimRequest] = []
    specs = (*SPECS, OTHER_PUBLISHER) if other_publisher else SPECS
    with engine.begin() as conn:
        upsert(
            conn,
            "resource",
            [
                {
                    "id": resource_id(name),
                    "subscription_id": SUBSCRIPTION,
                    "resource_group": "rg-ai",
                    "name": name,
                    "kind": "AIServices",
                    "location": region,
                    "endpoint": f"https://{name}.services.ai.azure.com/",
                    "first_seen": start - timedelta(days=30),
                    "last_seen": end,
                }
                for name, region in REGIONS.items()
            ],
        )
        upsert(
            conn,
            "deployment",
            [
                {
                    "resource_id": resource_id(s.resource),
                    "name": s.name,
                    "model": s.model,
                    "model_version": "1",
                    "model_format": s.model_format,
                    "sku": "GlobalStandard",
                    "capacity": 100,
                    "provisioning_state": "Succeeded",
                    "first_seen": start - timedelta(days=30),
                    "last_seen": end,
                    "removed_at": start - timedelta(days=3) if s.removed else None,
                }
                for s in specs
            ],
        )
        d = TABLES["deployment"]
        ids = {name: dep_id for dep_id, name in conn.execute(select(d.c.id, d.c.name))}
        labels = label_ids(conn, names.CONTEXT_LENGTH, [BASE_LABEL, LONG_LABEL])

        metric_rows: list[dict[str, object]] = []
        hist_rows: list[dict[str, object]] = []
        ttlb_average: dict[tuple[int, datetime], float] = {}
        for spec in specs:
            if not spec.rate:
                continue
            dep_id = ids[spec.name]
            # another publisher's traffic comes from a third stream: the seed's own data is the
            # same with or without it
            sim = rng if spec.claude else random.Random(seed * 1_000_003 + 2)
            for i in range(minutes):
                minute = start + timedelta(minutes=i)
                burst = sim.random() < 0.08
                n = max(0, round(sim.gauss(spec.rate, spec.rate / 3)))
                if sim.random() < 0.05:
                    n = 0  # an idle minute
                batch: list[SimRequest] = []
                for _ in range(n):
                    status = _status(sim, burst)
                    ok = 200 <= status < 300
                    if ok:
                        duration = max(1, round(math.exp(sim.gauss(spec.latency_mu, 0.7))))
                    else:
                        duration = sim.randint(3, 400)
                    offset = timedelta(
                        seconds=sim.randint(0, 59), microseconds=sim.randint(0, 999_999)
                    )
                    batch.append(
                        SimRequest(
                            ts=minute + offset,
                            deployment_id=dep_id,
                            status=status,
                            duration_ms=duration,
                            input_tokens=sim.randint(200, 6000) if ok else 0,
                            output_tokens=sim.randint(20, 2500) if ok else 0,
                            correlation_id=str(uuid.UUID(int=sim.getrandbits(128), version=4)),
                            client_request_id=_request_id(sim) if sim.random() < 0.3 else None,
                            logged=not ok or duration >= SLOW_MS,
                            **(
                                _cache_and_ttft(cache_rng, duration)  # type: ignore[arg-type]
                                if ok and spec.claude
                                else {}
                            ),
                        )
                    )
                requests.extend(batch)
                metric_rows.extend(_metric_rows(minute, dep_id, batch))
                metric_rows.extend(_claude_rows(minute, dep_id, batch, labels))
                if spec.name not in unlogged:
                    hist_rows.extend(_hist_rows(minute, dep_id, batch))
                durations = [r.duration_ms for r in batch if 200 <= r.status < 300]
                if durations:
                    ttlb_average[(dep_id, minute)] = sum(durations) / len(durations)
        # through the collector's own write path, with the rollups of the window
        named = {
            dep_id: (resource_id(s.resource), s.name) for s in specs for dep_id in [ids[s.name]]
        }
        label_of = {code: label for label, code in labels.items()}
        ingest.write_metrics(conn, _as_points(metric_rows, named, label_of), start, end)
        ingest.write_logs(conn, [], _as_points(hist_rows, named, {}), start, end)
        upsert(
            conn,
            "request_log",
            [
                {
                    "ts": r.ts,
                    "correlation_id": r.correlation_id,
                    "deployment_id": r.deployment_id,
                    "client_request_id": r.client_request_id,
                    "operation": "ChatCompletions_Create",
                    "api_name": "Anthropic Messages",
                    "stream_type": "Streaming" if r.duration_ms % 2 else "NonStreaming",
                    "status_code": r.status,
                    "duration_ms": r.duration_ms,
                    "request_bytes": 1000 + r.input_tokens,
                    "response_bytes": 200 + r.output_tokens,
                    "caller_ip": "10.0.0.*",
                    "properties": None,
                }
                for r in requests
                if r.logged and r.deployment_id not in {ids[n] for n in unlogged}
            ],
        )
        spend = _spend(rng, ids, start, end)
        models = {ids[s.name]: s.model for s in specs}
        tokens = _day_tokens(requests)
        savings: dict[tuple[int, date], Decimal | None] = {}
        spend_rows = []
        for (dep_id, day), (estimated, billed) in spend.items():
            t = tokens.get((dep_id, day), _DayTokens())
            savings[(dep_id, day)] = t.savings(models[dep_id], day)
            spend_rows.append(
                {
                    "day": day,
                    "deployment_id": dep_id,
                    **t.columns(),
                    "estimated": estimated,
                    "billed_allocated": billed,
                    "cache_savings": savings[(dep_id, day)],
                    "unpriced": False,
                    "claude": True,
                    "status": "provisional" if billed is None else "final",
                    "computed_at": end,
                }
            )
        if other_publisher:  # its tokens are kept, never an estimate nor a share of the bill
            other = ids[OTHER_PUBLISHER.name]
            for (dep_id, day), t in sorted(tokens.items()):
                if dep_id == other:
                    spend_rows.append(
                        {
                            "day": day,
                            "deployment_id": dep_id,
                            **t.columns(),
                            "estimated": None,
                            "billed_allocated": None,
                            "cache_savings": None,
                            "unpriced": False,
                            "claude": False,
                            "status": "provisional",
                            "computed_at": end,
                        }
                    )
        upsert(conn, "spend_daily", spend_rows)
        _collector_state(conn, start, end)
    return Seed(
        start=start,
        end=end,
        deployment_ids=ids,
        requests=requests,
        spend=spend,
        ttlb_average=ttlb_average,
        savings=savings,
        not_claude=frozenset(s.name for s in specs if not s.claude),
    )


def _as_points(
    rows: list[dict[str, object]], named: dict[int, tuple[str, str]], label_of: dict[int, str]
) -> list[dict[str, object]]:
    """Table rows (by deployment id; a cache metric's label id in ``status_code``) as the rows a
    source yields (by resource id and deployment name, the label by its text), for
    :mod:`collector.store.ingest`."""
    points = []
    for row in rows:
        point = dict(row)
        resource, name = named[int(point.pop("deployment_id"))]  # type: ignore[call-overload]
        label = ""
        if point.get("metric") in names.CACHE_METRICS:
            label = label_of.get(int(point["status_code"]), "")  # type: ignore[call-overload]
            point["status_code"] = 0
        points.append({**point, "resource_id": resource, "deployment": name, "label": label})
    return points


@dataclass
class _DayTokens:
    """A deployment's tokens on one day, cache tokens per ``ContextLength`` label."""

    input: int = 0
    output: int = 0
    cache: dict[str, list[int]] = field(default_factory=dict)  # label -> [read, 5m, 1h]

    def columns(self) -> dict[str, int]:
        parts = list(self.cache.values())
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_tokens": sum(p[0] for p in parts),
            "cache_write_5m_tokens": sum(p[1] for p in parts),
            "cache_write_1h_tokens": sum(p[2] for p in parts),
        }

    def savings(self, model: str, day: date) -> Decimal | None:
        parts = [CacheTokens(label, *p) for label, p in sorted(self.cache.items())]
        return cache_savings(default_sheet(), model, day, parts)


def _day_tokens(requests: list[SimRequest]) -> dict[tuple[int, date], _DayTokens]:
    days: dict[tuple[int, date], _DayTokens] = {}
    for r in requests:
        if not 200 <= r.status < 300:
            continue
        t = days.setdefault((r.deployment_id, r.minute.date()), _DayTokens())
        t.input += r.input_tokens
        t.output += r.output_tokens
        if r.cache_read or r.cache_write_5m or r.cache_write_1h:
            acc = t.cache.setdefault(r.context_label, [0, 0, 0])
            acc[0] += r.cache_read
            acc[1] += r.cache_write_5m
            acc[2] += r.cache_write_1h
    return days


def _claude_rows(
    minute: datetime, dep_id: int, batch: list[SimRequest], labels: dict[str, int]
) -> list[dict[str, object]]:
    """The cache metrics (per ``ContextLength`` label, its ``metric_label`` id as the split
    code) and NormalizedTimeToFirstToken of a minute's successful Claude requests."""
    timed = [r.ttft_ms for r in batch if r.ttft_ms is not None]
    if not timed:
        return []
    base = {"ts": minute, "deployment_id": dep_id}
    empty = dict.fromkeys(("total", "count", "minimum", "maximum", "average"))
    rows: list[dict[str, object]] = [
        {**base, "metric": names.TTFT, "status_code": 0, **_timing(timed)}
    ]
    for metric, attr in (
        (names.CACHE_READ, "cache_read"),
        (names.CACHE_WRITE_5M, "cache_write_5m"),
        (names.CACHE_WRITE_1H, "cache_write_1h"),
    ):
        per_label = Counter[str]()
        for r in batch:
            per_label[r.context_label] += getattr(r, attr)
        for label, total in sorted(per_label.items()):
            if total:  # Azure sends no point for an empty minute
                rows.append(
                    {**base, "metric": metric, "status_code": labels[label], "total": float(total)}
                )
    return [{**empty, **row} for row in rows]


def _timing(values: list[int]) -> dict[str, float]:
    """A latency metric's point over a minute's requests: sum, count, minimum, maximum, mean."""
    return {
        "total": float(sum(values)),
        "count": float(len(values)),
        "minimum": float(min(values)),
        "maximum": float(max(values)),
        "average": sum(values) / len(values),
    }


def _metric_rows(minute: datetime, dep_id: int, batch: list[SimRequest]) -> list[dict[str, object]]:
    if not batch:
        return []
    rows: list[dict[str, object]] = []
    base = {"ts": minute, "deployment_id": dep_id}
    for status, count in sorted(Counter(r.status for r in batch).items()):
        rows.append(
            {
                **base,
                "metric": "ModelRequests",
                "status_code": status,
                "total": float(count),
                "count": float(count),
            }
        )
    ok = [r for r in batch if 200 <= r.status < 300]
    if ok:
        durations = [r.duration_ms for r in ok]
        for metric, value in (
            ("InputTokens", sum(r.input_tokens for r in ok)),
            ("OutputTokens", sum(r.output_tokens for r in ok)),
        ):
            rows.append(
                {
                    **base,
                    "metric": metric,
                    "status_code": 0,
                    "total": float(value),
                    "count": float(len(ok)),
                }
            )
        rows.append({**base, "metric": "TimeToLastByte", "status_code": 0, **_timing(durations)})
    failed = sum(1 for r in batch if r.status >= 500)
    rows.append(
        {
            **base,
            "metric": "ModelAvailabilityRate",
            "status_code": 0,
            "average": 100.0 * (1 - failed / len(batch)),
        }
    )
    # upsert writes the columns of the first row: give every row all of them
    empty = dict.fromkeys(("total", "count", "minimum", "maximum", "average"))
    return [{**empty, **row} for row in rows]


def _hist_rows(minute: datetime, dep_id: int, batch: list[SimRequest]) -> list[dict[str, object]]:
    counts = Counter((f"{r.status // 100}xx", bucket_of(r.duration_ms)) for r in batch)
    return [
        {"ts": minute, "deployment_id": dep_id, "status_class": cls, "bucket": b, "count": n}
        for (cls, b), n in sorted(counts.items())
    ]


def _spend(
    rng: random.Random, ids: dict[str, int], start: datetime, end: datetime
) -> dict[tuple[int, date], tuple[Decimal | None, Decimal | None]]:
    """Spend of two deployments on every day around the window; the last day is not billed yet.

    ``claude-haiku-4-5`` has no spend rows at all (its spend must read as unknown, not 0).
    """
    spend: dict[tuple[int, date], tuple[Decimal | None, Decimal | None]] = {}
    first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
    for name in ("claude-opus-4-5", "support-bot"):
        day = first
        while day <= last:
            estimated = Decimal(rng.randint(100, 90_000)) / 100
            billed = None if day == last else Decimal(rng.randint(100, 90_000)) / 100
            spend[(ids[name], day)] = (estimated, billed)
            day += timedelta(days=1)
    return spend


def _collector_state(conn: Connection, start: datetime, end: datetime) -> None:
    runs = [
        # source, scope, started (minutes before end), status, rows, calls, throttles, error
        ("metrics", SUBSCRIPTION, 20, "ok", 900, 3, 0, None),
        ("metrics", SUBSCRIPTION, 5, "ok", 870, 3, 1, None),
        ("logs", "workspace-1", 15, "ok", 120, 2, 0, None),
        ("logs", "workspace-1", 4, "error", 0, 4, 2, "Log Analytics answered 504 GatewayTimeout"),
    ]
    table = TABLES["collection_run"]
    conn.execute(
        table.insert(),
        [
            {
                "source": source,
                "scope": scope,
                "window_start": end - timedelta(minutes=ago + 10),
                "window_end": end - timedelta(minutes=ago),
                "started_at": end - timedelta(minutes=ago),
                "finished_at": end - timedelta(minutes=ago) + timedelta(seconds=7),
                "status": status,
                "rows": rows,
                "azure_calls": calls,
                "throttled_calls": throttles,
                "duration_s": 7.0,
                "error": error,
            }
            for source, scope, ago, status, rows, calls, throttles, error in runs
        ],
    )
    upsert(
        conn,
        "watermark",
        [
            {
                "source": "metrics",
                "scope": SUBSCRIPTION,
                "value": end - timedelta(minutes=3),
                "updated_at": end,
            },
            {
                "source": "metrics",
                "scope": "other-subscription",
                "value": end - timedelta(minutes=30),
                "updated_at": end,
            },
            {
                "source": "logs",
                "scope": "workspace-1",
                "value": end - timedelta(minutes=15),
                "updated_at": end,
            },
        ],
    )


def open_store(kind: str, folder: Path, pg_server: PostgresServer | None) -> Engine:
    """A fresh store at head on ``kind`` ("sqlite" or "postgres"), for module-scoped fixtures
    that seed once and only read (the conftest ``store`` fixture is per test)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'seeded.db'}"
    else:
        assert pg_server is not None, "the postgres store needs the session's pg_server"
        url = pg_server.create_database(f"seeded_{uuid.uuid4().hex[:12]}")
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine


@contextmanager
def param_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[Engine]:
    """:func:`open_store` on the database a fixture is parametrised with (``request.param``,
    "sqlite" or "postgres"), in a new folder ``name``; disposed of on exit."""
    kind = request.param
    pg = request.getfixturevalue("pg_server") if kind == "postgres" else None
    engine = open_store(kind, tmp_path_factory.mktemp(name), pg)
    try:
        yield engine
    finally:
        engine.dispose()


POOL_TWIN = "support-bot-eu"


def add_pool_twin(
    engine: Engine, built: Seed, requests: dict[tuple[datetime, int], int], *, change_at_min: int
) -> int:
    """Beyond the shared seed: ``support-bot-eu``, a second claude-sonnet-4-5 deployment of the
    subscription (one quota pool with support-bot), with ``requests`` ((minute, status) ->
    count) as its ModelRequests; and support-bot's capacity change (100 -> 200) at
    ``change_at_min`` minutes into the seed. Returns the twin's deployment id."""
    with engine.begin() as conn:
        upsert(
            conn,
            "deployment",
            [
                {
                    "resource_id": resource_id("contoso-swedencentral"),
                    "name": POOL_TWIN,
                    "model": "claude-sonnet-4-5",
                    "model_version": "1",
                    "sku": "GlobalStandard",
                    "capacity": 50,
                    "first_seen": built.start - timedelta(days=2),
                    "last_seen": built.end,
                }
            ],
        )
        d = TABLES["deployment"]
        twin = int(conn.execute(select(d.c.id).where(d.c.name == POOL_TWIN)).scalar_one())
        upsert(
            conn,
            "metric_minute",
            [
                {
                    "ts": minute,
                    "deployment_id": twin,
                    "metric": names.REQUESTS,
                    "status_code": status,
                    "total": float(n),
                    "count": float(n),
                }
                for (minute, status), n in sorted(requests.items())
            ],
        )
        minutes = [minute for minute, _ in requests]
        rollup.refresh(conn, min(minutes), max(minutes) + timedelta(minutes=1), hist=False)
        upsert(
            conn,
            "deployment_change",
            [
                {
                    "deployment_id": built.deployment_ids["support-bot"],
                    "changed_at": built.start + timedelta(minutes=change_at_min),
                    "field": "capacity",
                    "old_value": "100",
                    "new_value": "200",
                }
            ],
        )
    return twin
