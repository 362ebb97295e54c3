"""The rule API on the real store (SQLite and PostgreSQL): project rules re-synced
without touching runtime ones, add/remove/enable/disable, history, test."""

from __future__ import annotations

from typing import Any

import pytest

from rampup.alerts.service import Alerts
from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.project import ProjectFile, parse_project
from rampup.store import Database
from tests.alerts.conftest import Clock, FakeSource


def project(*rules: dict[str, Any], notifiers: dict[str, Any] | None = None) -> ProjectFile:
    return parse_project({"alerting": {"notifiers": notifiers or {}},
                          "models": {"credit": {"alerts": list(rules)}}})


ERRORS = {"name": "errors", "condition": "error_rate > 0.05 for 5m", "severity": "critical"}
SLOW = {"name": "slow", "condition": "latency_p99 > 300"}


def test_sync_adds_updates_and_removes_project_rules_only(store: Database) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    first = alerts.sync_project(project(ERRORS, SLOW))
    assert sorted(first.added) == ["credit/errors", "credit/slow"]
    alerts.add("credit", {"name": "mine", "condition": "accuracy < 0.8"}, actor="ops")
    again = alerts.sync_project(project(ERRORS, SLOW))
    assert (again.added, again.updated, again.removed) == ([], [], [])
    # the file changes: slow is tightened, errors removed
    changed = alerts.sync_project(project({**SLOW, "condition": "latency_p99 > 200"}))
    assert (changed.updated, changed.removed) == (["credit/slow"], ["credit/errors"])
    rules = {r.name: r for r in alerts.rules("credit")}
    assert sorted(rules) == ["mine", "slow"]
    assert rules["mine"].source == "runtime"  # untouched by the sync
    assert rules["slow"].condition.threshold == 200


def test_runtime_rule_overrides_a_project_rule_of_the_same_name(store: Database) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    alerts.sync_project(project(ERRORS))
    with pytest.raises(ConflictError, match=r"already exists \(project\)"):
        alerts.add("credit", {**ERRORS, "condition": "error_rate > 0.2"})
    alerts.add("credit", {**ERRORS, "condition": "error_rate > 0.2"}, replace=True)
    sync = alerts.sync_project(project(ERRORS))
    assert sync.overridden == ["credit/errors"]
    rule = alerts.get("credit", "errors")
    assert (rule.source, rule.condition.threshold) == ("runtime", 0.2)


def test_operator_toggle_survives_a_resync(store: Database) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    alerts.sync_project(project(ERRORS))
    alerts.set_enabled("credit", "errors", False, actor="ops")
    alerts.sync_project(project({**ERRORS, "severity": "warning"}))
    rule = alerts.get("credit", "errors")
    assert (rule.enabled, rule.severity) == (False, "warning")
    actions = [e.action for e in store.events.list_events("credit")]
    assert "alert_rule_disabled" in actions


def test_sync_checks_notifier_names_and_duplicates(store: Database) -> None:
    alerts = Alerts(store)
    with pytest.raises(ValidationError, match=r"unknown notifier\(s\) pager \(known: log"):
        alerts.sync_project(project({**ERRORS, "notify": ["pager"]}))
    ok = project({**ERRORS, "notify": ["pager"]},
                 notifiers={"pager": {"type": "command", "command": ["true"]}})
    assert alerts.sync_project(ok).added == ["credit/errors"]
    with pytest.raises(ValidationError, match="the rule name is used twice"):
        alerts.sync_project(project(ERRORS, ERRORS))


def test_add_remove_and_errors(store: Database) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    with pytest.raises(NotFoundError, match="model 'nope' does not exist"):
        alerts.add("nope", SLOW)
    with pytest.raises(ValidationError, match="condition: Value error, unknown metric 'spead'"):
        alerts.add("credit", {"name": "x", "condition": "spead > 1"})
    with pytest.raises(ValidationError,
                       match=r"cooldown: Value error, cooldown: cannot read .* as a duration"):
        alerts.add("credit", {**SLOW, "cooldown": "soon"})
    with pytest.raises(ValidationError, match=r"notify: .*|unknown notifier"):
        alerts.add("credit", {**SLOW, "notify": ["slack"]})
    alerts.add("credit", SLOW)
    assert alerts.remove("credit", "slow").name == "slow"
    with pytest.raises(NotFoundError, match=r"credit has no alert rule 'slow' \(rules: none\)"):
        alerts.remove("credit", "slow")
    alerts.sync_project(project(ERRORS))
    with pytest.raises(ConflictError, match="comes from the project file"):
        alerts.remove("credit", "errors")


def test_history_filters(store: Database) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store)
    alerts.add("credit", SLOW)
    store.alerts.add_alert_events([
        {"model": "credit", "rule": "slow", "ts": 10.0, "kind": "state", "state": "firing"},
        {"model": "credit", "rule": "slow", "ts": 11.0, "kind": "notified", "state": "firing"},
        {"model": "credit", "rule": "gone", "ts": 12.0, "kind": "state", "state": "firing"}])
    assert [e["kind"] for e in alerts.history("credit", "slow")] == ["notified", "state"]
    assert [e["ts"] for e in alerts.history("credit", kinds=["state"])] == [12.0, 10.0]
    assert [e["rule"] for e in alerts.history("credit", since=11.5)] == ["gone"]
    assert alerts.history("credit", "gone")  # a removed rule's history stays readable
    with pytest.raises(ValidationError, match="unknown history kind"):
        alerts.history("credit", kinds=["fired"])
    with pytest.raises(NotFoundError):
        alerts.history("credit", "never")


def test_test_measures_without_changing_state(store: Database, source: FakeSource,
                                              clock: Clock) -> None:
    store.models.ensure_model("credit")
    alerts = Alerts(store, clock=clock)
    alerts.add("credit", {**SLOW, "version": "v2", "window": "1m"})
    source.set("credit", "latency_p99", 420.0, version="v2")
    result = alerts.test("credit", "slow", source)
    assert (result.value, result.breached) == (420.0, True)
    assert result.message == "latency_p99 [v2] = 420 over 1m (alarm when > 300)"
    assert source.reads[-1] == {"model": "credit", "metric": "latency_p99", "version": "v2",
                                "role": "answer", "stage": None, "window_s": 60.0,
                                "now": clock.t}
    assert alerts.status("credit")[0].state.state == "ok"
    unsaved = alerts.test("credit", {"name": "t", "condition": "error_rate > 0.1"}, source)
    assert (unsaved.value, unsaved.breached) == (None, False)
