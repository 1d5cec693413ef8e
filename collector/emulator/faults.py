"""Deterministic fault injection: "the next N calls to this route get that fault".

Spec grammar (comma-separated items, applied in order; whitespace ignored)::

    ITEM  := ROUTE ":" KIND ["=" ARG] ["*" COUNT]
    ROUTE := arm | metrics | logs | costs | any
    KIND  := 429            (ARG: Retry-After seconds, default 1)
           | 429-costheaders (costs only; ARG: seconds; ONLY the
                             x-ms-ratelimit-microsoft.costmanagement-*-retry-after headers)
           | 500 | 502 | 503 | 504   (a plain error answer in the route's shape)
           | slow           (ARG: delay such as 1.5s or 200ms, then a normal answer)
           | partial        (logs only: 200 with half the rows and a PartialError)
           | drop           (send headers and half the body, then close the connection)

Example: ``metrics:429*3,costs:429-costheaders=2*2,logs:partial,any:slow=1.5s*2,arm:drop``.
A request takes the first pending item whose route is its own or ``any``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

ROUTES = ("arm", "metrics", "logs", "costs")
KINDS = ("429", "429-costheaders", "500", "502", "503", "504", "slow", "partial", "drop")
_ITEM = re.compile(
    r"^(?P<route>[a-z]+):(?P<kind>[0-9a-z-]+)(?:=(?P<arg>[0-9.]+(?:ms|s)?))?(?:\*(?P<count>\d+))?$"
)


@dataclass
class Fault:
    route: str
    kind: str
    arg: float | None
    remaining: int

    @property
    def seconds(self) -> float:
        return 1.0 if self.arg is None else self.arg

    def describe(self) -> str:
        arg = "" if self.arg is None else f"={self.arg:g}s"
        return f"{self.route}:{self.kind}{arg}*{self.remaining}"


def _seconds(text: str) -> float:
    if text.endswith("ms"):
        return float(text[:-2]) / 1000.0
    return float(text.removesuffix("s"))


def parse_faults(spec: str | None) -> list[Fault]:
    """Parse a fault spec; ValueError naming the bad item."""
    faults: list[Fault] = []
    for raw in (spec or "").replace(" ", "").split(","):
        if not raw:
            continue
        match = _ITEM.match(raw)
        if not match:
            raise ValueError(f"bad fault {raw!r}: expected ROUTE:KIND[=ARG][*COUNT]")
        route, kind = match["route"], match["kind"]
        if route not in (*ROUTES, "any"):
            raise ValueError(f"bad fault {raw!r}: route must be one of {', '.join(ROUTES)}, any")
        if kind not in KINDS:
            raise ValueError(f"bad fault {raw!r}: kind must be one of {', '.join(KINDS)}")
        if kind == "partial" and route != "logs":
            raise ValueError(f"bad fault {raw!r}: partial applies to logs only")
        if kind == "429-costheaders" and route != "costs":
            raise ValueError(f"bad fault {raw!r}: 429-costheaders applies to costs only")
        arg = _seconds(match["arg"]) if match["arg"] else None
        if kind == "slow" and arg is None:
            raise ValueError(f"bad fault {raw!r}: slow needs a delay, e.g. slow=1.5s")
        faults.append(Fault(route, kind, arg, int(match["count"] or 1)))
    return faults


class FaultBook:
    """Pending faults and per-route counters; thread-safe."""

    def __init__(self, spec: str | None = None) -> None:
        self._lock = threading.Lock()
        self._pending = parse_faults(spec)
        self.requests: dict[str, int] = {}
        self.injected: dict[str, int] = {}

    def set(self, spec: str | None) -> None:
        """Replace the pending faults (ValueError on a bad spec, leaving them unchanged)."""
        faults = parse_faults(spec)
        with self._lock:
            self._pending = faults

    def add(self, spec: str) -> None:
        faults = parse_faults(spec)
        with self._lock:
            self._pending.extend(faults)

    def take(self, route: str) -> Fault | None:
        """Count a request on ``route`` and return the fault it gets, if any."""
        with self._lock:
            self.requests[route] = self.requests.get(route, 0) + 1
            for fault in self._pending:
                if fault.remaining > 0 and fault.route in (route, "any"):
                    if fault.kind == "partial" and route != "logs":
                        continue
                    fault.remaining -= 1
                    key = f"{route}:{fault.kind}"
                    self.injected[key] = self.injected.get(key, 0) + 1
                    self._pending = [f for f in self._pending if f.remaining > 0]
                    return Fault(route, fault.kind, fault.arg, 1)
            return None

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": dict(sorted(self.requests.items())),
                "faults_injected": dict(sorted(self.injected.items())),
                "faults_pending": [f.describe() for f in self._pending],
            }

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.injected.clear()
