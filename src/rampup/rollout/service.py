"""The rollout API: deploy, status, pause/resume/abort/approve, promote, rollback.

The CLI, the admin HTTP API, the controller, alert actions and retraining all go through
:class:`Rollouts`. Every operation is fenced: it names the model's deployment and the
rollout revision it was decided on (``seen``/``seen_rollout``; a person's call decides on
what is current when it runs), and the store applies it (rollout row, traffic policy,
audit events, in one transaction) only if both still hold
(:meth:`rampup.store.Database.deployments.decide`). A decision on a state that has moved changes
nothing: it is recorded as a ``superseded`` info event and raised as
:class:`~rampup.errors.SupersededError`, which automated actors treat as "nothing to do".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NoReturn

from rampup.errors import ConflictError, NotFoundError, SupersededError, ValidationError
from rampup.rollout.machine import (
    Rollout,
    failed_policy,
    keep_standby,
    policy_for,
    release_carried,
)
from rampup.rollout.plan import Plan, Strategy, default_plan
from rampup.rollout.policy import DeploymentPolicy
from rampup.store import Database, DeploymentRecord
from rampup.store.deployments import Change, Fence

HUMAN = "human"
CURRENT: Literal["current"] = "current"
#: the deployment a decision was made on: an id, None (the model had none), or CURRENT
#: (a person's call: whatever is current when it runs)
Seen = int | None | Literal["current"]
#: the active rollout a decision was made on: (rollout id, revision)
RolloutRef = tuple[int, int]
SUPERSEDED_SHOWN = 5  # recent superseded decisions 'rollout status' shows


@dataclass(frozen=True)
class RolloutStatus:
    rollout: Rollout | None
    policy: DeploymentPolicy | None
    deployment_id: int | None
    checks: list[dict[str, Any]]
    superseded: list[dict[str, Any]] = field(default_factory=list)  # newest first
    revision: int | None = None  # the latest rollout's (name it to act on what you saw)

    def to_dict(self) -> dict[str, Any]:
        r = self.rollout
        return {
            "rollout": None if r is None else {**rollout_dict(r), "revision": self.revision},
            "policy": None if self.policy is None else self.policy.to_dict(),
            "deployment_id": self.deployment_id,
            "checks": self.checks,
            "superseded": self.superseded,
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


GateFn = Callable[[Database, str, str, bool, str], None]


class Rollouts:
    def __init__(self, store: Database, *, clock: Callable[[], float] = time.time,
                 gate: GateFn | None = None) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate

    # -- reading ------------------------------------------------------------------------

    def active(self, model: str) -> tuple[Rollout, int] | None:
        rows = self.store.rollouts.list_rollouts(model, active_only=True, limit=1)
        return from_row(rows[0]) if rows else None

    def latest(self, model: str) -> tuple[Rollout, int] | None:
        rows = self.store.rollouts.list_rollouts(model, limit=1)
        return from_row(rows[0]) if rows else None

    def get(self, rollout_id: int) -> tuple[Rollout, int] | None:
        row = self.store.rollouts.get_rollout(rollout_id)
        return None if row is None else from_row(row)

    def status(self, model: str) -> RolloutStatus:
        self._model(model)
        latest = self.latest(model)
        dep = self.store.deployments.current_deployment(model)
        checks = self.store.rollouts.list_rollout_checks(latest[0].id, limit=50) if latest else []
        notes = [{"ts": e.ts, "actor": e.actor, "message": e.details.get("message", ""),
                  "deployment_id": e.details.get("deployment_id")}
                 for e in self.store.events.list_events(model, limit=200)
                 if e.action == "superseded"][:SUPERSEDED_SHOWN]
        return RolloutStatus(latest[0] if latest else None,
                             DeploymentPolicy.from_dict(dep.policy) if dep else None,
                             dep.id if dep else None, checks, notes,
                             latest[1] if latest else None)

    # -- starting -----------------------------------------------------------------------

    def deploy(self, model: str, version: str, *, strategy: Strategy = "canary",
               plan: Plan | None = None, actor: str = "cli", reason: str = "",
               force: bool = False, seen: Seen = CURRENT) -> Rollout | None:
        """Start rolling ``version`` out against the model's current primary version.

        Returns the rollout, or None when the model had no deployment yet (there is no
        baseline to compare with, so the version takes all traffic at once). The rollout
        row, its first step's policy and their events are one fenced decision; the
        database refuses a second active rollout of the model."""
        self._model(model)
        if version != HUMAN and self.store.models.get_version(model, version) is None:
            known = ", ".join(v.version for v in self.store.models.list_versions(model)) or "none"
            raise NotFoundError(f"version {model}@{version} is not registered (known: {known})",
                                fix="register it first: rampup register")
        if self.gate is not None:
            self.gate(self.store, model, version, force, actor)
        fence_id, dep = self._seen(model, seen)
        now = self.clock()
        plan = plan or default_plan(strategy)
        if dep is None:
            why = reason or f"first deployment of {version}"
            self.store.deployments.decide(model, Fence(fence_id), Change(
                actor, why, policy=DeploymentPolicy.single(version).to_dict()))
            return None
        current = DeploymentPolicy.from_dict(dep.policy)
        baseline = current.primary
        if baseline == version:
            raise ConflictError(f"{model}@{version} already serves all primary traffic",
                                fix="deploy a different version, or roll back")
        why = reason or f"deploy {version} ({plan.strategy})"
        first = Rollout(0, model, version, baseline, plan, "pending", 0, now, now, now, actor,
                        why, salt=current.salt).started(0, now)
        step = f"step 1: {plan.steps[0].describe()}"
        applied = self.store.deployments.decide(model, Fence(fence_id), Change(
            actor, f"rollout of {version} ({plan.strategy}): {step}",
            policy=keep_standby(policy_for(first), current, first).to_dict(), owner="new",
            new_rollout={
                "model": model, "candidate": version, "baseline": baseline,
                "strategy": plan.strategy, "plan": plan.model_dump(), "state": first.state,
                "step": 0, "step_started_at": now, "created_at": now, "updated_at": now,
                "actor": actor, "reason": why, "salt": current.salt},
            events=[("rollout_started", version, {"state": "pending", "reason": why}),
                    (f"rollout_{first.state}", version, {
                        "state": first.state, "reason": step, "from": "pending",
                        "step": 0})]))
        assert applied.rollout_id is not None
        return replace(first, id=applied.rollout_id)

    # -- operator actions ---------------------------------------------------------------

    def pause(self, model: str, *, actor: str = "cli", reason: str = "",
              seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None) -> Rollout:
        r, rev = self._require_active(model, actor, seen_rollout)
        if r.state == "paused":
            raise ConflictError(f"the rollout of {model} is already paused",
                                fix=f"rampup rollout resume {model}")
        new = replace(r, state="paused", paused_state=r.state, updated_at=self.clock(),
                      reason=reason or "paused by operator")
        return self.transition(r, rev, new, actor, new.reason, policy=False, seen=seen)

    def resume(self, model: str, *, actor: str = "cli", reason: str = "",
               seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None) -> Rollout:
        r, rev = self._require_active(model, actor, seen_rollout)
        if r.state != "paused":
            raise ConflictError(f"the rollout of {model} is {r.state}, not paused",
                                fix="only a paused rollout can be resumed")
        new = r.started(r.step, self.clock())
        return self.transition(r, rev, replace(new, reason=reason or "resumed"), actor,
                               reason or f"resumed at step {r.step + 1}", seen=seen)

    def approve(self, model: str, *, actor: str = "cli", reason: str = "",
                seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None) -> Rollout:
        r, rev = self._require_active(model, actor, seen_rollout)
        if r.state != "awaiting_approval":
            raise ConflictError(f"the rollout of {model} is {r.state}; nothing waits for "
                                "approval", fix=f"see rampup rollout status {model}")
        return self.advance(r, rev, actor, reason or f"approved by {actor}", seen=seen)

    def abort(self, model: str, *, actor: str = "cli", reason: str = "",
              seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None) -> Rollout:
        r, rev = self._require_active(model, actor, seen_rollout)
        new = replace(r, state="aborted", updated_at=self.clock(),
                      reason=reason or f"aborted by {actor}")
        return self.transition(r, rev, new, actor, new.reason, seen=seen)

    def promote(self, model: str, *, actor: str = "cli", reason: str = "",
                seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None) -> Rollout:
        """Skip the remaining steps: the candidate takes all traffic (old one kept warm)."""
        r, rev = self._require_active(model, actor, seen_rollout)
        now = self.clock()
        new = replace(r, state="promoted", promoted_at=now, updated_at=now,
                      reason=reason or f"promoted by {actor}")
        return self.transition(r, rev, new, actor, new.reason, seen=seen)

    def rollback(self, model: str, *, actor: str = "cli", reason: str = "",
                 seen: Seen = CURRENT, seen_rollout: RolloutRef | None = None
                 ) -> DeploymentPolicy:
        """Back to the previous state at once: an active rollout goes to its baseline; a
        promotion still deciding what is served goes back to the version it replaced
        (instant while that one is kept warm); else the newest earlier policy that routed
        differently is applied again (a person's or a first deployment)."""
        self._model(model)
        active = self.active(model)
        if seen_rollout is not None and (active is None or
                                         (active[0].id, active[1]) != seen_rollout):
            self._superseded(model, actor, reason, seen_rollout, active)
        now = self.clock()
        if active is not None:
            r, rev = active
            new = replace(r, state="rolled_back", updated_at=now,
                          reason=reason or f"rolled back by {actor}")
            self.transition(r, rev, new, actor, new.reason, seen=seen)
            return policy_for(new)
        fence_id, dep = self._seen(model, seen)
        owner = self.get(dep.rollout_id) if dep is not None and dep.rollout_id else None
        if owner is not None and owner[0].state == "promoted":
            r, rev = owner
            new = replace(r, state="rolled_back", updated_at=now,
                          reason=reason or f"rolled back after promotion by {actor}")
            self.transition(r, rev, new, actor, new.reason, seen=fence_id)
            return policy_for(new)
        if owner is not None and owner[0].state in ("rolled_back", "aborted"):
            # The earlier rows are the failed rollout's own steps: never bring them back.
            r = owner[0]
            raise ConflictError(
                f"{model} is already back on {r.baseline}: rollout #{r.id} of {r.candidate} "
                f"was {r.state.replace('_', ' ')} ({r.reason})",
                fix=f"to try {r.candidate} again, start a new rollout: rampup deploy {model} "
                    f"{r.candidate}")
        target = self._previous(model, dep)
        if target is None:
            raise ConflictError(f"{model} has no earlier deployment to roll back to",
                                fix="deploy another version instead")
        previous = DeploymentPolicy.from_dict(target.policy)
        self.store.deployments.decide(model, Fence(fence_id), Change(
            actor, reason or f"rollback to deployment #{target.id}",
            policy=previous.to_dict(), always=True))
        return previous

    # -- used by the controller ---------------------------------------------------------

    def advance(self, r: Rollout, rev: int, actor: str, reason: str, *,
                seen: Seen = CURRENT) -> Rollout:
        now = self.clock()
        if r.step + 1 >= len(r.plan.steps):
            new = replace(r, state="promoted", promoted_at=now, updated_at=now, reason=reason)
            return self.transition(r, rev, new, actor, reason, seen=seen)
        new = replace(r.started(r.step + 1, now), reason=reason)
        nxt = new.plan.steps[new.step].describe()
        return self.transition(r, rev, new, actor, f"{reason}; step {r.step + 2}: {nxt}",
                               seen=seen)

    def fail(self, r: Rollout, rev: int, actor: str, reason: str, *,
             seen: Seen = CURRENT) -> Rollout:
        now = self.clock()
        if r.plan.on_failure == "pause":
            new = replace(r, state="paused", paused_state=None, updated_at=now, reason=reason)
            return self.transition(r, rev, new, actor, reason, policy_override=failed_policy(r),
                                   seen=seen)
        new = replace(r, state="rolled_back", updated_at=now, reason=reason)
        return self.transition(r, rev, new, actor, reason, seen=seen)

    def release_standby(self, r: Rollout, rev: int, actor: str, *,
                        seen: Seen = CURRENT) -> Rollout:
        """The promotion's keep time is over: stop keeping the old version warm. A rollout
        that no longer made the model's deployment (a later rollout or a person replaced
        it) changes no route: at most the standby it left behind is unloaded."""
        fence_id, dep = self._seen(r.model, seen)
        new = replace(r, standby_released=True, updated_at=self.clock(),
                      reason=f"standby {r.baseline} released after "
                             f"{r.plan.standby_keep_s:g} s")
        if dep is not None and dep.rollout_id == r.id:
            return self.transition(r, rev, new, actor, new.reason, seen=fence_id)
        owner = self.get(dep.rollout_id) if dep is not None and dep.rollout_id else None
        current = DeploymentPolicy.from_dict(dep.policy) if dep is not None else None
        unload = None if current is None else release_carried(
            current, owner[0] if owner else None, r.baseline)
        what = f"deployment #{dep.id}" if dep is not None else "no deployment"
        note = (f"superseded by {what}: rollout #{r.id} no longer decides what {r.model} "
                "serves, so its standby timer changes no route"
                + (f"; only its standby {r.baseline} is unloaded" if unload else ""))
        self.store.deployments.decide(r.model, Fence(fence_id, r.id, rev), Change(
            actor, f"standby {r.baseline} of rollout #{r.id} released after "
                   f"{r.plan.standby_keep_s:g} s (the rollout was superseded by {what})",
            policy=None if unload is None else unload.to_dict(),
            owner=None if dep is None else dep.rollout_id, rollout=_row_values(new),
            events=[("superseded", r.candidate, {"level": "info", "message": note,
                                                 "rollout_id": r.id}),
                    ("rollout_standby_released", r.candidate, {
                        "rollout_id": r.id, "state": r.state, "reason": note})]))
        return new

    def transition(self, old: Rollout, rev: int, new: Rollout, actor: str, reason: str, *,
                   policy: bool = True, policy_override: DeploymentPolicy | None = None,
                   seen: Seen = CURRENT) -> Rollout:
        """One fenced decision on rollout ``old`` read at revision ``rev``: its row becomes
        ``new`` and, with ``policy``, the model serves ``new``'s policy (keeping the warm
        standby it found). Applied only while the model's deployment is still ``seen``
        and one ``old`` made."""
        fence_id, dep = self._seen(old.model, seen)
        p = None
        if policy or policy_override is not None:
            found = DeploymentPolicy.from_dict(dep.policy) if dep is not None else None
            p = keep_standby(policy_override or policy_for(new), found, new).to_dict()
        self.store.deployments.decide(old.model, Fence(fence_id, old.id, rev, owned=True), Change(
            actor, reason, policy=p, owner=old.id, rollout=_row_values(new),
            events=[(f"rollout_{new.state}", new.candidate, {
                "rollout_id": new.id, "state": new.state, "reason": reason,
                "from": old.state, "step": new.step})]))
        return new

    # -- helpers ------------------------------------------------------------------------

    def _seen(self, model: str, seen: Seen) -> tuple[int | None, DeploymentRecord | None]:
        """The deployment to fence on, and the current one (to compute policies from)."""
        dep = self.store.deployments.current_deployment(model)
        if seen == CURRENT:
            return (None if dep is None else dep.id), dep
        return seen, dep

    def _previous(self, model: str, dep: DeploymentRecord | None) -> DeploymentRecord | None:
        """The newest earlier deployment that routed traffic differently."""
        if dep is None:
            return None
        now = DeploymentPolicy.from_dict(dep.policy)
        for row in self.store.deployments.deployment_history(model, limit=200):
            p = DeploymentPolicy.from_dict(row.policy)
            if row.id < dep.id and (p.routes, p.mirrors) != (now.routes, now.mirrors):
                return row
        return None

    def _superseded(self, model: str, actor: str, reason: str, seen: RolloutRef,
                    active: tuple[Rollout, int] | None) -> NoReturn:
        now = "no rollout is active" if active is None else \
            f"rollout #{active[0].id} is at revision {active[1]} ({active[0].state})"
        message = f"rollout #{seen[0]} at revision {seen[1]} has moved on: {now}"
        self.store.deployments.note_superseded(model, actor, message, {
            "rollout_id": seen[0], "revision": seen[1], "reason": reason})
        raise SupersededError(f"{actor}'s decision on {model} was not applied: {message}",
                              fix=f"look at 'rampup rollout status {model}'")

    def _model(self, model: str) -> None:
        if self.store.models.get_model(model) is None:
            known = ", ".join(m.name for m in self.store.models.list_models()) or "none"
            raise NotFoundError(f"model {model!r} does not exist (known: {known})",
                                fix="check the name or register a version first")

    def _require_active(self, model: str, actor: str = "cli",
                        seen_rollout: RolloutRef | None = None) -> tuple[Rollout, int]:
        self._model(model)
        active = self.active(model)
        if seen_rollout is not None and (active is None or
                                         (active[0].id, active[1]) != seen_rollout):
            self._superseded(model, actor, "", seen_rollout, active)
        if active is None:
            raise ValidationError(f"{model} has no active rollout",
                                  fix=f"start one: rampup deploy {model} VERSION")
        return active
