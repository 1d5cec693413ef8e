"""Alert rules: what a rule says, parsed and checked once, with one-line errors.

A rule (TOML ``[[foundry_monitor.alert_rules]]`` or JSON in ``FOUNDRY_MONITOR_ALERT_RULES``)::

    [[foundry_monitor.alert_rules]]
    name = "throttled"
    signal = "rate_429"            # or anomaly:<signal> (robust z-score, see robust.py)
    op = ">"                       # > or <
    threshold = 0.10
    window_minutes = 5             # the value at minute t covers (t - window, t]
    for_minutes = 2                # how long the condition must hold before it fires
    scope = "deployment"           # deployment, resource, pool, all; "deployment:prod-*" filters
    severity = "warning"           # info, warning, critical
    notify = ["webhook", "slack"]  # email, teams, slack, webhook (none: state only)
    repeat_minutes = 240           # optional: re-notify an open episode this often

Pure: no I/O. :func:`parse_rules` raises ``ValueError`` whose text is the one line the settings
show after the variable's name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Signals and the scope kinds they are computed for (``all`` is always allowed).
SIGNAL_SCOPES: dict[str, tuple[str, ...]] = {
    "rate_429": ("deployment", "resource", "pool", "all"),
    "error_rate": ("deployment", "resource", "pool", "all"),
    "p95_ms": ("deployment", "resource", "pool", "all"),
    "ttft_avg_ms": ("deployment", "resource", "pool", "all"),
    "requests": ("deployment", "resource", "pool", "all"),
    "pool_utilization": ("pool", "all"),
    "spend_day": ("deployment", "resource", "pool", "all"),
    "budget_forecast": ("budget",),
    "stale_source": ("source",),
    "cost_without_traffic": ("resource",),
}
#: Signals with one value per scope and minute of their own (a day's spend, an age): no window.
POINT_SIGNALS = ("spend_day", "budget_forecast", "stale_source", "cost_without_traffic")
#: Signals an ``anomaly:`` rule can watch (per-minute signals with a weekly rhythm).
ANOMALY_SIGNALS = ("rate_429", "error_rate", "p95_ms", "ttft_avg_ms", "requests")
SCOPE_KINDS = ("deployment", "resource", "pool", "all", "budget", "source")
SEVERITIES = ("info", "warning", "critical")
TARGETS = ("email", "teams", "slack", "webhook")
OPS = (">", "<")
ANOMALY_PREFIX = "anomaly:"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
FIELDS = (
    "name",
    "signal",
    "op",
    "threshold",
    "window_minutes",
    "for_minutes",
    "scope",
    "severity",
    "notify",
    "repeat_minutes",
    "description",
)
MAX_WINDOW = 24 * 60
MAX_FOR = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule. ``scope`` is the kind; ``match`` an optional glob on the scope's name
    (a deployment's, resource's, pool's, budget's or source's)."""

    name: str
    signal: str
    op: str
    threshold: float
    window_minutes: int = 5
    for_minutes: int = 0
    scope: str = "deployment"
    match: str | None = None
    severity: str = "warning"
    notify: tuple[str, ...] = ()
    repeat_minutes: int | None = None
    description: str = ""

    @property
    def anomaly(self) -> bool:
        return self.signal.startswith(ANOMALY_PREFIX)

    @property
    def base_signal(self) -> str:
        """The signal whose values are read (``requests`` for ``anomaly:requests``)."""
        return self.signal.removeprefix(ANOMALY_PREFIX)

    def breaches(self, value: float | None) -> bool:
        """Whether ``value`` meets the condition (a missing value never does)."""
        if value is None:
            return False
        return value > self.threshold if self.op == ">" else value < self.threshold

    def matches(self, scope_name: str) -> bool:
        """Whether the scope named ``scope_name`` is watched (case-insensitive glob)."""
        if not self.match:
            return True
        return fnmatch.fnmatchcase(scope_name.lower(), self.match.lower())

    def describe(self) -> str:
        """``rate_429 > 0.1 over 5 min for 2 min, per deployment``."""
        scope = self.scope + (f" matching {self.match}" if self.match else "")
        held = f" for {self.for_minutes} min" if self.for_minutes else ""
        over = "" if self.base_signal in POINT_SIGNALS else f" over {self.window_minutes} min"
        return f"{self.signal} {self.op} {self.threshold:g}{over}{held}, per {scope}"


def _default_scope(signal: str) -> str:
    return SIGNAL_SCOPES[signal][0]


def _int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where}: {key} must be a whole number from {low} to {high}")
    return value


def parse_rule(raw: Any, index: int) -> Rule:
    """One rule from its table; ValueError names the rule (or its position) and the field."""
    where = f"rule {index + 1}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} is not a table: expected {{name, signal, op, threshold, ...}}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"{where}: name must be letters, digits, '.', '_' or '-' (at most 63), e.g. 'throttled'"
        )
    where = f"rule {name!r}"
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}")
    signal = raw.get("signal")
    base = signal.removeprefix(ANOMALY_PREFIX) if isinstance(signal, str) else None
    if base not in SIGNAL_SCOPES:
        raise ValueError(
            f"{where}: signal {str(signal)[:40]!r} is unknown; choose {', '.join(SIGNAL_SCOPES)} "
            f"or anomaly:<{'|'.join(ANOMALY_SIGNALS)}>"
        )
    assert isinstance(signal, str) and base is not None
    if signal.startswith(ANOMALY_PREFIX) and base not in ANOMALY_SIGNALS:
        raise ValueError(
            f"{where}: anomaly:{base} is not supported; anomaly rules watch "
            f"{', '.join(ANOMALY_SIGNALS)}"
        )
    op = raw.get("op", ">")
    if op not in OPS:
        raise ValueError(f"{where}: op must be '>' or '<'")
    threshold = raw.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"{where}: threshold must be a number, e.g. 0.1")
    window = _int(raw, "window_minutes", 5, 1, MAX_WINDOW, where)
    held = _int(raw, "for_minutes", 0, 0, MAX_FOR, where)
    scope_text = raw.get("scope", _default_scope(base))
    if not isinstance(scope_text, str):
        raise ValueError(f"{where}: scope must be text such as 'deployment' or 'deployment:prod-*'")
    kind, _, match = scope_text.partition(":")
    kind = kind.strip().lower()
    allowed = (*SIGNAL_SCOPES[base], "all")
    if kind not in allowed:
        raise ValueError(
            f"{where}: scope {kind!r} does not fit signal {base}; choose {', '.join(allowed)}"
        )
    if kind == "all" and match:
        raise ValueError(f"{where}: scope 'all' takes no name filter")
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ValueError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    notify_raw = raw.get("notify", [])
    if isinstance(notify_raw, str):
        notify_raw = [part for part in re.split(r"[,\s]+", notify_raw) if part]
    if not isinstance(notify_raw, Sequence) or any(t not in TARGETS for t in notify_raw):
        raise ValueError(f"{where}: notify must be a list of {', '.join(TARGETS)}")
    repeat = raw.get("repeat_minutes")
    if repeat is not None:
        repeat = _int(raw, "repeat_minutes", 0, 5, MAX_FOR, where)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where}: description must be text")
    return Rule(
        name=name,
        signal=signal,
        op=op,
        threshold=float(threshold),
        window_minutes=window,
        for_minutes=held,
        scope=kind,
        match=match.strip() or None,
        severity=severity,
        notify=tuple(dict.fromkeys(notify_raw)),
        repeat_minutes=repeat,
        description=description[:500],
    )


def parse_rules(raw: Any) -> tuple[Rule, ...]:
    """Every rule of the setting's value (a list of tables), names unique."""
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ValueError("expected a list of rule tables ([[foundry_monitor.alert_rules]])")
    rules = tuple(parse_rule(item, i) for i, item in enumerate(raw))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ValueError(f"rule {rule.name!r} is defined twice: names must be unique")
        seen.add(rule.name)
    return rules


#: The shipped rule set (README "Alerts"): used when ``alert_rules`` is not set.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "throttled",
        "signal": "rate_429",
        "op": ">",
        "threshold": 0.10,
        "window_minutes": 5,
        "for_minutes": 5,
        "scope": "deployment",
        "severity": "warning",
        "description": "More than 10 % of a deployment's calls got 429 for 5 minutes.",
    },
    {
        "name": "pool-near-limit",
        "signal": "pool_utilization",
        "op": ">",
        "threshold": 90,
        "window_minutes": 5,
        "for_minutes": 10,
        "scope": "pool",
        "severity": "warning",
        "description": "A quota pool used more than 90 % of a limit (RPM, ITPM or OTPM) "
        "for 10 minutes: 429s are near; ask for more quota or spread the load.",
    },
    {
        "name": "errors",
        "signal": "error_rate",
        "op": ">",
        "threshold": 0.25,
        "window_minutes": 10,
        "for_minutes": 5,
        "scope": "deployment",
        "severity": "critical",
        "description": "A quarter of a deployment's calls failed (4xx or 5xx) for 5 minutes.",
    },
    {
        "name": "slow",
        "signal": "p95_ms",
        "op": ">",
        "threshold": 120_000,
        "window_minutes": 15,
        "for_minutes": 15,
        "scope": "deployment",
        "severity": "warning",
        "description": "A deployment's p95 latency of successful calls above 2 minutes.",
    },
    {
        "name": "collector-stale",
        "signal": "stale_source",
        "op": ">",
        "threshold": 60,
        "window_minutes": 1,
        "scope": "source",
        "severity": "critical",
        "description": "A source has had no successful run for an hour.",
    },
    {
        "name": "cost-without-traffic",
        "signal": "cost_without_traffic",
        "op": ">",
        "threshold": 1,
        "window_minutes": 1,
        "scope": "resource",
        "severity": "warning",
        "description": "Claude was billed over $1 on a resource-day with no requests.",
    },
    {
        "name": "budget-forecast",
        "signal": "budget_forecast",
        "op": ">",
        "threshold": 1.0,
        "window_minutes": 1,
        "scope": "budget",
        "severity": "warning",
        "description": "A budget's month-end forecast exceeds it.",
    },
)
