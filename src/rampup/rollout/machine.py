"""The rollout state machine (pure: no store, no clock; ``now`` is passed in).

States: ``pending → shadow → canary[i] | bluegreen → promoted``, or ``rolled_back``,
``paused``, ``aborted``; an approval step waits in ``awaiting_approval``; a rollout whose
policy a person replaced is ``superseded``.
:func:`decide` turns a step's verdict and holds into a :class:`Decision`;
:func:`policy_for` gives the traffic policy of a state; :func:`keep_standby` and
:func:`release_carried` say what happens to the previous promotion's warm standby.

>>> from rampup.rollout.plan import default_plan
>>> r = Rollout(1, "m", "v2", "v1", default_plan("canary"), "pending", 0, 0.0)
>>> policy_for(r.started(0, 10.0)).routes
{'v2': 5.0, 'v1': 95.0}
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from rampup.rollout.plan import Plan, Step
from rampup.rollout.policy import DeploymentPolicy

ACTIVE = ("pending", "shadow", "canary", "bluegreen", "awaiting_approval", "paused")
TERMINAL = ("promoted", "rolled_back", "aborted", "superseded")

Action = Literal["wait", "advance", "promote", "fail", "await_approval"]


@dataclass(frozen=True)
class Rollout:
    id: int
    model: str
    candidate: str
    baseline: str
    plan: Plan
    state: str
    step: int
    step_started_at: float
    created_at: float = 0.0
    updated_at: float = 0.0
    actor: str = ""
    reason: str = ""
    paused_state: str | None = None
    promoted_at: float | None = None
    standby_released: bool = False
    salt: str = "rampup"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def current_step(self) -> Step | None:
        return self.plan.steps[self.step] if 0 <= self.step < len(self.plan.steps) else None

    def started(self, step: int, now: float) -> Rollout:
        """The rollout entering ``step`` (its state follows the step's kind)."""
        kind = self.plan.steps[step].kind
        state = "awaiting_approval" if kind == "approval" else kind
        return replace(self, state=state, step=step, step_started_at=now, updated_at=now,
                       paused_state=None)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(r: Rollout, now: float, verdict: str | None, requests: int,
           failed: list[str] | None = None) -> Decision:
    """What to do with a running step, given the judge's verdict over the step window."""
    step = r.current_step
    if step is None or r.state not in ("shadow", "canary", "bluegreen", "awaiting_approval"):
        return Decision("wait", f"nothing to decide in state {r.state}")
    if step.kind == "approval":
        return Decision("await_approval", step.note or "waiting for approval")
    if verdict == "fail":
        return Decision("fail", "checks failed: " + "; ".join(failed or ["see check results"]))
    elapsed = now - r.step_started_at
    if step.max_duration_s is not None and elapsed > step.max_duration_s and verdict != "pass":
        return Decision("fail", f"step '{step.describe()}' did not pass within "
                                f"{step.max_duration_s:g} s (not enough evidence)")
    holds = []
    if elapsed < step.min_duration_s:
        holds.append(f"{elapsed:.0f}/{step.min_duration_s:g} s")
    if requests < step.min_requests:
        holds.append(f"{requests}/{step.min_requests} requests")
    if holds:
        return Decision("wait", "holding " + ", ".join(holds))
    if verdict != "pass":
        return Decision("wait", "checks not conclusive yet")
    if r.step + 1 >= len(r.plan.steps):
        return Decision("promote", f"all {len(r.plan.steps)} steps passed")
    return Decision("advance", f"step '{step.describe()}' passed")


def policy_for(r: Rollout) -> DeploymentPolicy:
    """The traffic policy that realises a rollout's state."""
    cand, base = r.candidate, r.baseline
    state = r.paused_state if r.state == "paused" and r.paused_state else r.state
    step = r.current_step
    if state in ("rolled_back", "aborted", "pending"):
        return DeploymentPolicy(routes={base: 100.0}, salt=r.salt)
    if state == "promoted":
        keep = None if r.standby_released or cand == base else base
        return DeploymentPolicy(routes={cand: 100.0}, standby=keep, salt=r.salt)
    if state == "shadow" and step is not None:
        return DeploymentPolicy(routes={base: 100.0}, mirrors={cand: step.weight}, salt=r.salt)
    if state == "bluegreen":
        return DeploymentPolicy(routes={cand: 100.0}, standby=base, salt=r.salt)
    if state == "canary" and step is not None:
        w = step.weight
        if w >= 100:
            return DeploymentPolicy(routes={cand: 100.0}, standby=base, salt=r.salt)
        if w <= 0:
            return DeploymentPolicy(routes={base: 100.0}, standby=cand, salt=r.salt)
        return DeploymentPolicy(routes={cand: w, base: 100.0 - w}, salt=r.salt)
    if state == "awaiting_approval":
        # Keep the traffic of the step before the approval (or the baseline if first).
        before = r.step - 1
        if before >= 0:
            return policy_for(replace(r, state=_state_of(r.plan.steps[before]), step=before))
        return DeploymentPolicy(routes={base: 100.0}, salt=r.salt)
    return DeploymentPolicy(routes={base: 100.0}, salt=r.salt)


def _state_of(step: Step) -> str:
    return "awaiting_approval" if step.kind == "approval" else step.kind


def failed_policy(r: Rollout) -> DeploymentPolicy:
    """After a failure: everything back on the baseline (pause keeps the candidate loaded)."""
    if r.plan.on_failure == "pause":
        return DeploymentPolicy(routes={r.baseline: 100.0}, standby=r.candidate, salt=r.salt)
    return DeploymentPolicy(routes={r.baseline: 100.0}, salt=r.salt)


def keep_standby(policy: DeploymentPolicy, current: DeploymentPolicy | None,
                 r: Rollout) -> DeploymentPolicy:
    """A rollout keeps the warm standby it found (the previous promotion's) until its own
    plan sets one; it never carries its own candidate or baseline.

    >>> from rampup.rollout.plan import default_plan
    >>> r = Rollout(2, "m", "v3", "v2", default_plan("canary"), "canary", 0, 0.0)
    >>> found = DeploymentPolicy({"v2": 100.0}, standby="v1")
    >>> keep_standby(policy_for(r), found, r).standby
    'v1'
    >>> keep_standby(policy_for(replace(r, state="promoted")), found, r).standby
    'v2'
    """
    if policy.standby is not None or current is None or current.standby is None:
        return policy
    kept = current.standby
    if kept in (r.candidate, r.baseline) or kept in policy.routes or kept in policy.mirrors:
        return policy
    return replace(policy, standby=kept)


def release_carried(current: DeploymentPolicy, owner: Rollout | None,
                    version: str) -> DeploymentPolicy | None:
    """A superseded rollout's standby timer: the current policy without ``version`` as its
    standby when the rollout that owns the current policy only carries it (see
    :func:`keep_standby`); None when there is nothing of it to unload (a person's policy
    keeps what the person set).

    >>> from rampup.rollout.plan import default_plan
    >>> owner = Rollout(2, "m", "v3", "v2", default_plan("canary"), "canary", 0, 0.0)
    >>> current = DeploymentPolicy({"v3": 5.0, "v2": 95.0}, standby="v1")
    >>> release_carried(current, owner, "v1").standby is None
    True
    >>> release_carried(current, None, "v1") is None
    True
    """
    if owner is None or current.standby != version or version in (owner.candidate,
                                                                   owner.baseline):
        return None
    return replace(current, standby=None)
