"""The rollout API: deploy, status, pause/resume/abort/approve, promote, rollback.

The CLI, the admin HTTP API and Python callers all go through :class:`Rollouts`. Each
operation changes the persisted rollout row (compare-and-set), appends the resulting
traffic policy to the deployment history and records an audit event with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.rollout.machine import Rollout, failed_policy, policy_for
from rampup.rollout.plan import Plan, Strategy, default_plan
from rampup.rollout.policy import DeploymentPolicy
from rampup.store import Store

HUMAN = "human"


@dataclass(frozen=True)
class RolloutStatus:
    rollout: Rollout | None
    policy: DeploymentPolicy | None
    deployment_id: int | None
    checks: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        r = self.rollout
        return {
            "rollout": None if r is None else rollout_dict(r),
            "policy": None if self.policy is None else self.policy.to_dict(),
            "deployment_id": self.deployment_id,
            "checks": self.checks,
        }


def rollout_dict(r: Rollout) -> dict[str, Any]:
    step = r.current_step
    return {
        "id": r.id, "model": r.model, "candidate": r.candidate, "baseline": r.baseline,
        "strategy": r.plan.strategy, "state": r.state, "step": r.step,
        "steps": [s.describe() for s in r.plan.steps],
        "current_step": None if step is None else step.describe(),
        "step_started_at": r.step_started_at, "created_at": r.created_at,
        "updated_at": r.updated_at, "actor": r.actor, "reason": r.reason,
        "promoted_at": r.promoted_at, "on_failure": r.plan.on_failure,
        "plan": r.plan.model_dump(),
    }


def from_row(row: dict[str, Any]) -> tuple[Rollout, int]:
    plan = Plan.model_validate(row["plan"])
    r = Rollout(id=row["id"], model=row["model"], candidate=row["candidate"],
                baseline=row["baseline"], plan=plan, state=row["state"], step=row["step"],
                step_started_at=row["step_started_at"], created_at=row["created_at"],
                updated_at=row["updated_at"], actor=row["actor"], reason=row["reason"],
                paused_state=row["paused_state"], promoted_at=row["promoted_at"],
                standby_released=bool(row["standby_released"]), salt=row["salt"])
    return r, int(row["revision"])


def _row_values(r: Rollout) -> dict[str, Any]:
    return {"state": r.state, "step": r.step, "step_started_at": r.step_started_at,
            "updated_at": r.updated_at, "reason": r.reason, "paused_state": r.paused_state,
            "promoted_at": r.promoted_at, "standby_released": r.standby_released}


GateFn = Callable[[Store, str, str, bool, str], None]


class Rollouts:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 gate: GateFn | None = None) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate

    # -- reading ------------------------------------------------------------------------

    def active(self, model: str) -> tuple[Rollout, int] | None:
        rows = self.store.list_rollouts(model, active_only=True, limit=1)
        return from_row(rows[0]) if rows else None

    def latest(self, model: str) -> tuple[Rollout, int] | None:
        rows = self.store.list_rollouts(model, limit=1)
        return from_row(rows[0]) if rows else None

    def status(self, model: str) -> RolloutStatus:
        self._model(model)
        latest = self.latest(model)
        dep = self.store.current_deployment(model)
        checks = self.store.list_rollout_checks(latest[0].id, limit=50) if latest else []
        return RolloutStatus(latest[0] if latest else None,
                             DeploymentPolicy.from_dict(dep.policy) if dep else None,
                             dep.id if dep else None, checks)

    # -- starting -----------------------------------------------------------------------

    def deploy(self, model: str, version: str, *, strategy: Strategy = "canary",
               plan: Plan | None = None, actor: str = "cli", reason: str = "",
               force: bool = False) -> Rollout | None:
        """Start rolling ``version`` out against the model's current primary version.

        Returns the rollout, or None when the model had no deployment yet (there is no
        baseline to compare with, so the version takes all traffic at once)."""
        self._model(model)
        if version != HUMAN and self.store.get_version(model, version) is None:
            known = ", ".join(v.version for v in self.store.list_versions(model)) or "none"
            raise NotFoundError(f"version {model}@{version} is not registered (known: {known})",
                                fix="register it first: rampup register")
        if self.gate is not None:
            self.gate(self.store, model, version, force, actor)
        dep = self.store.current_deployment(model)
        now = self.clock()
        plan = plan or default_plan(strategy)
        if dep is None:
            self._apply(model, DeploymentPolicy.single(version), actor,
                        reason or f"first deployment of {version}")
            return None
        current = DeploymentPolicy.from_dict(dep.policy)
        baseline = current.primary
        if baseline == version:
            raise ConflictError(f"{model}@{version} already serves all primary traffic",
                                fix="deploy a different version, or roll back")
        r = Rollout(0, model, version, baseline, plan, "pending", 0, now, now, now, actor,
                    reason or f"deploy {version} ({plan.strategy})", salt=current.salt)
        rollout_id = self.store.insert_rollout({
            "model": model, "candidate": version, "baseline": baseline,
            "strategy": plan.strategy, "plan": plan.model_dump(), "state": "pending",
            "step": 0, "step_started_at": now, "created_at": now, "updated_at": now,
            "actor": actor, "reason": r.reason, "salt": current.salt})
        r = replace(r, id=rollout_id)
        self._event(r, actor, "rollout_started", r.reason)
        return self.transition(r, 0, r.started(0, now), actor, f"step 1: "
                               f"{plan.steps[0].describe()}")

    # -- operator actions ---------------------------------------------------------------

    def pause(self, model: str, *, actor: str = "cli", reason: str = "") -> Rollout:
        r, rev = self._require_active(model)
        if r.state == "paused":
            raise ConflictError(f"the rollout of {model} is already paused",
                                fix=f"rampup rollout resume {model}")
        new = replace(r, state="paused", paused_state=r.state, updated_at=self.clock(),
                      reason=reason or "paused by operator")
        return self.transition(r, rev, new, actor, new.reason, policy=False)

    def resume(self, model: str, *, actor: str = "cli", reason: str = "") -> Rollout:
        r, rev = self._require_active(model)
        if r.state != "paused":
            raise ConflictError(f"the rollout of {model} is {r.state}, not paused",
                                fix="only a paused rollout can be resumed")
        new = r.started(r.step, self.clock())
        return self.transition(r, rev, replace(new, reason=reason or "resumed"), actor,
                               reason or f"resumed at step {r.step + 1}")

    def approve(self, model: str, *, actor: str = "cli", reason: str = "") -> Rollout:
        r, rev = self._require_active(model)
        if r.state != "awaiting_approval":
            raise ConflictError(f"the rollout of {model} is {r.state}; nothing waits for "
                                "approval", fix=f"see rampup rollout status {model}")
        return self.advance(r, rev, actor, reason or f"approved by {actor}")

    def abort(self, model: str, *, actor: str = "cli", reason: str = "") -> Rollout:
        r, rev = self._require_active(model)
        new = replace(r, state="aborted", updated_at=self.clock(),
                      reason=reason or f"aborted by {actor}")
        return self.transition(r, rev, new, actor, new.reason)

    def promote(self, model: str, *, actor: str = "cli", reason: str = "") -> Rollout:
        """Skip the remaining steps: the candidate takes all traffic (old one kept warm)."""
        r, rev = self._require_active(model)
        now = self.clock()
        new = replace(r, state="promoted", promoted_at=now, updated_at=now,
                      reason=reason or f"promoted by {actor}")
        return self.transition(r, rev, new, actor, new.reason)

    def rollback(self, model: str, *, actor: str = "cli", reason: str = "") -> DeploymentPolicy:
        """Back to the previous state at once: an active rollout goes to its baseline; else the
        previous policy in the history is applied again (a pointer flip, no loading)."""
        self._model(model)
        active = self.active(model)
        now = self.clock()
        if active is not None:
            r, rev = active
            new = replace(r, state="rolled_back", updated_at=now,
                          reason=reason or f"rolled back by {actor}")
            self.transition(r, rev, new, actor, new.reason)
            return policy_for(new)
        latest = self.latest(model)
        if latest is not None and latest[0].state == "promoted" and \
                now - (latest[0].promoted_at or 0) < latest[0].plan.standby_keep_s:
            r, rev = latest
            new = replace(r, state="rolled_back", updated_at=now,
                          reason=reason or f"rolled back after promotion by {actor}")
            self.transition(r, rev, new, actor, new.reason)
            return policy_for(new)
        history = self.store.deployment_history(model, limit=2)
        if latest is not None and latest[0].state in ("rolled_back", "aborted") and history \
                and history[0].policy == policy_for(latest[0]).to_dict():
            # The previous row is the failed rollout's own step: never bring it back.
            r = latest[0]
            raise ConflictError(
                f"{model} is already back on {r.baseline}: rollout #{r.id} of {r.candidate} "
                f"was {r.state.replace('_', ' ')} ({r.reason})",
                fix=f"to try {r.candidate} again, start a new rollout: rampup deploy {model} "
                    f"{r.candidate}")
        if len(history) < 2:
            raise ConflictError(f"{model} has no earlier deployment to roll back to",
                                fix="deploy another version instead")
        previous = DeploymentPolicy.from_dict(history[1].policy)
        self._apply(model, previous, actor,
                    reason or f"rollback to deployment #{history[1].id}")
        return previous

    # -- used by the controller ---------------------------------------------------------

    def advance(self, r: Rollout, rev: int, actor: str, reason: str) -> Rollout:
        now = self.clock()
        if r.step + 1 >= len(r.plan.steps):
            new = replace(r, state="promoted", promoted_at=now, updated_at=now, reason=reason)
            return self.transition(r, rev, new, actor, reason)
        new = replace(r.started(r.step + 1, now), reason=reason)
        nxt = new.plan.steps[new.step].describe()
        return self.transition(r, rev, new, actor, f"{reason}; step {r.step + 2}: {nxt}")

    def fail(self, r: Rollout, rev: int, actor: str, reason: str) -> Rollout:
        now = self.clock()
        if r.plan.on_failure == "pause":
            new = replace(r, state="paused", paused_state=None, updated_at=now, reason=reason)
            return self.transition(r, rev, new, actor, reason, policy_override=failed_policy(r))
        new = replace(r, state="rolled_back", updated_at=now, reason=reason)
        return self.transition(r, rev, new, actor, reason)

    def release_standby(self, r: Rollout, rev: int, actor: str) -> Rollout:
        new = replace(r, standby_released=True, updated_at=self.clock(),
                      reason=f"standby {r.baseline} released after "
                             f"{r.plan.standby_keep_s:g} s")
        return self.transition(r, rev, new, actor, new.reason)

    def transition(self, old: Rollout, rev: int, new: Rollout, actor: str, reason: str, *,
                   policy: bool = True,
                   policy_override: DeploymentPolicy | None = None) -> Rollout:
        if old.id and not self.store.update_rollout(old.id, rev, _row_values(new)):
            raise ConflictError(f"the rollout of {old.model} changed meanwhile",
                                fix="look at 'rampup rollout status' and try again")
        if policy or policy_override is not None:
            self._apply(new.model, policy_override or policy_for(new), actor, reason)
        self._event(new, actor, f"rollout_{new.state}", reason,
                    {"from": old.state, "step": new.step})
        return new

    # -- helpers ------------------------------------------------------------------------

    def _apply(self, model: str, policy: DeploymentPolicy, actor: str, reason: str) -> None:
        current = self.store.current_deployment(model)
        if current is not None and current.policy == policy.to_dict():
            return
        dep = self.store.append_deployment(model, policy.to_dict(), actor, reason)
        self.store.add_event(actor, "deploy", model=model,
                             details={"deployment_id": dep.id, "policy": policy.to_dict(),
                                      "reason": reason})

    def _event(self, r: Rollout, actor: str, action: str, reason: str,
               extra: dict[str, Any] | None = None) -> None:
        self.store.add_event(actor, action, model=r.model, version=r.candidate,
                             details={"rollout_id": r.id, "state": r.state, "reason": reason,
                                      **(extra or {})})

    def _model(self, model: str) -> None:
        if self.store.get_model(model) is None:
            known = ", ".join(m.name for m in self.store.list_models()) or "none"
            raise NotFoundError(f"model {model!r} does not exist (known: {known})",
                                fix="check the name or register a version first")

    def _require_active(self, model: str) -> tuple[Rollout, int]:
        self._model(model)
        active = self.active(model)
        if active is None:
            raise ValidationError(f"{model} has no active rollout",
                                  fix=f"start one: rampup deploy {model} VERSION")
        return active
