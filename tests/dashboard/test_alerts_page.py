"""The Alerts page and the overview's flag of firing alerts, through AppTest on the seeded store
with alert states, episodes and a silence as evaluation stores them."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from collector.alerts.rules import DEFAULT_RULES
from collector.config import load_settings
from tests.dashboard.conftest import (
    SILENCE_COMMENT,
    SeededAlerts,
    SeededStore,
    add_alerts,
    remove_alerts,
)
from tests.dashboard.test_pages import infos, run, warnings

PAGE = "views/alerts.py"
SCOPE = "contoso-eastus2/support-bot"


@pytest.fixture
def alerts(seeded: SeededStore) -> Iterator[SeededAlerts]:
    remove_alerts(seeded.engine)
    try:
        yield add_alerts(seeded.engine, SCOPE)
    finally:
        remove_alerts(seeded.engine)


#: A column only each table of the page has.
FIRING, HISTORY, SILENCES, RULES = "explained on", "minutes", "comment", "condition"


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The one table of the page with ``column``."""
    [found] = [t.value for t in at.dataframe if column in t.value.columns]
    return found


def test_firing_and_pending_are_shown_with_their_silence_and_link(alerts: SeededAlerts) -> None:
    at = run(PAGE)
    assert not at.error, [e.value for e in at.error]
    firing = table(at, FIRING)
    assert list(firing["state"]) == ["firing", "pending"]  # firing first
    assert list(firing["rule"]) == ["throttled", "slow"]  # not "retired": no longer configured
    assert set(firing["scope"]) == {SCOPE}
    top = firing.iloc[0]
    assert top["since"] == pd.Timestamp(alerts.fired_at)
    assert (top["latest"], top["peak"], top["silenced"]) == ("0.25", "0.31", True)
    assert not firing.iloc[1]["silenced"]  # the silence names throttled only
    link = top["explained on"]
    assert link.startswith("./rate_limits?range=custom&")
    assert "resource=contoso-eastus2" in link and "deployment=support-bot" in link
    assert firing.iloc[1]["explained on"].startswith("./latency?")


def test_history_lists_the_windows_episodes_newest_first(alerts: SeededAlerts) -> None:
    at = run(PAGE, range="24h")
    history = table(at, HISTORY)
    assert list(history["rule"]) == ["throttled", "errors"]
    assert history.iloc[0]["start"] == pd.Timestamp(alerts.run_start)
    assert pd.isna(history.iloc[0]["end"])  # still open
    assert history.iloc[1]["start"] == pd.Timestamp(alerts.resolved_start)
    assert history.iloc[1]["minutes"] == 60
    assert history.iloc[1]["peak"] == "0.4"


def test_the_last_hour_leaves_out_an_episode_that_ended_before_it(alerts: SeededAlerts) -> None:
    at = run(PAGE, range="1h")
    history = table(at, HISTORY)
    assert list(history["rule"]) == ["throttled"]


def test_silences_in_force_are_listed(alerts: SeededAlerts) -> None:
    at = run(PAGE)
    silences = table(at, SILENCES)
    assert silences.to_dict("records")[0] | {"from": None, "until": None} == {
        "rule": "throttled",
        "scope": SCOPE,
        "from": None,
        "until": None,
        "comment": SILENCE_COMMENT,
    }
    assert silences.iloc[0]["until"] > pd.Timestamp(alerts.now)


def test_every_rule_is_listed_with_its_condition_and_last_evaluation(
    alerts: SeededAlerts,
) -> None:
    at = run(PAGE)
    rules = table(at, RULES)
    assert list(rules["rule"]) == [r["name"] for r in DEFAULT_RULES]
    configured = {r.name: r for r in load_settings().alerts.rules}
    assert {r: configured[r].describe() for r in rules["rule"]} == dict(
        zip(rules["rule"], rules["condition"], strict=True)
    )
    throttled = rules.set_index("rule").loc["throttled"]
    assert throttled["last evaluation"] == pd.Timestamp(alerts.updated_at)
    assert (throttled["scopes"], throttled["firing"]) == (1, 1)
    never = rules.set_index("rule").loc["budget-forecast"]
    assert never["scopes"] == 0 and pd.isna(never["last evaluation"])


def test_the_overview_flags_what_fires_and_only_that(alerts: SeededAlerts) -> None:
    at = run()
    flagged = [w for w in warnings(at) if w.startswith("Firing now")]
    assert len(flagged) == 1
    assert flagged[0].startswith(f"Firing now (1): throttled on {SCOPE} (warning, since ")
    assert "silenced" in flagged[0]
    assert "slow" not in flagged[0] and "retired" not in flagged[0]


def test_nothing_evaluated_yet_is_explained_and_not_flagged(seeded: SeededStore) -> None:
    remove_alerts(seeded.engine)
    at = run(PAGE)
    assert any(i.startswith("No rule has been evaluated yet") for i in infos(at))
    assert "No silence is in force. foundry-monitor alerts silence RULE --for 2h adds one." in [
        i.replace("`", "") for i in infos(at)
    ]
    assert table(at, RULES)["scopes"].sum() == 0  # the rules are still listed
    assert not [w for w in warnings(run()) if w.startswith("Firing now")]
