"""Alerts: what fires now (and what is pending), the episodes of the window, the silences in
force, and every configured rule with its condition and last evaluation. The page only reads
what the collector's evaluation stored (``foundry-monitor run`` after each collection, or
``foundry-monitor alerts evaluate``); it is not filtered by the sidebar's deployment filters."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from collector.alerts.evaluate import FIRING
from collector.alerts.message import number
from collector.alerts.run import episode_link
from collector.store.alerts import ANY_SCOPE
from dashboard import alerting, downloads
from dashboard import columns as cols
from dashboard import common as c

view = c.page_view("Alerts")
st.caption(
    f"As of {c.fmt_time(view.now)} UTC. Firing, silences and rules are as of now; the history "
    "covers the time range. Alerts are not filtered by the sidebar's deployment filters."
)
settings = c.settings().alerts
rules = {r.name: r for r in settings.rules}
shown = alerting.shown_alerts(view, settings.rules)
TIME = "YYYY-MM-DD HH:mm"

st.subheader("Firing now")
active = sorted(
    (a for a in shown if a.state in alerting.ACTIVE),
    key=lambda a: (alerting.ACTIVE.index(a.state), a.rule.name, a.stored.scope),
)
if not rules:
    st.info("No alert rule is configured (FOUNDRY_MONITOR_ALERT_RULES is an empty list).")
elif not shown:
    st.info(
        "No rule has been evaluated yet: `foundry-monitor run` evaluates the rules after each "
        "collection, `foundry-monitor alerts evaluate` on demand."
    )
elif not active:
    st.success("Nothing is firing or pending.")
else:
    downloads.show_table(
        "alerts_firing",
        [
            {
                "rule": a.rule.name,
                "scope": a.stored.scope,
                "state": a.state,
                "severity": a.rule.severity,
                "since": a.since,
                "latest": number(a.stored.last_value),
                "peak": number(a.stored.run_peak),
                "silenced": a.silenced,
                "explained on": episode_link(
                    a.rule,
                    a.stored.scope,
                    a.stored.run_start or a.since or view.now,
                    a.stored.fired_at or view.now,
                    None,
                    ".",  # relative: the dashboard's own pages, under any base path
                ),
            }
            for a in active
        ],
        column_config={
            "since": st.column_config.DatetimeColumn("Since (UTC)", format=TIME),
            "latest": st.column_config.TextColumn(
                "Latest value", help="The signal's value at the last evaluated minute."
            ),
            "peak": st.column_config.TextColumn(
                "Peak", help="The most extreme value of the current breaching run."
            ),
            "silenced": st.column_config.CheckboxColumn(
                "Silenced", help="A silence is in force: no message is sent."
            ),
            "explained on": st.column_config.LinkColumn(
                "Explained on",
                help="The page that explains the signal, over the episode and its scope.",
                display_text=r"\./([a-z_]+)\?",
            ),
        },
    )
    st.caption(
        "Pending: the condition holds but not yet for the rule's minutes. Firing since: when the "
        "rule fired (its condition held from the run's first minute)."
    )

episodes = c.load_alert_episodes(view.url, view.since, view.until)
if downloads.titled_table(
    "History",
    "alerts_history",
    [
        {
            "rule": e.rule,
            "scope": e.scope,
            "severity": e.severity,
            "signal": e.signal,
            "start": e.started_at,
            "end": e.ended_at,
            "minutes": int(((e.ended_at or view.now) - e.started_at) / timedelta(minutes=1)),
            "peak": number(e.peak),
        }
        for e in reversed(episodes)
    ],
    "No alert episode in this time range.",
    column_config={
        "start": st.column_config.DatetimeColumn("Start (UTC)", format=TIME),
        "end": st.column_config.DatetimeColumn("End (UTC)", format=TIME),
        "minutes": cols.count("Minutes"),
        "peak": st.column_config.TextColumn("Peak", help="The most extreme value."),
    },
):
    st.caption(
        "Newest first. Start: the first minute the condition held; end (exclusive): the first "
        "minute it no longer did; — means still open."
    )

silences = c.load_alert_silences(view.url, view.now)
downloads.titled_table(
    "Silences in force",
    "alerts_silences",
    [
        {
            "rule": s.rule,
            "scope": "all scopes" if s.scope == ANY_SCOPE else s.scope,
            "from": s.starts_at,
            "until": s.ends_at,
            "comment": s.comment,
        }
        for s in silences
    ],
    "No silence is in force. `foundry-monitor alerts silence RULE --for 2h` adds one.",
    column_config={
        "from": st.column_config.DatetimeColumn("From (UTC)", format=TIME),
        "until": st.column_config.DatetimeColumn("Until (UTC)", format=TIME),
    },
)

st.subheader("Rules")
if rules:
    by_rule: dict[str, list[alerting.ShownAlert]] = {}
    for a in shown:
        by_rule.setdefault(a.rule.name, []).append(a)
    rows = []
    for rule in rules.values():
        states = by_rule.get(rule.name, [])
        rows.append(
            {
                "rule": rule.name,
                "condition": rule.describe(),
                "severity": rule.severity,
                "notify": ", ".join(rule.notify),
                "scopes": len(states),
                "firing": sum(a.state == FIRING for a in states),
                "last evaluation": max((a.stored.updated_at for a in states), default=None),
                "evaluated up to": max(
                    (a.stored.until for a in states if a.stored.until), default=None
                ),
                "about": rule.description,
            }
        )
    downloads.show_table(
        "alerts_rules",
        rows,
        column_config={
            "notify": st.column_config.TextColumn("Notify", help="Where its messages go."),
            "scopes": st.column_config.NumberColumn("Scopes", help="Scopes with a stored state."),
            "last evaluation": st.column_config.DatetimeColumn(
                "Last evaluation (UTC)", format=TIME, help="When a state of the rule was stored."
            ),
            "evaluated up to": st.column_config.DatetimeColumn(
                "Evaluated up to (UTC)",
                format=TIME,
                help="The next minute to evaluate: data arrive late, so evaluation trails now.",
            ),
        },
    )
    st.caption("`foundry-monitor alerts list` prints the same rules; the README has the defaults.")
