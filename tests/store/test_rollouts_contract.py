"""Rollouts repository contract: revisioned rollout rows and their check results.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest

from rampup.errors import ConflictError
from rampup.store import Database


def rollout(model: str = "m", candidate: str = "v2", state: str = "canary",
            **extra: Any) -> dict[str, Any]:
    return {"model": model, "candidate": candidate, "baseline": "v1", "strategy": "canary",
            "plan": {"steps": [{"canary": 5}]}, "state": state, "step": 0,
            "step_started_at": 10.0, "created_at": 10.0, "updated_at": 10.0,
            "actor": "alice", **extra}


def test_one_active_rollout_per_model(store: Database) -> None:
    store.models.ensure_model("m")
    first = store.rollouts.insert_rollout(rollout())
    with pytest.raises(ConflictError, match="already has an active rollout"):
        store.rollouts.insert_rollout(rollout(candidate="v3"))
    done = store.rollouts.insert_rollout(rollout(candidate="v0", state="promoted"))
    row = store.rollouts.get_rollout(first)
    assert row is not None
    assert (row["candidate"], row["state"], row["revision"], row["salt"]) == (
        "v2", "canary", 0, "rampup")
    assert row["plan"] == {"steps": [{"canary": 5}]}
    assert store.rollouts.get_rollout(done + 100) is None


def test_list_newest_first_by_model_and_activity(store: Database) -> None:
    for name in ("m", "n"):
        store.models.ensure_model(name)
    old = store.rollouts.insert_rollout(rollout(state="aborted"))
    live = store.rollouts.insert_rollout(rollout())
    other = store.rollouts.insert_rollout(rollout("n"))
    assert [r["id"] for r in store.rollouts.list_rollouts()] == [other, live, old]
    assert [r["id"] for r in store.rollouts.list_rollouts("m")] == [live, old]
    assert [r["id"] for r in store.rollouts.list_rollouts("m", active_only=True)] == [live]
    assert [r["id"] for r in store.rollouts.list_rollouts(limit=1)] == [other]


def test_update_is_a_compare_and_set_on_the_revision(store: Database) -> None:
    store.models.ensure_model("m")
    rid = store.rollouts.insert_rollout(rollout())
    assert store.rollouts.update_rollout(rid, 0, {"state": "paused", "paused_state": "canary"})
    assert not store.rollouts.update_rollout(rid, 0, {"state": "aborted"})  # read revision 0
    row = store.rollouts.get_rollout(rid)
    assert row is not None
    assert (row["state"], row["paused_state"], row["revision"]) == ("paused", "canary", 1)


def test_checks_newest_first_per_rollout(store: Database) -> None:
    store.models.ensure_model("m")
    rid = store.rollouts.insert_rollout(rollout())
    results = [{"check": "error_rate <= 0.01", "verdict": "pass", "value": 0.002}]
    store.rollouts.add_rollout_check(rid, 0, 20.0, "wait", "wait", "too little data", [])
    store.rollouts.add_rollout_check(rid, 0, 30.0, "pass", "advance", "", results)
    checks = store.rollouts.list_rollout_checks(rid)
    assert [(c["ts"], c["decision"]) for c in checks] == [(30.0, "advance"), (20.0, "wait")]
    assert checks[0]["results"] == results
    assert len(store.rollouts.list_rollout_checks(rid, limit=1)) == 1
    assert store.rollouts.list_rollout_checks(rid + 1) == []
