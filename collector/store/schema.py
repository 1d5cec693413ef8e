"""The store's schema as SQLAlchemy 2.0 typed models.

Every table has a natural key (its primary key, or a unique constraint) so that every write is an
idempotent upsert. High-volume raw tables (``metric_minute``, ``request_log``, ``latency_hist``)
refer to deployments by a small integer id and are partitioned by day on Postgres; their first key
column is the time, which SQLite's prune uses as its index.

Alembic (``migrations/``) is the only way this schema reaches a database; a test checks that the
migrations and these models agree.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from collector.store import schema_headroom  # noqa: F401  (registers its tables on Base)
from collector.store.base import CLUSTERED, NAMING, PARTITIONED, Base, Money, partitioned
from collector.store.types import MetricCode, StatusClassCode, UTCDateTime

__all__ = ["CLUSTERED", "NAMING", "PARTITIONED", "TABLES", "Base", "Money", "partitioned"]


class Resource(Base):
    """A Foundry resource (``Microsoft.CognitiveServices/accounts``) by its lower-cased ARM id."""

    __tablename__ = "resource"

    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_group: Mapped[str] = mapped_column(String(90))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(String(40))
    endpoint: Mapped[str | None] = mapped_column(String(400))
    #: ARM ``properties.internalId``: its first 15 characters name the account in the SaaS
    #: resources Claude's Marketplace charges are booked on
    internal_id: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Deployment(Base):
    """A deployment; callers pass its ``name`` as ``model``. Prices follow ``model``."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100), index=True)
    model_version: Mapped[str | None] = mapped_column(String(40))
    model_format: Mapped[str | None] = mapped_column(String(40))
    sku: Mapped[str | None] = mapped_column(String(40))
    capacity: Mapped[int | None] = mapped_column(Integer)
    provisioning_state: Mapped[str | None] = mapped_column(String(40))
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeploymentChange(Base):
    """A change seen in the inventory (created, removed, model version, SKU, capacity)."""

    __tablename__ = "deployment_change"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    old_value: Mapped[str | None] = mapped_column(String(200))
    new_value: Mapped[str | None] = mapped_column(String(200))


class MetricLabel(Base):
    """A value of a metric dimension kept as a label (the cache metrics' ``ContextLength``).

    ``metric_minute.status_code`` of a cache metric holds the label's ``id``: the cache metrics
    have no status code, and a small integer keeps the minute tables narrow."""

    __tablename__ = "metric_label"
    __table_args__ = (UniqueConstraint("dimension", "value"),)

    # Integer, not SmallInteger: only "INTEGER PRIMARY KEY" is SQLite's auto-numbered rowid.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dimension: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(200))


class _Metric:
    """A metric per step, deployment and split code: its key, total and count, the first columns
    of the table."""

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, sort_order=-1)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    #: the metric's name, stored as its smallint code (``types.METRIC_CODES``)
    metric: Mapped[str] = mapped_column(MetricCode(), primary_key=True, sort_order=-1)
    status_code: Mapped[int] = mapped_column(SmallInteger, primary_key=True, sort_order=-1)
    total: Mapped[float | None] = mapped_column(Float, sort_order=-1)
    count: Mapped[float | None] = mapped_column(Float, sort_order=-1)


class MetricMinute(_Metric, Base):
    """An Azure Monitor metric per minute, deployment and split code: the HTTP status for
    ``ModelRequests``, the ``metric_label`` id of the ``ContextLength`` label for the cache
    metrics (0: none), 0 for the other metrics."""

    __tablename__ = "metric_minute"
    __table_args__ = ({**partitioned("metric_minute"), **CLUSTERED},)

    minimum: Mapped[float | None] = mapped_column(Float)
    maximum: Mapped[float | None] = mapped_column(Float)
    average: Mapped[float | None] = mapped_column(Float)


class RequestLog(Base):
    """A RequestResponse log row; ``correlation_id`` is the ``apim-request-id`` (lower-case)."""

    __tablename__ = "request_log"
    # No secondary index: look-ups go through ``request_id_index`` to one time, and the one
    # other read (a request's minute) is a range of the key's leading ``ts``. On SQLite the rows
    # live in the key's b-tree (``WITHOUT ROWID``), so a day is one contiguous range of one
    # b-tree: every extra index or rowid costs the prune a b-tree deletion per row (0011).
    __table_args__ = ({**partitioned("request_log"), "sqlite_with_rowid": False},)

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    correlation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(100))
    api_name: Mapped[str | None] = mapped_column(String(100))
    stream_type: Mapped[str | None] = mapped_column(String(40))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    request_bytes: Mapped[int | None] = mapped_column(BigInteger)
    response_bytes: Mapped[int | None] = mapped_column(BigInteger)
    caller_ip: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[str | None] = mapped_column(Text)


class RequestIdIndex(Base):
    """Each request id's time: ``request_log`` row ``(ts, id)`` is found in one partition.

    ``id`` is the 16 bytes of a GUID, else the id's UTF-8 text; ``kind`` is 1 for the
    apim-request-id (``correlation_id``), 2 for Anthropic's request-id (``client_request_id``);
    ``ts`` is the row's time in integer microseconds since the epoch. Sliced by week
    (``collector.store.request_index``): Postgres range partitions, SQLite one table per week
    (this table stays empty there), so the prune drops whole weeks.
    """

    __tablename__ = "request_id_index"
    __table_args__ = ({"postgresql_partition_by": "RANGE (ts)", "sqlite_with_rowid": False},)

    id: Mapped[bytes] = mapped_column(LargeBinary(64), primary_key=True)
    kind: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class _Hist:
    """Requests per step, deployment, status class and log-spaced latency bucket (mergeable)."""

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: "2xx", ..., stored as the digit (``types.StatusClassCode``)
    status_class: Mapped[str] = mapped_column(StatusClassCode(), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class LatencyHist(_Hist, Base):
    """Requests per minute, deployment, status class and log-spaced latency bucket (mergeable)."""

    __tablename__ = "latency_hist"
    __table_args__ = ({**partitioned("latency_hist"), **CLUSTERED},)


class _MetricRollup(_Metric):
    """``metric_minute`` summed per step; averages kept as sums so that steps merge exactly."""

    __table_args__ = CLUSTERED

    maximum: Mapped[float | None] = mapped_column(Float)
    avg_x_count: Mapped[float | None] = mapped_column(Float)  # sum of average x count
    average_sum: Mapped[float | None] = mapped_column(Float)  # sum of the minutes' averages
    average_n: Mapped[int] = mapped_column(Integer, default=0)  # minutes with an average


class _HistRollup(_Hist):
    """``latency_hist`` summed per step."""

    __table_args__ = CLUSTERED


class _PercentileRollup:
    """The p50/p95/p99 buckets of each histogram of a ``latency_hist_*`` rollup."""

    __table_args__ = CLUSTERED

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status_class: Mapped[str] = mapped_column(StatusClassCode(), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    b50: Mapped[int] = mapped_column(SmallInteger)  # bucket holding the nearest-rank p50
    b95: Mapped[int] = mapped_column(SmallInteger)
    b99: Mapped[int] = mapped_column(SmallInteger)


class Metric15m(_MetricRollup, Base):
    """``metric_minute`` summed per quarter hour: day-long windows read these."""

    __tablename__ = "metric_15m"


class MetricHour(_MetricRollup, Base):
    """``metric_15m`` summed per hour: week-long windows and the edges of longer ones."""

    __tablename__ = "metric_hour"


class MetricDay(_MetricRollup, Base):
    """``metric_hour`` summed per UTC day: whole days of long windows (kept 400 days)."""

    __tablename__ = "metric_day"


class LatencyHist15m(_HistRollup, Base):
    __tablename__ = "latency_hist_15m"


class LatencyHistHour(_HistRollup, Base):
    __tablename__ = "latency_hist_hour"


class LatencyHistDay(_HistRollup, Base):
    __tablename__ = "latency_hist_day"


class LatencyPct15m(_PercentileRollup, Base):
    __tablename__ = "latency_pct_15m"


class LatencyPctHour(_PercentileRollup, Base):
    __tablename__ = "latency_pct_hour"


class LatencyPctDay(_PercentileRollup, Base):
    __tablename__ = "latency_pct_day"


class ThrottleHour(Base):
    """Per hour and deployment: the minutes with 429s, and how many of them also saw 429s on
    another deployment of its quota pool (same subscription and model). Written with the hourly
    rollups, from the minutes, so the rate-limit page never compares minutes over long windows."""

    __tablename__ = "throttle_hour"
    __table_args__ = CLUSTERED

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    shared_minutes: Mapped[int] = mapped_column(Integer)
    status_429: Mapped[float | None] = mapped_column(Float)


class CostDaily(Base):
    """Billed cost per day, scope, resource and meter. Re-read days replace earlier values."""

    __tablename__ = "cost_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    meter: Mapped[str] = mapped_column(String(200), primary_key=True)
    publisher_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    charge_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(8), primary_key=True)
    cost: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[Decimal | None] = mapped_column(Money)
    first_cost: Mapped[Decimal | None] = mapped_column(Money)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Price(Base):
    """List price per million tokens of a model and token type, effective from a date."""

    __tablename__ = "price"

    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    token_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, primary_key=True)
    usd_per_mtok: Mapped[Decimal] = mapped_column(Numeric(12, 6))
    source: Mapped[str | None] = mapped_column(String(200))


class SpendDaily(Base):
    """Spend per deployment and day: estimate from tokens and share of the billed total."""

    __tablename__ = "spend_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), primary_key=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    estimated: Mapped[Decimal | None] = mapped_column(Money)
    #: what the cache reads saved over plain input, less the cache-write premiums (estimated)
    cache_savings: Mapped[Decimal | None] = mapped_column(Money)
    billed_allocated: Mapped[Decimal | None] = mapped_column(Money)
    unpriced: Mapped[bool] = mapped_column(Boolean, default=False)
    #: False for deployments of other publishers (e.g. OpenAI): never given Claude's bill
    claude: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    status: Mapped[str] = mapped_column(String(12), default="provisional")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SpendResourceDaily(Base):
    """Reconciliation per resource and day: estimate vs bill, unallocated remainder, drift flag."""

    __tablename__ = "spend_resource_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    estimated: Mapped[Decimal | None] = mapped_column(Money)
    billed: Mapped[Decimal | None] = mapped_column(Money)
    unallocated: Mapped[Decimal | None] = mapped_column(Money)
    variance: Mapped[Decimal | None] = mapped_column(Money)
    #: cost of the resource-day under other meters or publishers (e.g. Azure OpenAI): shown,
    #: never allocated to Claude deployments
    other_billed: Mapped[Decimal | None] = mapped_column(Money)
    drift_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="provisional")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Watermark(Base):
    """How far a source has collected for a scope (exclusive end of the last committed window)."""

    __tablename__ = "watermark"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    value: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CollectionRun(Base):
    """One run of one source for one scope and window, for the collector-health view."""

    __tablename__ = "collection_run"
    __table_args__ = (
        Index("ix_collection_run_source_started", "source", "scope", "started_at"),
        Index("ix_collection_run_source_status_finished", "source", "status", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    azure_calls: Mapped[int] = mapped_column(Integer, default=0)
    throttled_calls: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class ReportRun(Base):
    """One generated (and possibly delivered) cost report."""

    __tablename__ = "report_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    formats: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)


class AlertState(Base):
    """A rule's state for one scope (migration 0009): ok, pending, firing or resolved, the minute
    evaluation has reached (``until``, exclusive) and the run or episode in progress. ``version``
    grows with every write: an evaluation stores its result only if the version it read is still
    there, so two processes never both advance one state."""

    __tablename__ = "alert_state"

    rule: Mapped[str] = mapped_column(String(63), primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    signal: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_peak: Mapped[float | None] = mapped_column(Float)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_value: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertEpisode(Base):
    """A time a rule fired for one scope: from its first breaching minute (``started_at``) to the
    first minute that no longer breached (``ended_at``, NULL while firing)."""

    __tablename__ = "alert_episode"
    __table_args__ = (Index("ix_alert_episode_ended_at", "ended_at"),)

    rule: Mapped[str] = mapped_column(String(63), primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    signal: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(12))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    peak: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertNotification(Base):
    """One message of an episode (``firing``, ``repeat`` number ``seq``, ``resolved``) to one
    target (email, teams, slack, webhook). The row is the claim: the process whose insert (or
    conditional update of a failed row) succeeds sends it, so a message goes out once per target
    across restarts, replicas and concurrent runs."""

    __tablename__ = "alert_notification"

    rule: Mapped[str] = mapped_column(String(63), primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # sending, sent, failed
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class AlertSilence(Base):
    """No message for ``rule`` (and ``scope``; ``*``: every scope) from ``starts_at`` to
    ``ends_at``; states and episodes are still recorded."""

    __tablename__ = "alert_silence"

    rule: Mapped[str] = mapped_column(String(63), primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(String(400))


TABLES = Base.metadata.tables
