"""AutomationLevels repository contract: run-time level overrides per model.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from rampup.store import Database


def test_an_override_is_set_replaced_and_cleared(store: Database) -> None:
    assert store.automation.automation_levels() == {}
    store.automation.set_automation_level("m", "partial", actor="a", reason="trial", now=1.0)
    store.automation.set_automation_level("n", "none", actor="a", reason="", now=1.5)
    store.automation.set_automation_level("m", "full", actor="b", reason="good", now=2.0)
    assert store.automation.automation_levels() == {
        "m": {"level": "full", "updated_at": 2.0, "actor": "b", "reason": "good"},
        "n": {"level": "none", "updated_at": 1.5, "actor": "a", "reason": ""}}
    assert store.automation.clear_automation_level("m")
    assert not store.automation.clear_automation_level("m")
    assert list(store.automation.automation_levels()) == ["n"]
