"""Alert rules: parsed once in the settings, refused in one line naming the rule and the field."""

from __future__ import annotations

import json

import pytest

from collector.alerts.rules import DEFAULT_RULES, Rule, parse_rules
from collector.config import load_settings
from collector.errors import ConfigError

GOOD = {"name": "throttled", "signal": "rate_429", "op": ">", "threshold": 0.1}


def test_the_shipped_rules_parse_and_are_the_default() -> None:
    rules = parse_rules(list(DEFAULT_RULES))
    assert [r.name for r in rules] == [r["name"] for r in DEFAULT_RULES]
    settings = load_settings()
    assert [r.name for r in settings.alerts.rules] == [r.name for r in rules]


def test_an_empty_list_turns_alerts_off() -> None:
    assert load_settings(alert_rules=[]).alerts.rules == ()


def test_a_rule_gets_its_defaults_and_a_scope_filter() -> None:
    (rule,) = parse_rules([{**GOOD, "scope": "deployment:prod-*", "notify": "slack, webhook"}])
    assert rule == Rule(
        name="throttled", signal="rate_429", op=">", threshold=0.1, window_minutes=5,
        for_minutes=0, scope="deployment", match="prod-*", severity="warning",
        notify=("slack", "webhook"),
    )  # fmt: skip
    assert rule.matches("PROD-chat") and not rule.matches("staging-chat")
    assert rule.breaches(0.11) and not rule.breaches(0.1) and not rule.breaches(None)


def test_an_anomaly_rule_watches_its_base_signal() -> None:
    (rule,) = parse_rules([{**GOOD, "signal": "anomaly:requests", "threshold": 4}])
    assert rule.anomaly and rule.base_signal == "requests"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "bad name!"}, "rule 1: name must be letters"),
        ({"signal": "rate_430"}, "rule 'throttled': signal 'rate_430' is unknown"),
        ({"signal": "anomaly:spend_day"}, "anomaly:spend_day is not supported"),
        ({"op": ">="}, "op must be '>' or '<'"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"window_minutes": 0}, "window_minutes must be a whole number from 1 to 1440"),
        ({"for_minutes": -1}, "for_minutes must be a whole number from 0 to 10080"),
        ({"scope": "budget"}, "scope 'budget' does not fit signal rate_429"),
        ({"scope": "all:x*"}, "scope 'all' takes no name filter"),
        ({"severity": "page"}, "severity must be one of info, warning, critical"),
        ({"notify": ["pager"]}, "notify must be a list of email, teams, slack, webhook"),
        ({"thresold": 1}, "unknown field 'thresold'"),
    ],
)
def test_a_bad_rule_is_named_with_its_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse_rules([{**GOOD, **change}])


def test_two_rules_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse_rules([GOOD, GOOD])


def test_the_setting_names_the_variable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_ALERT_RULES", json.dumps([{**GOOD, "op": "=>"}]))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text == "FOUNDRY_MONITOR_ALERT_RULES is invalid: rule 'throttled': op must be '>' or '<'"


def test_pool_utilization_is_a_pool_signal() -> None:
    rule = {**GOOD, "signal": "pool_utilization", "threshold": 90, "scope": "pool"}
    (parsed,) = load_settings(alert_rules=[rule]).alerts.rules
    assert parsed.signal == "pool_utilization"
    with pytest.raises(ConfigError, match="pool_utilization"):
        load_settings(alert_rules=[{**rule, "scope": "deployment"}])


def test_a_rule_notifying_a_target_without_its_settings_fails_at_start() -> None:
    alerts = load_settings(alert_rules=[{**GOOD, "notify": ["webhook"]}]).alerts
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_ALERT_WEBHOOK_URL is not set"):
        alerts.check_targets()
    slack = load_settings(alert_rules=[{**GOOD, "notify": ["slack"]}]).alerts
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_SLACK_WEBHOOK_URL"):
        slack.check_targets()


def test_toml_rules_are_read_from_the_config_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "monitor.toml"
    config.write_text(
        "[[foundry_monitor.alert_rules]]\n"
        'name = "errors"\nsignal = "error_rate"\nop = ">"\nthreshold = 0.2\n'
        'scope = "resource"\nfor_minutes = 3\n'
    )
    (rule,) = load_settings(config).alerts.rules
    assert (rule.name, rule.scope, rule.for_minutes) == ("errors", "resource", 3)


def test_rules_naming_no_target_notify_the_default_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_MONITOR_ALERT_NOTIFY", "webhook,slack")
    rules = load_settings(alert_rules=[GOOD, {**GOOD, "name": "own", "notify": ["email"]}])
    assert [r.notify for r in rules.alerts.rules] == [("webhook", "slack"), ("email",)]
    monkeypatch.setenv("FOUNDRY_MONITOR_ALERT_NOTIFY", "pager")
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_ALERT_NOTIFY='pager' is invalid"):
        load_settings()


def test_the_dashboard_link_must_be_an_http_url() -> None:
    with pytest.raises(ConfigError, match="FOUNDRY_MONITOR_ALERT_LINK_BASE is invalid"):
        load_settings(alert_link_base="javascript:alert(1)")
    assert load_settings(alert_link_base="https://m.example.com").alerts.link_base
