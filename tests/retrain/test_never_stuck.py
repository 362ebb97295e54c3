"""Retraining never gets stuck: a queued run that nothing starts expires, a run left by a
dead process is cleared (by the loop, or by ``retrain --force``), the ``retrain`` alert
action says why it queued nothing, and a run whose deployment moved on does not roll
out. All on the real store and CLI, without training (runs are inserted as they would
stand)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rampup.alerts.actions import ActionContext
from rampup.alerts.rules import AlertRule
from rampup.alerts.spec import AlertRuleSpec
from rampup.cli import app
from rampup.config import load_settings
from rampup.errors import RetrainRefusedError
from rampup.registry.registry import Registry
from rampup.retrain.upkeep import HOST
from rampup.rollout.service import Rollouts
from rampup.store import Database
from tests.alerts.conftest import Clock
from tests.retrain.conftest import World, make_project, retrain_section
from tests.serving.conftest import Trained


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def insert_run(store: Database, state: str, t: float, **values: Any) -> int:
    return store.retrain.insert_retrain_run({
        "model": "credit", "state": state, "trigger": "manual", "actor": "someone",
        "reason": "r", "details": values.pop("details", {}), "created_at": t,
        "updated_at": t, "started_at": t if state == "running" else None, **values})


def events(store: Database, action: str) -> list[dict[str, Any]]:
    return [e.details for e in store.events.list_events("credit", limit=200) if e.action == action]


def test_a_queued_run_nothing_starts_expires_with_its_reason(world: World) -> None:
    clock = Clock(time.time())
    r = world.retrainer(make_project(queue_timeout="10m"), clock=clock)
    run_id = insert_run(world.store, "queued", clock.t)
    clock.advance(300)
    assert r.clear_stale() == []  # 5 minutes: a leader may still start it
    clock.advance(301)
    [ended] = r.clear_stale()
    assert (ended["id"], ended["state"]) == (run_id, "expired")
    assert ended["error"].startswith("expired: queued 10m1s ago and no server started it")
    assert "RAMPUP_RETRAIN" in ended["error"]
    [event] = events(world.store, "retrain_expired")
    assert event["run_id"] == run_id
    # the slot is free again: a new run may be queued (the database allows one)
    again = r.request("credit", force=True)
    assert again["state"] == "queued"


def test_force_clears_a_run_left_by_a_dead_process_and_starts(world: World) -> None:
    r = world.retrainer(make_project())
    left = insert_run(world.store, "running", time.time() - 5,
                      details={"worker": {"host": HOST, "pid": dead_pid()}})
    new = r.request("credit", force=True, actor="cli:alice")
    assert new["state"] == "queued"
    run = r.get(left)
    assert run["state"] == "failed"
    assert run["error"] == "interrupted: the process running it is gone"
    [event] = events(world.store, "retrain_failed")
    assert (event["run_id"], event["cleared_by"]) == (left, "cli:alice")
    # the new run is in the hands of this (living) process: force does not clear it
    world.store.retrain.update_retrain_run(new["id"], {
        "state": "running", "details": {"worker": {"host": HOST, "pid": os.getpid()}}})
    with pytest.raises(RetrainRefusedError, match="one run at a time"):
        r.request("credit", force=True)


def test_the_cli_s_force_says_what_it_cleared(tmp_path: Path, trained: Trained) -> None:
    (tmp_path / "rampup.yaml").write_text(yaml.safe_dump(
        {"models": {"credit": {"retrain": retrain_section(
            reference=str(trained.reference_path))}}}))
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    Registry.from_settings(settings, store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    left = insert_run(store, "running", time.time(),
                      details={"worker": {"host": HOST, "pid": dead_pid()}})
    store.close()
    result = CliRunner().invoke(app, ["-p", str(tmp_path), "retrain", "credit", "--force",
                                      "--queue"])
    assert result.exit_code == 0, result.output
    assert f"cleared run #{left} failed: interrupted: the process running it is gone" in \
        result.output
    assert f"retraining run #{left + 1} queued" in result.output


def alert_context(world: World, deployment_id: int | str | None = "current") -> ActionContext:
    rule = AlertRule.from_spec("credit", AlertRuleSpec(
        name="accuracy-drop", condition="accuracy < 0.8", actions=["retrain"]))
    return ActionContext(world.store, rule, {"message": "accuracy 0.6", "value": 0.6},
                         deployment_id=deployment_id)  # type: ignore[arg-type]


def test_the_retrain_alert_action_refuses_clearly_when_retraining_is_off(
        world: World) -> None:
    r = world.retrainer(make_project())
    r.executes = False
    text = r.alert_action(alert_context(world))
    assert text.startswith("retraining not started: retraining is off on this server "
                           "(RAMPUP_RETRAIN=false)")
    [refused] = events(world.store, "retrain_refused")
    assert (refused["guard"], refused["alert"]) == ("disabled", "accuracy-drop")
    assert world.store.retrain.list_retrain_runs("credit") == []  # nothing queued to wait forever
    none = world.retrainer(make_project())
    none.project = make_project().model_copy(update={"models": {}})
    assert "has no retrain: section" in none.alert_action(alert_context(world))


def test_an_alert_measured_on_an_old_deployment_queues_nothing(world: World) -> None:
    r = world.retrainer(make_project(guards={"min_new_labels": 0}))
    old = world.store.deployments.current_deployment("credit")
    assert old is not None
    world.store.deployments.append_deployment("credit", old.policy, "cli", "a person redeployed")
    text = r.alert_action(alert_context(world, old.id))
    assert text.startswith("retraining credit not queued: superseded by deployment")
    assert world.store.retrain.list_retrain_runs("credit") == []
    [note] = events(world.store, "superseded")
    assert note["decided_on"] == old.id
    assert r.alert_action(alert_context(world, old.id + 1)) == "retraining run #1 queued"


def test_a_run_evaluated_against_a_champion_that_no_longer_serves_does_not_roll_out(
        world: World, trained: Trained) -> None:
    """Approving a run is fenced on the deployment its champion served in."""
    import shutil

    copy = world.project_dir / "candidate.joblib"
    shutil.copy(trained.model_path, copy)
    with copy.open("ab") as f:
        f.write(b"\0")  # another artifact (hash) with the same behaviour
    world.registry.register("credit", copy, version="v2", deploy=False)
    dep = world.store.deployments.current_deployment("credit")
    assert dep is not None
    run_id = insert_run(world.store, "awaiting_approval", time.time(), candidate="v2",
                        champion="v1", deployment_id=dep.id, evaluation={"held": "no_worse"})
    r = world.retrainer(make_project())
    world.store.deployments.append_deployment("credit", dep.policy, "cli", "meanwhile, by hand")
    run = r.approve(run_id, actor="cli:bob")
    assert run["state"] == "superseded"
    assert "start a new run" in run["error"]
    assert Rollouts(world.store).active("credit") is None
    # on the deployment it was evaluated on, approval rolls it out, saying which claim held
    run_id = insert_run(world.store, "awaiting_approval", time.time(), candidate="v2",
                        champion="v1", evaluation={"held": "no_worse"},
                        deployment_id=world.store.deployments.current_deployment("credit").id)  # type: ignore[union-attr]
    assert r.approve(run_id, actor="cli:bob")["state"] == "rolled_out"
    active = Rollouts(world.store).active("credit")
    assert active is not None
    assert "(no worse than the champion, within noise)" in active[0].reason
