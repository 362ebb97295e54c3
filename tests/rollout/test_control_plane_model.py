"""A model-based test of the whole control plane (hypothesis' ``RuleBasedStateMachine``).

Every actor that changes what a model serves is driven against the real store (SQLite
and PostgreSQL) on a controllable clock: a person (deploy with each strategy: canary,
shadow, blue/green, direct; promote, rollback, pause, resume, abort, approve), the rollout
controller (ticks; standby release when a keep time is over), alert actions (rollback,
pause_rollout, retrain), retraining (request, the run's outcome, approve, clearing stale
runs), a leader that read the state, lost its lock and acts on what it read (a stale
controller pass, a stale standby timer, a stale alert action), and a replica that
restarts and loads what is current.

After every step the invariants of issue 13 are checked:

* what a replica serves is the policy of the latest accepted decision (the current
  deployment, whose ``deploy`` event is the newest), and a rollout that owns the current
  deployment serves its own state's policy;
* a promoted version is replaced only by a later explicit decision (never by a timer, a
  pause, a stale actor, a request to retrain);
* a decision made on a state that has moved on changes nothing;
* at most one active rollout and one queued-or-running retraining run per model, both
  enforced by the database (a second insert is refused);
* every deployment row has a ``deploy`` event with its actor and reason;
* no automated action raises (a person's call may be refused with a RampupError: 409/422).

The retraining run's training and evaluation are not re-run here (tests/retrain does);
a step moves a queued run to the outcome an evaluation records (rejected, awaiting
approval, or rolled out through the real rollout start), so approval and fencing of the
run's rollout are the real code.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from rampup.alerts.actions import ActionContext, pause_rollout, rollback
from rampup.alerts.rules import AlertRule
from rampup.alerts.spec import AlertRuleSpec
from rampup.config import Settings
from rampup.errors import RampupError, RetrainRefusedError
from rampup.project import parse_project
from rampup.registry.registry import Registry
from rampup.retrain.service import Retrainer
from rampup.rollout.controller import ACTOR, RolloutController
from rampup.rollout.machine import policy_for
from rampup.rollout.plan import Plan, Step
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.service import Rollouts, from_row
from rampup.runtime import DeadLetters
from rampup.serving.runtime import Runtime
from rampup.store import Database
from tests.rollout.conftest import MODELS

VERSIONS = ("v1", "v2", "v3", "v4")
CLASSES = {"v1": "Healthy", "v2": "Candidate", "v3": "Successor", "v4": "Inaccurate"}
STRATEGIES = ("canary", "shadow", "bluegreen", "direct")
_models = itertools.count()


def plan_for(strategy: str, hold_s: float, keep_s: float, approval: bool) -> Plan:
    """Plans without checks (the judge is tested elsewhere): steps pass once held."""
    kind = {"canary": "canary", "shadow": "shadow", "bluegreen": "bluegreen"}[strategy]
    steps: list[Step] = []
    if kind == "canary":
        steps = [Step(kind="canary", weight=w, min_duration_s=hold_s, min_requests=0)
                 for w in (10, 100)]
    elif kind == "shadow":
        steps = [Step(kind="shadow", weight=100, min_duration_s=hold_s, min_requests=0,
                      checks=[]),  # a shadow step's own checks would wait for traffic
                 Step(kind="canary", weight=100, min_duration_s=hold_s, min_requests=0)]
    else:
        steps = [Step(kind="bluegreen", min_duration_s=hold_s, min_requests=0)]
    if approval:
        steps.insert(1 if len(steps) > 1 else 0, Step(kind="approval", note="look first"))
    return Plan(strategy=kind, checks=[], steps=steps, standby_keep_s=keep_s)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


class ControlPlane(RuleBasedStateMachine):
    """One model per example; the store, registry and project are shared by the test."""

    store: Database
    registry: Registry
    project_dir: Path

    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.model = f"cp{next(_models)}"
        self.clock = Clock()
        self.rollouts = Rollouts(self.store, clock=self.clock)
        # a rollout whose pass raises is isolated by the controller into a dead letter:
        # counted here, so "no automated action raises" sees through that isolation
        self.dead_letters = DeadLetters(self.store, clock=self.clock)
        self.controller = RolloutController(self.store, rollouts=self.rollouts,
                                            clock=self.clock, dead_letters=self.dead_letters)
        for v in VERSIONS:
            self.registry.register(self.model, f"{MODELS}:{CLASSES[v]}", version=v,
                                   deploy=v == "v1", actor="setup")
        project = parse_project({"models": {self.model: {"retrain": {
            "entry_point": "tests.retrain.entry:train",
            "guards": {"min_new_labels": 0, "cooldown": "0s", "max_runs_per_day": 1000},
            "queue_timeout": "10m",
            "rollout": {"strategy": "bluegreen", "plan": {
                "checks": [], "standby_keep_s": 60,
                "steps": [{"bluegreen": True, "min_duration_s": 0, "min_requests": 0}]}},
        }}}})
        self.retrainer = Retrainer(self.registry, project, self.project_dir, clock=self.clock)
        self.replica = Runtime(self.store, self.registry.load)
        self.replica.refresh()
        # what the model expects: the primary the last explicit decision made
        self.step_note = ""

    def teardown(self) -> None:
        self.replica.close()

    # -- helpers ------------------------------------------------------------------------

    def current(self) -> tuple[int | None, DeploymentPolicy | None]:
        dep = self.store.deployments.current_deployment(self.model)
        return (None, None) if dep is None else (dep.id, DeploymentPolicy.from_dict(dep.policy))

    def person(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """A person's call: refused with a RampupError (409/422/404) at most."""
        try:
            return fn(*args, **kw)
        except RampupError as exc:
            self.step_note = f"refused: {exc.message}"
            return None

    def attempt(self, fn: Any, *args: Any, **kw: Any) -> bool:
        """True when ``fn`` was applied, False when it was refused with a RampupError."""
        try:
            fn(*args, **kw)
        except RampupError as exc:
            self.step_note = f"refused: {exc.message}"
            return False
        return True

    def primary(self) -> str | None:
        policy = self.current()[1]
        return None if policy is None else policy.primary

    def promoted_owner(self) -> bool:
        """The current deployment is a promoted rollout's (its version is 'promoted')."""
        dep = self.store.deployments.current_deployment(self.model)
        if dep is None or dep.rollout_id is None:
            return False
        row = self.store.rollouts.get_rollout(dep.rollout_id)
        return row is not None and row["state"] == "promoted"

    def guarded(self, explicit: bool, fn: Any, *args: Any, **kw: Any) -> Any:
        """Run ``fn``; a promoted version may only be replaced by an explicit decision."""
        before_primary, was_promoted = self.primary(), self.promoted_owner()
        out = fn(*args, **kw)
        if was_promoted and not explicit:
            assert self.primary() == before_primary, (
                f"promoted {before_primary} replaced by {self.primary()} without a decision")
        return out

    # -- a person -----------------------------------------------------------------------

    @rule(version=st.sampled_from(VERSIONS), strategy=st.sampled_from(STRATEGIES),
          hold=st.sampled_from([0.0, 30.0]), keep=st.sampled_from([0.0, 15.0, 600.0]),
          approval=st.booleans())
    def deploy(self, version: str, strategy: str, hold: float, keep: float,
               approval: bool) -> None:
        if strategy == "direct":  # PUT .../deployment: a person's policy, on top of anything
            self.guarded(True, self.person, self.store.deployments.append_deployment, self.model,
                         DeploymentPolicy.single(version).to_dict(), "alice", "direct")
            return
        self.guarded(True, self.person, self.rollouts.deploy, self.model, version,
                     plan=plan_for(strategy, hold, keep, approval), actor="alice",
                     reason=f"try {version}")

    @rule(action=st.sampled_from(["promote", "pause", "resume", "abort", "approve"]))
    def operate(self, action: str) -> None:
        explicit = action in ("promote", "abort", "approve")
        self.guarded(explicit, self.person, getattr(self.rollouts, action), self.model,
                     actor="alice")

    @rule()
    def person_rollback(self) -> None:
        self.guarded(True, self.person, self.rollouts.rollback, self.model, actor="alice")

    # -- time and the controller (the leader) -------------------------------------------

    @rule(seconds=st.sampled_from([1.0, 20.0, 700.0, 1000.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.t += seconds

    @rule()
    def controller_tick(self) -> None:
        active = self.rollouts.active(self.model) is not None
        self.guarded(active, self.controller.tick)

    # -- a leader that read the state, lost its lock and acts on what it read -----------

    @rule(target=snapshots)
    def read_state(self) -> dict[str, Any]:
        dep_id, _ = self.current()
        active = self.rollouts.active(self.model)
        latest = self.rollouts.latest(self.model)
        return {"deployment_id": dep_id, "active": active, "latest": latest,
                "now": self.clock()}

    @rule(snap=snapshots)
    def stale_controller_pass(self, snap: dict[str, Any]) -> None:
        """The old leader wakes up and decides the step it judged (advance or promote)."""
        if snap["active"] is None:
            return
        r, rev = snap["active"]
        if r.state not in ("shadow", "canary", "bluegreen"):
            return
        before = self.current()[0]
        applied = self.attempt(self.rollouts.advance, r, rev, ACTOR, "stale pass",
                               seen=snap["deployment_id"])
        if not applied:  # superseded (recorded) or a conflict: nothing changed
            assert self.current()[0] == before
            return
        assert before == snap["deployment_id"], "a stale pass was applied on a newer state"

    @rule(snap=snapshots)
    def stale_standby_timer(self, snap: dict[str, Any]) -> None:
        latest = snap["latest"]
        if latest is None or latest[0].state != "promoted":
            return
        r, rev = latest
        before_id, before = self.current()
        if not self.attempt(self.guarded, False, self.rollouts.release_standby, r, rev, ACTOR,
                            seen=snap["deployment_id"]):
            assert self.current()[0] == before_id
            return
        _, after = self.current()
        if before is not None and after is not None:
            assert after.routes == before.routes, "a standby timer moved traffic"

    @rule(snap=snapshots, action=st.sampled_from(["rollback", "pause_rollout", "retrain"]))
    def stale_alert_action(self, snap: dict[str, Any], action: str) -> None:
        self.alert(action, snap)

    @rule(action=st.sampled_from(["rollback", "pause_rollout", "retrain"]))
    def alert_action(self, action: str) -> None:
        self.alert(action, None)

    def alert(self, action: str, snap: dict[str, Any] | None) -> None:
        spec = AlertRuleSpec(name="acc", condition="error_rate > 0.1", actions=[action])
        rule_ = AlertRule.from_spec(self.model, spec, "runtime")
        if snap is None:
            dep_id, _ = self.current()
            active = self.rollouts.active(self.model)
        else:
            dep_id, active = snap["deployment_id"], snap["active"]
        ctx = ActionContext(self.store, rule_, {"message": "error_rate 0.2", "value": 0.2},
                            now=self.clock(), deployment_id=dep_id,
                            rollout=None if active is None else (active[0].id, active[1]))
        fn = {"rollback": rollback, "pause_rollout": pause_rollout,
              "retrain": self.retrainer.alert_action}[action]
        before = self.current()[0]
        refusals: list[RampupError] = []
        try:
            self.guarded(action == "rollback", fn, ctx)  # says what it did, never raises...
        except RampupError as exc:  # ...but rollback with nothing to go back to (a 409)
            refusals.append(exc)
        assert all(action == "rollback" and exc.code == "conflict" for exc in refusals), \
            refusals
        if before != dep_id:
            assert self.current()[0] == before, f"stale {action} was applied"

    # -- retraining ---------------------------------------------------------------------

    @rule(force=st.booleans())
    def request_retraining(self, force: bool) -> None:
        self.guarded(False, self.person, self.retrainer.request, self.model, actor="alice",
                     force=force)

    @rule()
    def second_run_refused_by_the_database(self) -> None:
        """Two inserts with no check in between: the database refuses the second."""
        now = self.clock()
        values = {"model": self.model, "state": "queued", "trigger": "manual",
                  "actor": "race", "reason": "race", "created_at": now, "updated_at": now,
                  "details": {}}
        ids = []
        for _ in range(2):
            with contextlib.suppress(RetrainRefusedError):
                ids.append(self.store.retrain.insert_retrain_run(dict(values)))
        assert len(ids) <= 1, "the database let two queued runs in"
        for run_id in ids:  # leave no extra run behind: it expires like a stale one
            self.store.retrain.update_retrain_run(run_id, {"state": "expired", "finished_at": now,
                                                           "error": "race test"},
                                                  expect_states=["queued"])

    @rule(outcome=st.sampled_from(["rejected", "awaiting_approval", "rolled_out"]),
          candidate=st.sampled_from(VERSIONS))
    def run_finishes(self, outcome: str, candidate: str) -> None:
        """A queued run executes: its evaluation's outcome (training is tested elsewhere)."""
        queued = self.store.retrain.list_retrain_runs(self.model, states=["queued"], limit=1)
        if not queued:
            return
        run = queued[0]
        now = self.clock()
        champion = self.primary()
        if not self.store.retrain.update_retrain_run(run["id"], {
                "state": "running", "started_at": now, "updated_at": now,
                "candidate": candidate, "champion": champion}, expect_states=["queued"]):
            return
        if outcome == "rolled_out":  # auto_rollout: the real rollout start, fenced
            self.guarded(True, self.retrainer._rollout, self.retrainer.get(run["id"]),
                         "retrain", lambda *_: None)
            return
        self.store.retrain.update_retrain_run(run["id"], {"state": outcome, "updated_at": now,
                                                          "finished_at": now},
                                              expect_states=["running"])

    @rule()
    def approve_retraining(self) -> None:
        runs = self.store.retrain.list_retrain_runs(self.model, states=["awaiting_approval"],
                                                    limit=1)
        if runs:
            self.guarded(True, self.person, self.retrainer.approve, runs[0]["id"],
                         actor="alice")

    @rule()
    def retraining_upkeep(self) -> None:
        self.guarded(False, self.retrainer.clear_stale, self.model)

    # -- replicas -----------------------------------------------------------------------

    @rule()
    def replica_restarts(self) -> None:
        self.replica.close()
        self.replica = Runtime(self.store, self.registry.load)
        self.replica.refresh()

    @rule()
    def replica_polls(self) -> None:
        """A replica that was paused wakes up and polls: it serves what is current."""
        self.replica.refresh()
        dep_id, policy = self.current()
        served = self.replica.models.get(self.model)
        assert served is not None
        assert (served.deployment_id, served.policy) == (dep_id, policy)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def no_automated_action_raised(self) -> None:
        assert self.dead_letters.stats.added == 0, "a controller pass raised (dead letter)"

    @invariant()
    def one_active_rollout_and_one_active_run(self) -> None:
        active = self.store.rollouts.list_rollouts(self.model, active_only=True, limit=10)
        assert len(active) <= 1, [r["id"] for r in active]
        runs = self.store.retrain.list_retrain_runs(self.model, states=["queued", "running"],
                                                    limit=10)
        assert len(runs) <= 1, [r["id"] for r in runs]

    @invariant()
    def every_policy_change_has_an_event(self) -> None:
        events = {e.details.get("deployment_id"): e
                  for e in self.store.events.list_events(self.model, limit=2000)
                  if e.action == "deploy"}
        rows = self.store.deployments.deployment_history(self.model, limit=1000)
        for row in rows:
            ev = events.get(row.id)
            assert ev is not None, f"deployment #{row.id} has no deploy event"
            assert ev.actor, (row.id, ev)
            assert ev.details.get("reason"), (row.id, ev)
        if rows:  # the latest accepted decision is what is current
            dep_id, _ = self.current()
            assert dep_id == rows[0].id

    @invariant()
    def served_policy_is_the_latest_decision(self) -> None:
        dep = self.store.deployments.current_deployment(self.model)
        if dep is None:
            return
        policy = DeploymentPolicy.from_dict(dep.policy)
        if dep.rollout_id is not None:
            rows = self.store.rollouts.list_rollouts(self.model, limit=1)
            # only the newest rollout may own what is served: an older one never again
            assert rows
            assert rows[0]["id"] == dep.rollout_id, (dep.rollout_id, rows[0]["id"])
            owner, _ = from_row(rows[0])
            if owner.state in ("shadow", "canary", "bluegreen", "awaiting_approval",
                               "promoted"):
                assert policy.routes == policy_for(owner).routes, (owner.state, policy)
        served = self.replica.models.get(self.model)
        if served is not None and served.deployment_id == dep.id:
            assert served.policy == policy


@pytest.mark.slow
def test_control_plane_model(store: Database, tmp_path: Path) -> None:
    """Runs the machine with a fixed seed (``derandomize``): CI sees the same stories."""
    cfg = Settings(project_dir=tmp_path)  # type: ignore[call-arg]
    ControlPlane.store = store
    ControlPlane.registry = Registry.from_settings(cfg, store)
    ControlPlane.project_dir = tmp_path
    examples = int(os.environ.get("RAMPUP_MODEL_EXAMPLES", "12"))  # more: a longer hunt
    run_state_machine_as_test(ControlPlane, settings=settings(
        max_examples=examples, stateful_step_count=30, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
