"""RetrainRuns repository contract: one active run per model, compare-and-set updates, a
run fenced on the deployment it was asked for.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import pytest

from rampup.errors import RetrainRefusedError, SupersededError
from rampup.store import Database


def _run(model: str, state: str = "queued", t: float = 100.0) -> dict[str, object]:
    return {"model": model, "state": state, "trigger": "manual", "actor": "a", "reason": "r",
            "details": {"why": 1}, "created_at": t, "updated_at": t}


def test_runs(store: Database) -> None:
    store.models.ensure_model("m")
    first = store.retrain.insert_retrain_run(_run("m"))
    with pytest.raises(RetrainRefusedError, match="already has a retraining run queued"):
        store.retrain.insert_retrain_run(_run("m"))
    other = store.retrain.insert_retrain_run(_run("other"))  # another model is independent
    assert store.retrain.update_retrain_run(first, {"state": "running"}, expect_states=["queued"])
    assert not store.retrain.update_retrain_run(first, {"state": "running"},
                                                expect_states=["queued"])
    assert store.retrain.update_retrain_run(first, {"state": "failed", "dataset": {"rows": 3},
                                            "reasons": ["x"], "error": "boom"})
    second = store.retrain.insert_retrain_run(_run("m", t=200.0))
    run = store.retrain.get_retrain_run(first)
    assert run is not None
    assert (run["state"], run["dataset"], run["details"], run["error"]) == (
        "failed", {"rows": 3}, {"why": 1}, "boom")
    assert store.retrain.get_retrain_run(999) is None
    assert [r["id"] for r in store.retrain.list_retrain_runs("m")] == [second, first]
    assert [r["id"] for r in store.retrain.list_retrain_runs(states=["queued"])] == [second, other]
    assert [r["id"] for r in store.retrain.list_retrain_runs("m", since=150.0)] == [second]


def test_a_run_fenced_on_a_replaced_deployment_is_superseded_and_recorded(
        store: Database) -> None:
    store.models.ensure_model("m")
    first = store.deployments.append_deployment("m", {"routes": {"v1": 100}}, "alice")
    store.deployments.append_deployment("m", {"routes": {"v2": 100}}, "bob")
    with pytest.raises(SupersededError, match="retraining m not queued"):
        store.retrain.insert_retrain_run(_run("m"), seen=first.id)
    assert store.retrain.list_retrain_runs("m") == []
    [event] = store.events.list_events("m", action="superseded")
    assert event.details["decided_on"] == first.id
    current = store.deployments.current_deployment("m")
    assert current is not None
    assert store.retrain.insert_retrain_run(_run("m"), seen=current.id) > 0
