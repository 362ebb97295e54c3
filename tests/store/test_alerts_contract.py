"""Alerts repository contract: rules (project and runtime), their states, their history.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import pytest

from rampup.errors import ConflictError
from rampup.store import Database

SPEC = {"metric": "error_rate", "op": ">", "threshold": 0.05, "for": "5m"}


def test_runtime_rules_conflict_unless_replaced(store: Database) -> None:
    store.alerts.add_alert_rule("m", "errors", SPEC, source="runtime", actor="alice")
    with pytest.raises(ConflictError, match="m/errors already exists"):
        store.alerts.add_alert_rule("m", "errors", SPEC, source="runtime")
    store.alerts.add_alert_rule("m", "errors", {**SPEC, "threshold": 0.1}, source="runtime",
                                enabled=False, actor="bob", replace=True)
    rule = store.alerts.get_alert_rule("m", "errors")
    assert rule is not None
    assert (rule["spec"]["threshold"], rule["enabled"], rule["actor"]) == (0.1, False, "bob")
    assert store.alerts.get_alert_rule("m", "nope") is None


def test_sync_makes_project_rules_match_and_leaves_runtime_ones(store: Database) -> None:
    store.alerts.add_alert_rule("m", "latency", SPEC, source="runtime")  # overrides below
    first = store.alerts.sync_alert_rules({"m": [("errors", SPEC, True), ("latency", SPEC, True),
                                                 ("gone", SPEC, True)]})
    assert (first.added, first.overridden) == (["m/errors", "m/gone"], ["m/latency"])
    assert store.alerts.set_alert_rule_enabled("m", "errors", False, actor="ops")
    again = store.alerts.sync_alert_rules({"m": [("errors", {**SPEC, "threshold": 0.2}, True)]})
    assert (again.added, again.updated, again.removed) == ([], ["m/errors"], ["m/gone"])
    rules = {r["name"]: r for r in store.alerts.list_alert_rules("m")}
    assert sorted(rules) == ["errors", "latency"]
    assert rules["errors"]["enabled"] is False  # an operator's toggle survives a sync
    assert rules["latency"]["source"] == "runtime"
    assert [r["name"] for r in store.alerts.list_alert_rules(enabled_only=True)] == ["latency"]
    assert not store.alerts.set_alert_rule_enabled("m", "nope", True)


def test_states_are_upserted_and_deleted_with_their_rule(store: Database) -> None:
    store.alerts.add_alert_rule("m", "errors", SPEC, source="runtime")
    store.alerts.add_alert_rule("n", "errors", SPEC, source="runtime")
    store.alerts.save_alert_states([("m", "errors", "pending", 10.0, {"state": "pending"}),
                                    ("n", "errors", "ok", None, {"state": "ok"})])
    store.alerts.save_alert_states([("m", "errors", "firing", 10.0, {"state": "firing"})])
    assert store.alerts.alert_states() == {("m", "errors"): {"state": "firing"},
                                           ("n", "errors"): {"state": "ok"}}
    assert store.alerts.alert_states("n") == {("n", "errors"): {"state": "ok"}}
    assert store.alerts.delete_alert_rule("m", "errors")
    assert not store.alerts.delete_alert_rule("m", "errors")
    assert store.alerts.alert_states("m") == {}


def test_history_is_filtered_and_ordered(store: Database) -> None:
    store.alerts.add_alert_events([])
    store.alerts.add_alert_events([
        {"model": "m", "rule": "errors", "ts": 10.0, "kind": "pending"},
        {"model": "m", "rule": "errors", "ts": 20.0, "kind": "firing", "state": "firing",
         "value": 0.09, "threshold": 0.05, "severity": "page", "message": "errors high",
         "details": {"window": "5m"}},
        {"model": "m", "rule": "latency", "ts": 30.0, "kind": "resolved"},
        {"model": "n", "rule": "errors", "ts": 40.0, "kind": "firing"}])
    assert [e["ts"] for e in store.alerts.list_alert_events()] == [40.0, 30.0, 20.0, 10.0]
    firing = store.alerts.list_alert_events("m", "errors", kinds=["firing"])
    assert [(e["value"], e["message"], e["details"]) for e in firing] == [
        (0.09, "errors high", {"window": "5m"})]
    assert [e["ts"] for e in store.alerts.list_alert_events(
        "m", since=15.0, until=30.0, oldest_first=True)] == [20.0]
    assert [e["ts"] for e in store.alerts.list_alert_events(
        limit=None, oldest_first=True)] == [10.0, 20.0, 30.0, 40.0]
    assert store.alerts.list_alert_events("m", "errors")[1]["state"] is None
