"""The tables behind headroom per quota pool (issue 17): ARM's usages list, the usage per pool
and minute with its hourly rollup, and each deployment's hourly peaks and throttled minutes.
Registered on the shared :class:`collector.store.base.Base` by importing this module, which
:mod:`collector.store.schema` does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from collector.store.base import CLUSTERED, Base
from collector.store.types import UTCDateTime


class DeploymentHour(Base):
    """Per deployment and hour, from ``metric_minute``: the largest minute of accepted requests
    (``ModelRequests`` but 429) and of tokens (ITPM + OTPM: a deployment's capacity counts both),
    each with the earliest minute reaching it. Refreshed with the other hourly rollups, so each
    deployment's peaks on the Capacity page read one row per hour instead of its minutes. Kept
    as long as the minutes."""

    __tablename__ = "deployment_hour"
    __table_args__ = CLUSTERED

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[float | None] = mapped_column(Float)
    requests_at: Mapped[datetime] = mapped_column(UTCDateTime())
    tokens: Mapped[float | None] = mapped_column(Float)
    tokens_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeploymentThrottle(Base):
    """The minutes in which a deployment got 429s, with its accepted requests and tokens (ITPM +
    OTPM) that minute: whether it was near its own capacity limits when throttled (the level a
    pool's 429 minute points at) is read from these few rows, not from every minute. Refreshed
    with ``deployment_hour``; kept as long as the minutes."""

    __tablename__ = "deployment_throttle"
    __table_args__ = CLUSTERED

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[float | None] = mapped_column(Float)
    tokens: Mapped[float | None] = mapped_column(Float)
    status_429: Mapped[float | None] = mapped_column(Float)


class QuotaUsage(Base):
    """ARM's usages list of a subscription in a location (``usages.list(location)``), as last
    collected with the inventory: per usage name (``AIServices.GlobalStandard.<model>``, ...)
    the capacity allocated (``current_value``) and the quota (``limit``), both in thousands of
    tokens per minute for model pools. Rebuilt by every inventory run."""

    __tablename__ = "quota_usage"

    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    location: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    localized_name: Mapped[str | None] = mapped_column(String(400))
    current_value: Mapped[float | None] = mapped_column(Float)
    limit: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(40))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class _PoolTs:
    """The key of a quota pool's row: its time and the pool (subscription, model, version, kind
    and zone, as in :class:`collector.pools.PoolKey`), the first columns of the table."""

    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, sort_order=-1)
    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True, sort_order=-1)
    model: Mapped[str] = mapped_column(String(100), primary_key=True, sort_order=-1)
    model_version: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)
    zone: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)


class PoolMinute(_PoolTs, Base):
    """Usage per Claude quota pool and minute (issue 17), summed over the pool's deployments in
    every region from ``metric_minute``: accepted requests (``ModelRequests`` of every status
    but 429), the 429s, ITPM (``InputTokens`` + the two cache-write metrics: cache reads do not
    count) and OTPM. The pool is the deployment's when the minute was rolled up
    (:mod:`collector.store.pool_sql`). Written with the rollups, so headroom over 30 days reads
    one row per pool and minute instead of every deployment's metric rows; kept as long as the
    minutes."""

    __tablename__ = "pool_minute"
    __table_args__ = (
        Index(
            "ix_pool_minute_pool_ts", "subscription_id", "model", "model_version", "kind", "zone",
            "ts", "requests", "status_429", "itpm", "otpm",
        ),
        CLUSTERED,
    )  # fmt: skip

    requests: Mapped[float | None] = mapped_column(Float)
    status_429: Mapped[float | None] = mapped_column(Float)
    itpm: Mapped[float | None] = mapped_column(Float)
    otpm: Mapped[float | None] = mapped_column(Float)


class PoolHour(_PoolTs, Base):
    """``pool_minute`` per quota pool and hour: the largest minute of requests, ITPM and OTPM, the
    429s summed, the minutes stored, those with 429s and the newest of them. Refreshed with
    ``pool_minute`` for every hour a write touched, so a 30-day view reads 60 times fewer rows
    (the series for steps of an hour or more, daily peaks, counts); figures that need each
    minute (p99, minutes at or above a share of a limit) read the minutes of the hours whose
    maxima can reach them. Kept as long as the minutes."""

    __tablename__ = "pool_hour"
    __table_args__ = (
        Index(
            "ix_pool_hour_pool_ts", "subscription_id", "model", "model_version", "kind", "zone",
            "ts", "requests", "itpm", "otpm", "status_429", "minutes", "throttled_minutes",
            "newest",
        ),
        CLUSTERED,
    )  # fmt: skip

    requests: Mapped[float | None] = mapped_column(Float)
    itpm: Mapped[float | None] = mapped_column(Float)
    otpm: Mapped[float | None] = mapped_column(Float)
    status_429: Mapped[float | None] = mapped_column(Float)
    minutes: Mapped[int] = mapped_column(Integer)
    throttled_minutes: Mapped[int] = mapped_column(Integer)
    newest: Mapped[datetime] = mapped_column(UTCDateTime())
