"""Deployments repository contract: the append-only history and the fenced decision.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import pytest

from rampup.errors import ConflictError, NotFoundError, SupersededError
from rampup.store import Database
from rampup.store.deployments import Change, Fence


def test_deployments_are_an_append_only_history(store: Database) -> None:
    store.models.ensure_model("m")
    assert store.deployments.current_deployment("m") is None
    assert store.deployments.deployment_history("m") == []
    policies = [{"routes": {"v1": 100}}, {"routes": {"v1": 95, "v2": 5}},
                {"routes": {"v2": 100}, "mirrors": ["v1"]}]
    made = [store.deployments.append_deployment("m", p, actor="alice", reason=f"step {i}")
            for i, p in enumerate(policies)]
    assert [d.id for d in made] == sorted({d.id for d in made})
    history = store.deployments.deployment_history("m")
    assert [d.policy for d in history] == policies[::-1]  # newest first
    assert history[0] == made[-1]
    assert store.deployments.current_deployment("m") == made[-1]
    assert [d.reason for d in store.deployments.deployment_history("m", limit=2)] == ["step 2",
                                                                                      "step 1"]
    # Rolling back is appending the previous policy again: history only grows.
    back = store.deployments.append_deployment("m", policies[1], actor="bob", reason="rollback")
    assert store.deployments.current_deployment("m") == back
    assert len(store.deployments.deployment_history("m")) == 4


def test_latest_deployment_ids_per_model(store: Database) -> None:
    assert store.deployments.latest_deployment_ids() == {}
    for name in ("a", "b", "c"):
        store.models.ensure_model(name)
    a1 = store.deployments.append_deployment("a", {"routes": {"v1": 100}}, actor="x")
    b1 = store.deployments.append_deployment("b", {"routes": {"v1": 100}}, actor="x")
    a2 = store.deployments.append_deployment("a", {"routes": {"v2": 100}}, actor="x")
    assert store.deployments.latest_deployment_ids() == {"a": a2.id, "b": b1.id}
    assert a2.id > a1.id


def test_deployment_of_unknown_model_is_not_found(store: Database) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        store.deployments.append_deployment("ghost", {"routes": {}}, actor="x")
    assert store.deployments.latest_deployment_ids() == {}




# -- the fenced decision ------------------------------------------------------------------------

def rollout(candidate: str) -> dict[str, object]:
    return {"model": "m", "candidate": candidate, "baseline": "v1", "strategy": "canary",
            "plan": {}, "state": "canary", "step": 0, "step_started_at": 1.0,
            "created_at": 1.0, "updated_at": 1.0, "actor": "alice"}


def test_a_decision_writes_rollout_deployment_and_events_together(store: Database) -> None:
    store.models.ensure_model("m")
    base = store.deployments.append_deployment("m", {"routes": {"v1": 100}}, "alice")
    applied = store.deployments.decide("m", Fence(base.id), Change(
        "alice", "canary v2", policy={"routes": {"v1": 95, "v2": 5}}, owner="new",
        new_rollout=rollout("v2"), events=[("rollout_started", "v2", {"plan": "canary"})]))
    assert applied.changed
    assert applied.deployment is not None
    assert applied.rollout_id is not None
    assert applied.deployment.rollout_id == applied.rollout_id
    assert store.deployments.current_deployment("m") == applied.deployment
    started = store.events.list_events("m", action="rollout_started")[0]
    assert started.details == {"deployment_id": applied.deployment.id,
                               "rollout_id": applied.rollout_id, "plan": "canary"}
    # the rollout moves on its revision; the same policy appends no deployment row
    fence = Fence(applied.deployment.id, applied.rollout_id, revision=0)
    same = Change("controller", "hold", policy={"routes": {"v1": 95, "v2": 5}},
                  owner=applied.rollout_id, rollout={"step": 1})
    again = store.deployments.decide("m", fence, same)
    assert not again.changed
    row = store.rollouts.get_rollout(applied.rollout_id)
    assert row is not None
    assert (row["step"], row["revision"]) == (1, 1)


def test_a_decision_on_a_moved_state_changes_nothing_and_is_recorded(store: Database) -> None:
    store.models.ensure_model("m")
    seen = store.deployments.append_deployment("m", {"routes": {"v1": 100}}, "alice")
    store.deployments.append_deployment("m", {"routes": {"v2": 100}}, "bob")
    before = store.deployments.deployment_history("m")
    with pytest.raises(SupersededError, match="controller's decision on m was not applied"):
        store.deployments.decide("m", Fence(seen.id), Change(
            "controller", "advance", policy={"routes": {"v1": 50, "v3": 50}},
            new_rollout=rollout("v3")))
    assert store.deployments.deployment_history("m") == before
    assert store.rollouts.list_rollouts("m") == []
    [refusal] = store.events.list_events("m", action="superseded")
    assert (refusal.actor, refusal.details["decided_on"]) == ("controller", seen.id)


def test_a_second_active_rollout_is_a_conflict(store: Database) -> None:
    store.models.ensure_model("m")
    store.deployments.decide("m", Fence(latest=True), Change("a", "r", new_rollout=rollout("v2")))
    with pytest.raises(ConflictError, match=r"already has an active rollout \(#\d+ of v2\)"):
        store.deployments.decide("m", Fence(latest=True),
                                 Change("b", "r", new_rollout=rollout("v3")))


def test_a_person_s_write_supersedes_the_active_rollout(store: Database) -> None:
    store.models.ensure_model("m")
    started = store.deployments.decide("m", Fence(latest=True), Change(
        "a", "r", policy={"routes": {"v1": 90, "v2": 10}}, owner="new",
        new_rollout=rollout("v2")))
    store.deployments.append_deployment("m", {"routes": {"v1": 100}}, "ops", "by hand")
    row = store.rollouts.get_rollout(started.rollout_id or 0)
    assert row is not None
    assert row["state"] == "superseded"
    assert store.rollouts.list_rollouts("m", active_only=True) == []
    store.deployments.note_superseded("m", "timer", "nothing to unload", {"k": 1})
    note = store.events.list_events("m", action="superseded")[0]
    assert note.details == {"level": "info", "message": "nothing to unload", "k": 1}
