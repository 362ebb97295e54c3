"""Fencing through the real app and store: a decision made on a deployment or rollout
revision that has moved on changes nothing and is recorded as superseded.

The first test is the reported bug: two blue/green rollouts on one model, the first
keeping its standby 15 s, the second 600 s; once the first one's standby timer fires,
traffic must stay on the second candidate.
"""

from __future__ import annotations

import pytest

from rampup.errors import ConflictError, SupersededError
from rampup.rollout.plan import Plan, Step
from rampup.rollout.service import Rollouts
from rampup.store import Database
from tests.rollout.conftest import AUTH, Harness


def bluegreen(keep_s: float) -> Plan:
    return Plan(strategy="bluegreen", checks=[], standby_keep_s=keep_s,
                steps=[Step(kind="bluegreen", min_duration_s=0, min_requests=0)])


def canary(weight: float, hold_s: float = 0) -> Plan:
    return Plan(strategy="canary", checks=[],
                steps=[Step(kind="canary", weight=weight, min_duration_s=hold_s,
                            min_requests=0)])


async def served(harness: Harness, n: int = 40) -> set[str]:
    await harness.refresh()
    responses = await harness.traffic(n, seed=n, label=False)
    assert all(r.status_code == 200 for r in responses)
    return {r.headers["x-model-version"] for r in responses}


def superseded_events(store: Database) -> list[str]:
    return [e.details["message"] for e in store.events.list_events("m", limit=500)
            if e.action == "superseded"]


def unasked_rows(store: Database) -> list[int]:
    """Deployment rows with no 'deploy' event naming them (every policy change has one)."""
    asked = {e.details.get("deployment_id") for e in store.events.list_events("m", limit=1000)
             if e.action == "deploy"}
    return [d.id for d in store.deployments.deployment_history("m",
                                                               limit=1000) if d.id not in asked]


async def test_an_earlier_promotion_s_standby_timer_keeps_the_newer_candidate(
        harness: Harness) -> None:
    harness.register("v2", "Candidate")
    harness.register("v3", "Successor")
    first = harness.rollouts.deploy("m", "v2", plan=bluegreen(15))
    assert first is not None
    await harness.tick()
    assert harness.rollouts.status("m").rollout.state == "promoted"  # type: ignore[union-attr]
    second = harness.rollouts.deploy("m", "v3", plan=bluegreen(600))
    assert second is not None
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.rollout is not None
    assert (status.rollout.id, status.rollout.state) == (second.id, "promoted")
    promoted_at = status.deployment_id
    assert await served(harness) == {"v3"}

    harness.clock.advance(25)  # past the first rollout's 15 s keep, well within 600 s
    await harness.tick()

    status = harness.rollouts.status("m")
    assert status.deployment_id == promoted_at  # no deployment row that no one asked for
    assert status.policy is not None
    assert status.policy.routes == {"v3": 100.0}
    assert status.policy.standby == "v2"  # the second promotion's standby stays warm
    assert await served(harness) == {"v3"}
    row = harness.store.rollouts.get_rollout(first.id)
    assert row is not None
    assert (row["state"], row["standby_released"]) == ("promoted", True)
    [note] = superseded_events(harness.store)
    assert note.startswith(f"superseded by deployment #{promoted_at}")
    assert unasked_rows(harness.store) == []

    harness.clock.advance(600)  # now the second one's standby goes, and only that
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.policy is not None
    assert (status.policy.routes, status.policy.standby) == ({"v3": 100.0}, None)
    assert await served(harness) == {"v3"}


async def test_a_new_rollout_keeps_the_previous_standby_until_its_timer_unloads_it(
        harness: Harness) -> None:
    harness.register("v2", "Candidate")
    harness.register("v3", "Successor")
    first = harness.rollouts.deploy("m", "v2", plan=bluegreen(15))
    await harness.tick()
    second = harness.rollouts.deploy("m", "v3", plan=canary(50, hold_s=3600))
    assert first is not None
    assert second is not None
    status = harness.rollouts.status("m")
    assert status.policy is not None
    assert status.policy.routes == {"v3": 50.0, "v2": 50.0}
    assert status.policy.standby == "v1"  # the previous promotion's, kept warm
    state = harness.app.state.rampup  # type: ignore[attr-defined]
    await harness.refresh()
    assert set(state.runtime.models["m"].versions) == {"v1", "v2", "v3"}

    harness.clock.advance(25)
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.policy is not None
    assert status.policy.routes == {"v3": 50.0, "v2": 50.0}  # no route changed
    assert status.policy.standby is None  # only the standby was unloaded
    current = harness.store.deployments.current_deployment("m")
    assert current is not None
    assert current.rollout_id == second.id  # the canary still owns what is served
    await harness.refresh()
    assert set(state.runtime.models["m"].versions) == {"v2", "v3"}
    assert await served(harness) == {"v2", "v3"}
    # the canary carries on deciding: its hold ends, it promotes
    harness.clock.advance(3600)
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.rollout is not None
    assert (status.rollout.id, status.rollout.state) == (second.id, "promoted")
    assert await served(harness) == {"v3"}
    assert unasked_rows(harness.store) == []


async def test_a_decision_on_an_old_revision_changes_nothing(harness: Harness) -> None:
    """A controller that read the rollout, then stalled (a paused leader) while an operator
    promoted it, must not apply its stale 'advance'."""
    harness.register("v2", "Candidate")
    r = harness.rollouts.deploy("m", "v2", plan=canary(10, hold_s=3600))
    assert r is not None
    stale_rollout = harness.rollouts.active("m")
    seen = harness.store.deployments.current_deployment("m")
    assert stale_rollout is not None
    assert seen is not None
    resp = await harness.client.post("/v1/admin/models/m/rollback", headers=AUTH, json={})
    assert resp.status_code == 200
    before = harness.store.deployments.current_deployment("m")
    with pytest.raises(SupersededError, match="superseded by deployment"):
        harness.rollouts.advance(*stale_rollout, "rollout-controller", "stale pass",
                                 seen=seen.id)
    assert harness.store.deployments.current_deployment("m") == before
    [note] = superseded_events(harness.store)
    assert f"superseded by deployment #{before.id}" in note  # type: ignore[union-attr]
    assert await served(harness) == {"v1"}


async def test_a_person_s_policy_ends_the_active_rollout(harness: Harness) -> None:
    harness.register("v2", "Candidate")
    r = harness.rollouts.deploy("m", "v2", plan=canary(10, hold_s=3600))
    assert r is not None
    resp = await harness.client.put("/v1/admin/models/m/deployment", headers=AUTH,
                                    json={"routes": {"v2": 100}, "reason": "by hand"})
    assert resp.status_code == 200, resp.text
    dep_id = resp.json()["deployment_id"]
    row = harness.store.rollouts.get_rollout(r.id)
    assert row is not None
    assert row["state"] == "superseded"
    assert row["reason"].startswith(f"superseded by deployment #{dep_id}")
    harness.clock.advance(7200)
    await harness.tick()  # the controller has nothing to decide: nothing moves
    assert harness.store.deployments.current_deployment("m").id == dep_id  # type: ignore[union-attr]
    assert await served(harness) == {"v2"}
    # a person's write may name what it was decided on: a stale one is refused (409)
    stale = await harness.client.put("/v1/admin/models/m/deployment", headers=AUTH, json={
        "routes": {"v1": 100}, "based_on": dep_id - 1})
    assert stale.status_code == 409
    assert stale.json()["error"] == "superseded"
    assert harness.store.deployments.current_deployment("m").id == dep_id  # type: ignore[union-attr]


def test_the_database_allows_one_active_rollout_per_model(store: Database) -> None:
    store.models.ensure_model("m")
    row = {"model": "m", "candidate": "v2", "baseline": "v1", "strategy": "canary",
           "plan": {}, "state": "canary", "step": 0, "step_started_at": 1.0,
           "created_at": 1.0, "updated_at": 1.0, "actor": "t"}
    store.rollouts.insert_rollout(row)
    with pytest.raises(ConflictError, match="already has an active rollout"):
        store.rollouts.insert_rollout({**row, "state": "paused"})  # no check before: the index
    store.rollouts.insert_rollout({**row, "state": "promoted"})  # finished ones are history
    store.models.ensure_model("other")
    store.rollouts.insert_rollout({**row, "model": "other"})


def test_rollouts_service_refuses_a_second_deploy(store: Database, tmp_path: object) -> None:
    from rampup.config import Settings
    from rampup.registry.registry import Registry
    from tests.rollout.conftest import MODELS

    registry = Registry.from_settings(Settings(project_dir=tmp_path), store)  # type: ignore[arg-type]
    for v, cls in (("v1", "Healthy"), ("v2", "Candidate"), ("v3", "Slow")):
        registry.register("m", f"{MODELS}:{cls}", version=v)
    rollouts = Rollouts(store)
    rollouts.deploy("m", "v2")
    with pytest.raises(ConflictError, match="already has an active rollout"):
        rollouts.deploy("m", "v3")


async def test_an_api_action_on_a_revision_it_no_longer_has_is_refused(
        harness: Harness) -> None:
    harness.register("v2", "Candidate")
    harness.rollouts.deploy("m", "v2", plan=canary(10, hold_s=3600))
    looked = (await harness.client.get("/v1/admin/models/m/rollout", headers=AUTH)).json()
    seen = {"rollout_id": looked["rollout"]["id"], "revision": looked["rollout"]["revision"]}
    paused = await harness.client.post("/v1/admin/models/m/rollout/pause", headers=AUTH,
                                       json=seen)
    assert paused.status_code == 200, paused.text
    stale = await harness.client.post("/v1/admin/models/m/promote", headers=AUTH, json=seen)
    assert stale.status_code == 409
    assert stale.json()["error"] == "superseded"
    assert harness.rollouts.status("m").rollout.state == "paused"  # type: ignore[union-attr]
    status = (await harness.client.get("/v1/admin/models/m/rollout", headers=AUTH)).json()
    [note] = status["superseded"]
    assert note["message"].startswith(f"rollout #{seen['rollout_id']} at revision "
                                      f"{seen['revision']} has moved on")
    current = {**seen, "revision": status["rollout"]["revision"]}
    resumed = await harness.client.post("/v1/admin/models/m/rollout/resume", headers=AUTH,
                                        json=current)
    assert resumed.status_code == 200, resumed.text
