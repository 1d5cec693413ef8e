"""Azure Monitor ``metrics:getBatch`` (api-version 2024-02-01) over the workload's atoms.

Semantics reproduced from Azure (and documented in docs/emulator.md of this project):

* Metrics of ``Microsoft.CognitiveServices/accounts`` used by Claude: ``ModelRequests`` (one sample
  per request: Total = Count = requests), ``InputTokens`` (Anthropic's uncached input tokens),
  ``OutputTokens``, ``TotalTokens`` (input + output), ``TimeToLastByte`` and
  ``NormalizedTimeToFirstToken`` (ms) -- these over successful requests only, one sample per
  request -- and ``ModelAvailabilityRate`` (percent of requests without a 5xx, one sample per
  minute and series).
* Anthropic deployments only (category *Models - Usage*): ``cacheReadInputTokens``,
  ``ephemeral5mInputTokens``, ``ephemeral1hInputTokens`` (the usage's ``cache_read_input_tokens``
  and ``cache_creation.ephemeral_5m/1h_input_tokens``), aggregation Total, with a
  ``ContextLength`` dimension the other metrics lack. Its values are undocumented: the emulator
  serves ``<=200K`` and ``>200K`` (whole prompt, input + cache read + cache writes, at most or
  above 200,000 tokens) -- an assumption. Other deployments have no series of these metrics.
* Metric names are matched case-insensitively (Azure's are); ``name_case`` ("lower"/"upper")
  makes the answers' ``name.value`` come back in that case, to test clients against it.
* Each metric has its own dimensions; a filter naming a dimension the metric lacks is a 400.
  Every dimension named in the filter splits the series (``eq '*'`` keeps all values,
  ``eq 'v'`` / ``or`` keep some); ``rollupby`` dimensions filter without splitting.
  ``metadatavalues`` carry lower-case dimension names.
* With a filter, ``top`` (default 10) series per metric and resource are kept, ordered by
  ``orderby`` (default: the metric's primary aggregation, descending).
* Points cover ``[starttime, endtime)`` in steps of ``interval`` aligned to the interval;
  only requested aggregations appear; a point without data carries only ``timeStamp``, except
  ``total``/``count`` of count-like metrics (requests, tokens), which are 0 as Azure fills them.
* A minute becomes visible 1 to 3 minutes after it ends (emulator clock).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import isodate
import numpy as np

from collector.emulator.catalog import CONTEXT_LENGTHS, STREAM_TYPES
from collector.emulator.errors import ApiError, arm_error
from collector.emulator.metric_defs import AGGREGATIONS, METRICS, MetricDef
from collector.emulator.workload import MINUTE_MS, AtomView, Workload, to_ms

NAMESPACE = "Microsoft.CognitiveServices/accounts"
MAX_RESOURCES = 50
DEFAULT_TOP = 10
INTERVALS = {
    "PT1M": 1,
    "PT5M": 5,
    "PT15M": 15,
    "PT30M": 30,
    "PT1H": 60,
    "PT6H": 360,
    "PT12H": 720,
    "P1D": 1440,
}
_SERVER_ERRORS = (500, 502, 503, 504, 529)
NAME_CASES = (None, "lower", "upper")

_CONDITION = re.compile(
    r"^\s*(?P<dim>[A-Za-z0-9_%]+)\s+(?P<op>eq|ne)\s+'(?P<value>[^']*)'\s*$", re.I
)


@dataclass(frozen=True)
class DimFilter:
    dim: str  # canonical name (as in MetricDef.dims)
    values: frozenset[str] | None  # lower-case values kept; None = every value ('*')
    excluded: frozenset[str] = frozenset()


def _bad_request(message: str) -> ApiError:
    return arm_error(400, "BadRequest", message)


def parse_filter(text: str | None) -> list[DimFilter]:
    """Parse Azure's metric filter: ``and`` between dimensions, ``or`` within one dimension."""
    if not text or not text.strip():
        return []
    cleaned = text.replace("(", " ").replace(")", " ")
    by_dim: dict[str, dict[str, Any]] = {}
    for clause in re.split(r"\s+and\s+", cleaned, flags=re.I):
        conditions = re.split(r"\s+or\s+", clause.strip(), flags=re.I)
        dims_in_clause = set()
        for condition in conditions:
            match = _CONDITION.match(condition)
            if not match:
                raise _bad_request(f"Invalid filter expression near '{condition.strip()[:60]}'.")
            dim = match["dim"].replace("%2528", "(").replace("%2529", ")")
            dims_in_clause.add(dim.lower())
            entry = by_dim.setdefault(dim.lower(), {"dim": dim, "values": set(), "ne": set()})
            value = match["value"]
            if match["op"].lower() == "ne":
                entry["ne"].add(value.lower())
            elif value == "*":
                entry["all"] = True
            else:
                entry["values"].add(value.lower())
        if len(dims_in_clause) > 1 and len(conditions) > 1:
            raise _bad_request(
                "The logical 'or' operator cannot separate two different metadata names: "
                f"'{clause.strip()[:80]}'."
            )
    filters = []
    for entry in by_dim.values():
        values = None if entry.get("all") or not entry["values"] else frozenset(entry["values"])
        filters.append(DimFilter(entry["dim"], values, frozenset(entry["ne"])))
    return filters


def _parse_time(text: str) -> datetime:
    try:
        moment = isodate.parse_datetime(text)
    except (ValueError, isodate.ISO8601Error):
        raise _bad_request(f"Invalid time '{text[:40]}': expected ISO 8601.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso_point(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MetricsApi:
    """Answers ``POST /subscriptions/{sub}/metrics:getBatch`` for one endpoint region."""

    def __init__(self, workload: Workload, name_case: str | None = None) -> None:
        self.workload = workload
        self._accounts = {a.id.lower(): a for a in workload.accounts}
        dims: dict[str, list[str]] = {
            "ModelDeploymentName": [d.name for d in workload.deployments],
            "ModelName": [d.model.id for d in workload.deployments],
            "ModelVersion": [d.version for d in workload.deployments],
            "Region": [d.region for d in workload.deployments],
            "ApiName": [d.model.api_name for d in workload.deployments],
            "OperationName": [d.model.operation_name for d in workload.deployments],
        }
        self._dep_dims = dims
        self._anthropic = np.array([d.model.anthropic for d in workload.deployments], bool)
        self.name_case: str | None = None
        self.set_name_case(name_case)

    def set_name_case(self, case: str | None) -> None:
        """Answer metric names as documented (None), lower-cased or upper-cased."""
        if case not in NAME_CASES:
            raise ValueError(f"metric name case must be one of {NAME_CASES}, not {case!r}")
        self.name_case = case

    def _name(self, name: str) -> str:
        if self.name_case == "lower":
            return name.lower()
        if self.name_case == "upper":
            return name.upper()
        return name

    # ------------------------------------------------------------------ request parsing
    def query_batch(
        self,
        region: str,
        subscription: str,
        params: dict[str, str],
        body: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        ids = body.get("resourceids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _bad_request("The request body must contain a non-empty 'resourceids' list.")
        if len(ids) > MAX_RESOURCES:
            raise _bad_request(
                f"The number of resource ids ({len(ids)}) exceeds the limit of {MAX_RESOURCES}."
            )
        namespace = params.get("metricnamespace", "")
        if namespace.lower() != NAMESPACE.lower():
            raise _bad_request(
                f"Metric namespace '{namespace}' is not supported for the requested resources; "
                f"expected '{NAMESPACE}'."
            )
        accounts = []
        for rid in ids:
            parts = rid.strip("/").split("/")
            if len(parts) < 2 or parts[1].lower() != subscription.lower():
                raise _bad_request(
                    f"Resource '{rid}' is not in subscription '{subscription}': all resources of "
                    "a batch must belong to the subscription of the request."
                )
            account = self._accounts.get(rid.rstrip("/").lower())
            if account is None:
                raise arm_error(
                    404, "ResourceNotFound", f"The resource '{rid}' could not be found."
                )
            if account.location.lower() != region.lower():
                raise _bad_request(
                    f"Resource '{rid}' is in region '{account.location}', but the request was "
                    f"sent to the '{region}' endpoint: query each region at its own endpoint."
                )
            accounts.append(account)
        names = [n.replace("%2", ",") for n in params.get("metricnames", "").split(",") if n]
        if not names:
            raise _bad_request("The 'metricnames' parameter is required.")
        metrics = []
        for name in names:
            metric = METRICS.get(name.lower())
            if metric is None:
                valid = ", ".join(m.name for m in METRICS.values())
                raise _bad_request(
                    "Failed to find metric configuration for provider: "
                    f"Microsoft.CognitiveServices, resource Type: accounts, metric: {name}, "
                    f"Valid metrics: {valid}"
                )
            metrics.append(metric)
        interval_text = params.get("interval") or "PT1M"
        try:
            interval = isodate.parse_duration(interval_text)
        except (ValueError, isodate.ISO8601Error):
            raise _bad_request(f"Invalid interval '{interval_text}'.") from None
        step_minutes = int(interval.total_seconds() // 60) if isinstance(interval, timedelta) else 0
        if step_minutes not in INTERVALS.values():
            raise _bad_request(
                f"Invalid interval '{interval_text}': supported are {', '.join(INTERVALS)}."
            )
        start_text, end_text = params.get("starttime"), params.get("endtime")
        end = _parse_time(end_text) if end_text else now
        start = _parse_time(start_text) if start_text else end - timedelta(hours=1)
        if start >= end:
            raise _bad_request("The start time must be before the end time.")
        aggregations = [
            a.strip().lower() for a in (params.get("aggregation") or "").split(",") if a.strip()
        ]
        for agg in aggregations:
            if agg not in AGGREGATIONS:
                raise _bad_request(f"Invalid aggregation '{agg}'.")
        filters = parse_filter(params.get("filter"))
        rollup = {d.strip().lower() for d in (params.get("rollupby") or "").split(",") if d}
        top_text = params.get("top")
        top = int(top_text) if top_text and top_text.isdigit() else DEFAULT_TOP
        orderby = (params.get("orderby") or "").strip().lower()
        for metric in metrics:
            known = {d.lower(): d for d in metric.dims}
            missing = [f.dim for f in filters if f.dim.lower() not in known]
            if missing:
                raise _bad_request(
                    f"Metric: {metric.name} does not support requested dimension combination: "
                    f"{', '.join(f.dim for f in filters)}, supported ones are: "
                    f"{', '.join(metric.dims)}, please use a separate query per metric."
                )
        step_ms = step_minutes * MINUTE_MS
        first_ms = (to_ms(start) // step_ms) * step_ms
        if step_minutes == 1440:
            first_ms = (to_ms(start) // 86_400_000) * 86_400_000
        end_ms = to_ms(end)
        n_points = max(1, -(-(end_ms - first_ms) // step_ms))
        atoms = AtomView(
            self.workload.atoms(max(first_ms, to_ms(start) // MINUTE_MS * MINUTE_MS), end_ms)
        )
        visible = self.workload.metric_visible_ms(atoms) <= to_ms(now)
        in_range = (atoms.minute * MINUTE_MS >= to_ms(start) // MINUTE_MS * MINUTE_MS) & (
            atoms.minute * MINUTE_MS < end_ms
        )
        atoms = atoms.take(np.flatnonzero(visible & in_range))
        values = []
        for account in accounts:
            dep_indexes = [d.index for d in self.workload.deployments if d.account.id == account.id]
            mine = atoms.take(np.flatnonzero(np.isin(atoms.dep, dep_indexes)))
            values.append(
                {
                    "starttime": start_text or start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endtime": end_text or end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "interval": interval_text,
                    "value": [
                        self._metric(
                            account.id,
                            metric,
                            mine,
                            filters,
                            rollup,
                            aggregations or [metric.primary],
                            top,
                            orderby,
                            first_ms,
                            step_ms,
                            n_points,
                        )
                        for metric in metrics
                    ],
                    "namespace": NAMESPACE.lower(),
                    "resourceregion": account.location,
                    "resourceid": account.id,
                }
            )
        return {"values": values}

    # ------------------------------------------------------------------ aggregation
    def _dim_codes(self, dim: str, atoms: AtomView) -> tuple[np.ndarray, list[str]]:
        """Integer code per atom and the value of each code, for one dimension."""
        if dim in self._dep_dims:
            labels = sorted(set(self._dep_dims[dim]))
            lookup = np.array([labels.index(v) for v in self._dep_dims[dim]], np.int64)
            return lookup[atoms.dep] if len(atoms) else np.zeros(0, np.int64), labels
        if dim == "StatusCode":
            codes = atoms.status.astype(np.int64)
            labels = [str(c) for c in range(1024)]
            return codes, labels
        if dim == "StreamType":
            return atoms.stream.astype(np.int64), list(STREAM_TYPES)
        if dim == "ContextLength":
            return atoms.context.astype(np.int64), list(CONTEXT_LENGTHS)
        raise AssertionError(f"unknown dimension {dim}")

    def _metric(
        self,
        resource_id: str,
        metric: MetricDef,
        atoms: AtomView,
        filters: list[DimFilter],
        rollup: set[str],
        aggregations: list[str],
        top: int,
        orderby: str,
        first_ms: int,
        step_ms: int,
        n_points: int,
    ) -> dict[str, Any]:
        canonical = {d.lower(): d for d in metric.dims}
        if metric.success_only:
            atoms = atoms.take(np.flatnonzero(atoms.status == 200))
        if metric.anthropic_only and len(atoms):
            atoms = atoms.take(np.flatnonzero(self._anthropic[atoms.dep]))
        aggregations = [a for a in aggregations if a in metric.aggregations]
        mask = np.ones(len(atoms), bool)
        split: list[tuple[str, np.ndarray, list[str]]] = []
        for flt in filters:
            dim = canonical[flt.dim.lower()]
            codes, labels = self._dim_codes(dim, atoms)
            lower = np.array([label.lower() for label in labels])
            if flt.values is not None:
                mask &= np.isin(lower[codes], list(flt.values)) if len(codes) else mask
            if flt.excluded:
                mask &= ~np.isin(lower[codes], list(flt.excluded)) if len(codes) else mask
            if dim.lower() not in rollup:
                split.append((dim, codes, labels))
        atoms = atoms.take(np.flatnonzero(mask))
        split = [(dim, codes[mask], labels) for dim, codes, labels in split]
        # One integer key per series.
        series_key = np.zeros(len(atoms), np.int64)
        for _, codes, _labels in split:
            series_key = series_key * 1024 + codes
        point = (atoms.minute * MINUTE_MS - first_ms) // step_ms
        series_list = []
        if filters:
            order = np.argsort(series_key, kind="stable")
            atoms = atoms.take(order)
            point = point[order]
            series_key = series_key[order]
            keys, starts = np.unique(series_key, return_index=True)
            bounds = [*starts.tolist(), len(series_key)]
        else:
            keys, bounds = np.zeros(1, np.int64), [0, len(atoms)]
        for i, key in enumerate(keys.tolist()):
            window = slice(bounds[i], bounds[i + 1])
            sub = atoms.take(window)  # type: ignore[arg-type]
            data, order_value = self._points(metric, sub, point[window], aggregations, orderby)
            meta = []
            rest = int(key)
            decoded = []
            for _dim, _codes, labels in reversed(split):
                decoded.append(labels[rest % 1024])
                rest //= 1024
            for (dim, _c, _l), value in zip(split, reversed(decoded), strict=True):
                meta.append(
                    {"name": {"value": dim.lower(), "localizedValue": dim.lower()}, "value": value}
                )
            series_list.append((order_value, [m["value"] for m in meta], meta, data, n_points))
        if filters:
            descending = not orderby.endswith(" asc")
            series_list.sort(key=lambda s: tuple(s[1]))
            series_list.sort(key=lambda s: s[0], reverse=descending)
            series_list = series_list[:top]
        timeseries = [
            {
                "metadatavalues": meta,
                "data": self._render(metric, data, aggregations, first_ms, step_ms, n),
            }
            for _o, _v, meta, data, n in series_list
        ]
        name = self._name(metric.name)
        return {
            "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": metric.display},
            "displayDescription": metric.description,
            "unit": metric.unit,
            "timeseries": timeseries,
            "errorCode": "Success",
        }

    def _points(
        self,
        metric: MetricDef,
        atoms: AtomView,
        point: np.ndarray,
        aggregations: list[str],
        orderby: str,
    ) -> tuple[dict[int, dict[str, float]], float]:
        """Aggregates per point index, and the series' ordering value over the timespan."""
        out: dict[int, dict[str, float]] = {}
        if len(atoms) == 0:
            return out, 0.0
        if metric.field == "availability":
            _minute_key, first_index, inv = np.unique(
                atoms.minute, return_index=True, return_inverse=True
            )
            total = np.bincount(inv, weights=atoms.count)
            bad = np.bincount(inv, weights=atoms.count * np.isin(atoms.status, _SERVER_ERRORS))
            rate = 100.0 * (total - bad) / total
            mpoint = point[first_index]
            for p in np.unique(mpoint):
                r = rate[mpoint == p]
                out[int(p)] = {
                    "total": float(r.sum()),
                    "count": int(r.size),
                    "average": float(r.mean()),
                    "minimum": float(r.min()),
                    "maximum": float(r.max()),
                }
            order_value = float(rate.mean())
        else:
            uniq, inv = np.unique(point, return_inverse=True)
            if metric.field == "count":
                total = np.bincount(inv, weights=atoms.count)
                count = total
                for i, p in enumerate(uniq):
                    out[int(p)] = {
                        "total": int(total[i]),
                        "count": int(count[i]),
                        "average": 1.0,
                        "minimum": 1.0,
                        "maximum": 1.0,
                    }
                order_value = float(total.sum())
            else:
                sums = getattr(atoms, f"{metric.field}_sum")
                # Total-only metrics (the cache tokens) keep no per-request extremes.
                bounded = "minimum" in metric.aggregations
                mins = getattr(atoms, f"{metric.field}_min") if bounded else sums
                maxs = getattr(atoms, f"{metric.field}_max") if bounded else sums
                total = np.bincount(inv, weights=sums)
                count = np.bincount(inv, weights=atoms.count)
                low = np.full(len(uniq), np.iinfo(np.int64).max)
                high = np.full(len(uniq), np.iinfo(np.int64).min)
                np.minimum.at(low, inv, mins)
                np.maximum.at(high, inv, maxs)
                for i, p in enumerate(uniq):
                    out[int(p)] = {
                        "total": int(total[i]),
                        "count": int(count[i]),
                        "average": float(total[i] / count[i]),
                        "minimum": int(low[i]),
                        "maximum": int(high[i]),
                    }
                order_value = (
                    float(total.sum())
                    if metric.primary == "total"
                    else float(total.sum() / max(1, count.sum()))
                )
        agg = orderby.split()[0] if orderby else ""
        agg = "total" if agg == "sum" else agg
        if agg in AGGREGATIONS:
            values = [v[agg] for v in out.values()]
            if agg in ("total", "count"):
                order_value = float(sum(values))
            elif agg == "minimum":
                order_value = float(min(values))
            elif agg == "maximum":
                order_value = float(max(values))
            else:
                order_value = float(np.mean(values))
        return out, order_value

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _stamps(first_ms: int, step_ms: int, n_points: int) -> tuple[str, ...]:
        return tuple(_iso_point(first_ms + p * step_ms) for p in range(n_points))

    def _render(
        self,
        metric: MetricDef,
        data: dict[int, dict[str, float]],
        aggregations: list[str],
        first_ms: int,
        step_ms: int,
        n_points: int,
    ) -> list[dict[str, Any]]:
        stamps = self._stamps(first_ms, step_ms, n_points)
        points = []
        for p in range(n_points):
            entry: dict[str, Any] = {"timeStamp": stamps[p]}
            values = data.get(p)
            if values is not None:
                for agg in aggregations:
                    entry[agg] = values[agg]
            elif metric.zero_fill:
                for agg in aggregations:
                    if agg in ("total", "count"):
                        entry[agg] = 0
            points.append(entry)
        return points
