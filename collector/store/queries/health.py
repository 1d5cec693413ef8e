"""Collector health: freshness per source, the latest run per scope, and request logs against
metrics (deployments without logs, the observed log lag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, union_all

from collector.store.queries._sql import (
    _DEPLOYMENT,
    _HIST,
    _HIST_15M,
    _HIST_DAY,
    _HIST_HOUR,
    _METRIC,
    _METRIC_DAY,
    _METRIC_HOUR,
    _RESOURCE,
    _RUN,
    _WATERMARK,
    REQUESTS,
    RUN_SUCCEEDED,
    _aware,
    _check_window,
    _inventory_join,
    _metric_rows,
    _reading,
    _resource_name,
    _segments,
)
from collector.store.rollup import DAY, HOUR, PRUNED, floor_time
from collector.store.types import to_utc


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """How current one source's data is: its last successful run and its watermarks.

    ``watermark_oldest`` is the stalest scope's watermark: the source's data is complete up to it.
    """

    source: str
    last_success_at: datetime | None
    last_success_age: timedelta | None
    last_run_at: datetime | None
    last_run_status: str | None
    watermark_oldest: datetime | None
    watermark_newest: datetime | None
    data_age: timedelta | None
    scopes: int


@dataclass(frozen=True, slots=True)
class CollectorRun:
    """The latest run of one source for one scope."""

    source: str
    scope: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    azure_calls: int
    throttled_calls: int
    duration_s: float | None
    error: str | None


def _latest_runs(conn: Connection) -> list[Any]:
    """The latest ``collection_run`` row of every (source, scope), by source then scope.

    The table keeps a row per run (thousands a day), so this never reads it whole: it walks
    ``ix_collection_run_source_started`` from one (source, scope) to the next, one index probe
    each, and takes each pair's newest row with one more probe.
    """
    r = _RUN
    rows: list[Any] = []
    after: tuple[str, str] | None = None
    first = select(r.c.source, r.c.scope).order_by(r.c.source, r.c.scope).limit(1)
    while True:
        if after is None:
            pair = conn.execute(first).first()
        else:  # the next scope of this source, else the first of the next source
            pair = (
                conn.execute(first.where(r.c.source == after[0], r.c.scope > after[1])).first()
                or conn.execute(first.where(r.c.source > after[0])).first()
            )
        if pair is None:
            return rows
        after = (pair.source, pair.scope)
        latest = (
            select(r)
            .where(r.c.source == pair.source, r.c.scope == pair.scope)
            .order_by(r.c.started_at.desc(), r.c.id.desc())
            .limit(1)
        )
        rows.append(conn.execute(latest).mappings().one())


def freshness(engine: Engine, now: datetime) -> list[SourceFreshness]:
    """Per source: the last successful run, the last run, and how far its watermarks reach."""
    now = to_utc(now)
    r, w = _RUN, _WATERMARK
    marks = (
        select(
            w.c.source,
            func.min(w.c.value).label("oldest"),
            func.max(w.c.value).label("newest"),
            func.count().label("scopes"),
        )
        .where(w.c.source != PRUNED[0])  # the prune's cut-off is not a source's progress
        .group_by(w.c.source)
    )
    with _reading(engine) as conn:
        last: dict[str, Any] = {}
        for x in _latest_runs(conn):
            kept = last.get(x["source"])
            if kept is None or (x["started_at"], x["id"]) > (kept["started_at"], kept["id"]):
                last[x["source"]] = x
        # one probe of ix_collection_run_source_status_finished per source
        success = {
            source: conn.execute(
                select(func.max(r.c.finished_at)).where(
                    r.c.source == source, r.c.status == RUN_SUCCEEDED
                )
            ).scalar_one()
            for source in last
        }
        wm = {x.source: x for x in conn.execute(marks)}
    result = []
    for source in sorted(set(last) | set(wm)):
        ok = success.get(source)
        run = last.get(source)
        mark = wm.get(source)
        oldest = mark.oldest if mark else None
        result.append(
            SourceFreshness(
                source=source,
                last_success_at=ok,
                last_success_age=now - ok if ok else None,
                last_run_at=run["started_at"] if run else None,
                last_run_status=run["status"] if run else None,
                watermark_oldest=oldest,
                watermark_newest=mark.newest if mark else None,
                data_age=now - oldest if oldest else None,
                scopes=int(mark.scopes) if mark else 0,
            )
        )
    return result


def collector_health(engine: Engine) -> list[CollectorRun]:
    """The latest run of every source and scope, by source then scope."""
    with _reading(engine) as conn:
        rows = _latest_runs(conn)
    return [
        CollectorRun(
            source=x["source"],
            scope=x["scope"],
            status=x["status"],
            started_at=to_utc(x["started_at"]),
            finished_at=_aware(x["finished_at"]),
            window_start=_aware(x["window_start"]),
            window_end=_aware(x["window_end"]),
            rows=int(x["rows"] or 0),
            azure_calls=int(x["azure_calls"] or 0),
            throttled_calls=int(x["throttled_calls"] or 0),
            duration_s=x["duration_s"],
            error=x["error"],
        )
        for x in rows
    ]


@dataclass(frozen=True, slots=True)
class UnloggedDeployment:
    """A deployment with requests in Azure Monitor but no request-log rows over a window."""

    resource: str
    resource_id: str
    deployment: str
    deployment_id: int
    #: ModelRequests (Azure Monitor) over ``[since, until)``
    requests: int
    since: datetime
    until: datetime
    #: False when the collector has never read request logs (no workspace configured)
    logs_collected: bool = True

    @property
    def notice(self) -> str:
        """One plain sentence for the dashboard and ``doctor``."""
        head = (
            f"{self.deployment} on {self.resource} has {self.requests:,} requests in Azure "
            "Monitor but no request-log rows in Log Analytics"
        )
        cause = (
            "diagnostic settings may not send RequestResponse logs for it, or Azure does not "
            "log these calls"
            if self.logs_collected
            else "the collector reads no Log Analytics workspace (set "
            "FOUNDRY_MONITOR_WORKSPACE_ID to the workspace receiving the RequestResponse logs)"
        )
        return (
            f"{head}: {cause}; latency percentiles and failed-request look-ups are unavailable "
            "for it."
        )


def _log_counts(since: datetime, until: datetime) -> Any:
    """``latency_hist`` counts (every status class) over ``[since, until)`` per deployment, whole
    days, hours and quarters read from the rollups."""
    tables = {"day": _HIST_DAY, "hour": _HIST_HOUR, "quarter": _HIST_15M, "minute": _HIST}
    parts = [
        select(t.c.deployment_id, t.c["count"].label("count")).where(t.c.ts >= lo, t.c.ts < hi)
        for level, lo, hi in _segments(since, until, None)
        for t in (tables[level],)
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("logs")


def deployments_without_logs(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    deployment_ids: Sequence[int] | None = None,
) -> list[UnloggedDeployment]:
    """Deployments with ModelRequests in Azure Monitor but zero request-log rows (requests in
    ``latency_hist``) over ``[since, until)``, most requests first.

    Request logs arrive minutes after metrics (sometimes more than ten): the comparison stops at
    the newest request-log minute the store holds, so a deployment is not flagged for requests
    whose log rows cannot have arrived yet. With no request-log row at all, the whole window
    counts (and ``logs_collected`` says whether the logs source ever ran).
    """
    since, until = _check_window(since, until)
    with _reading(engine) as conn:
        newest_log = conn.execute(select(func.max(_HIST.c.ts))).scalar_one_or_none()
        collected = (
            conn.execute(
                select(func.count()).select_from(_WATERMARK).where(_WATERMARK.c.source == "logs")
            ).scalar_one()
            > 0
        )
        stop = until
        if newest_log is not None:
            newest = to_utc(newest_log) + timedelta(minutes=1)
            if since < newest < until:
                stop = newest
        m = _metric_rows(since, stop, [REQUESTS])
        requests = {
            int(r.deployment_id): int(r.requests or 0)
            for r in conn.execute(
                select(m.c.deployment_id, func.sum(m.c.total).label("requests")).group_by(
                    m.c.deployment_id
                )
            )
        }
        h = _log_counts(since, stop)
        logged = {
            int(r.deployment_id)
            for r in conn.execute(
                select(h.c.deployment_id)
                .group_by(h.c.deployment_id)
                .having(func.sum(h.c["count"]) > 0)
            )
        }
        wanted = set(deployment_ids) if deployment_ids is not None else None
        silent = sorted(
            (i for i, n in requests.items() if n > 0 and i not in logged),
            key=lambda i: (-requests[i], i),
        )
        silent = [i for i in silent if wanted is None or i in wanted]
        if not silent:
            return []
        info = {
            r.id: r
            for r in conn.execute(
                select(
                    _DEPLOYMENT.c.id,
                    _DEPLOYMENT.c.name,
                    _DEPLOYMENT.c.resource_id,
                    _RESOURCE.c.name.label("resource_name"),
                )
                .select_from(_inventory_join())
                .where(_DEPLOYMENT.c.id.in_(silent))
            )
        }
    return [
        UnloggedDeployment(
            resource=_resource_name(info[i].resource_name, info[i].resource_id),
            resource_id=info[i].resource_id,
            deployment=info[i].name,
            deployment_id=i,
            requests=requests[i],
            since=since,
            until=stop,
            logs_collected=collected,
        )
        for i in silent
        if i in info
    ]


@dataclass(frozen=True, slots=True)
class LogLag:
    """How far the request logs trail the metrics in the store (per resource)."""

    resource: str
    resource_id: str
    #: newest minute with a request-log row (``latency_hist``), None without any
    newest_log: datetime | None
    #: newest minute with a ModelRequests point
    newest_metric: datetime | None

    @property
    def lag(self) -> timedelta | None:
        """Newest metric minute minus newest request-log minute (0 when logs are ahead)."""
        if self.newest_log is None or self.newest_metric is None:
            return None
        return max(timedelta(0), self.newest_metric - self.newest_log)


#: The day and hour rollups and the minutes, coarsest first (see ``_newest_minutes``).
_METRICS = (_METRIC_DAY, _METRIC_HOUR, _METRIC)
_HISTS = (_HIST_DAY, _HIST_HOUR, _HIST)


def log_lag(engine: Engine, now: datetime, lookback: timedelta = timedelta(days=2)) -> list[LogLag]:
    """Per resource with metrics in the last ``lookback``: its newest request-log minute and its
    newest metric minute (the observed log lag is their difference)."""
    since = to_utc(now) - lookback
    with _reading(engine) as conn:
        metric = _newest_minutes(conn, _METRICS, since, requests_only=True)
        logged = _newest_minutes(conn, _HISTS, since, requests_only=False)
        names_ = {
            r.id: r.name
            for r in conn.execute(
                select(_RESOURCE.c.id, _RESOURCE.c.name).where(
                    _RESOURCE.c.id.in_(sorted(set(metric) | set(logged)))
                )
            )
        }
    return [
        LogLag(
            resource=_resource_name(names_.get(rid), rid),
            resource_id=rid,
            newest_log=logged.get(rid),
            newest_metric=metric.get(rid),
        )
        for rid in sorted(set(metric) | set(logged))
    ]


def _newest_minutes(
    conn: Connection, tables: Sequence[Any], since: datetime, *, requests_only: bool
) -> dict[str, datetime]:
    """The newest minute at or after ``since`` per resource, of ``ModelRequests`` or of any row.

    ``tables`` are the day and hour rollups and the minutes. Every write refreshes the rollups
    with its minutes, so the day rollup says which day holds each resource's newest minute, the
    hours of that day which hour, and only that hour's minutes are read. Reading the minutes of
    the whole window instead took 1.7 s over two days of 100 deployments on SQLite, whose minute
    tables are clustered on time first (docs/benchmarks.md)."""
    d = _DEPLOYMENT

    def newest(table: Any, *where: Any) -> Any:
        if requests_only:
            where = (*where, table.c.metric == REQUESTS)
        return (
            select(d.c.resource_id, func.max(table.c.ts).label("newest"))
            .select_from(table.join(d, d.c.id == table.c.deployment_id))
            .where(*where)
            .group_by(d.c.resource_id)
        )

    days, hours, minutes = tables
    found = {
        r.resource_id: to_utc(r.newest)
        for r in conn.execute(newest(days, days.c.ts >= floor_time(since, DAY)))
    }
    for table, step, length in ((hours, DAY, HOUR), (minutes, HOUR, None)):
        by_start: dict[datetime, list[str]] = {}
        for resource, start in found.items():
            by_start.setdefault(start, []).append(resource)
        found = {}
        for start, resources in sorted(by_start.items()):
            first = max(start, floor_time(since, length) if length else since)
            query = newest(
                table,
                table.c.ts >= first,
                table.c.ts < start + step,
                d.c.resource_id.in_(sorted(resources)),
            )
            found.update((r.resource_id, to_utc(r.newest)) for r in conn.execute(query))
    return found
