"""The alerts as the dashboard shows them (the Alerts page, and the overview's flag of what is
firing): each stored state of a configured rule, in the state ``foundry-monitor alerts status``
shows (:func:`collector.alerts.evaluate.shown_state` of :func:`collector.alerts.run.as_state`,
since :func:`~collector.alerts.evaluate.shown_since`). The dashboard never evaluates a rule: the
collector's ``run`` does after each collection, ``alerts evaluate`` on demand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from collector.alerts.evaluate import FIRING, PENDING, shown_since, shown_state
from collector.alerts.rules import Rule
from collector.alerts.run import as_state
from collector.store.alerts import StoredState
from dashboard import common as c

#: The order of the "firing now" table: firing first, then pending.
ACTIVE = (FIRING, PENDING)


@dataclass(frozen=True, slots=True)
class ShownAlert:
    """A rule's state for one scope as shown now."""

    rule: Rule
    stored: StoredState
    state: str
    since: datetime | None
    silenced: bool


def shown_alerts(view: c.View, rules: Sequence[Rule]) -> list[ShownAlert]:
    """Every stored state of a rule in ``rules`` (states of rules no longer configured are left
    out, as ``alerts status`` does), by rule then scope."""
    by_name = {r.name: r for r in rules}
    silences = c.load_alert_silences(view.url, view.now)
    shown = []
    for stored in c.load_alert_states(view.url):
        rule = by_name.get(stored.rule)
        if rule is None:
            continue
        current = as_state(stored)
        state = shown_state(current, view.now)
        shown.append(
            ShownAlert(
                rule,
                stored,
                state,
                shown_since(current, state),
                any(s.covers(stored.rule, stored.scope, view.now) for s in silences),
            )
        )
    return shown


def flag_firing(view: c.View) -> None:
    """The overview's warning listing every firing alert (not filtered by the sidebar)."""
    fired = [a for a in shown_alerts(view, c.settings().alerts.rules) if a.state == FIRING]
    if not fired:
        return
    st.warning(
        f"Firing now ({len(fired)}): "
        + "; ".join(
            f"{c.escape_markdown(a.rule.name)} on {c.escape_markdown(a.stored.scope)} "
            f"({c.escape_markdown(a.rule.severity)}, since "
            f"{c.fmt_time(a.since) if a.since else c.DASH} UTC"
            f"{', silenced' if a.silenced else ''})"
            for a in fired
        )
        + ". The Alerts page has the details.",
        icon="🚨",
    )
