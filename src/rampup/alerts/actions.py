"""Actions an alert may take when it starts firing: one registry of named functions.

Built in: ``rollback`` (the model's previous traffic policy, or the active rollout's
baseline), ``pause_rollout`` (hold the active rollout where it is) and ``retrain``.
``retrain`` is an interface here: it records a ``retrain_requested`` event; the
retraining issue wires a trigger that acts on it (by registering its own ``retrain``
function in the :class:`ActionRegistry` it gives the evaluator).

An action returns a short text saying what it did; raising means it failed (the
evaluator records either in the alert history).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rampup.alerts.rules import AlertRule
from rampup.errors import ConflictError, NotFoundError
from rampup.store import Store


@dataclass(frozen=True)
class ActionContext:
    store: Store
    rule: AlertRule
    alert: Mapping[str, Any]
    now: float = field(default_factory=time.time)

    @property
    def actor(self) -> str:
        return f"alert:{self.rule.name}"

    @property
    def reason(self) -> str:
        return f"alert {self.rule.name} ({self.rule.severity}): {self.alert.get('message', '')}"


ActionFn = Callable[[ActionContext], str]


def rollback(ctx: ActionContext) -> str:
    from rampup.rollout.service import Rollouts

    policy = Rollouts(ctx.store).rollback(ctx.rule.model, actor=ctx.actor, reason=ctx.reason)
    routes = ", ".join(f"{v} {w:g}%" for v, w in policy.routes.items())
    return f"rolled {ctx.rule.model} back to {routes}"


def pause_rollout(ctx: ActionContext) -> str:
    from rampup.rollout.service import Rollouts

    rollouts = Rollouts(ctx.store)
    active = rollouts.active(ctx.rule.model)
    if active is None:
        return f"{ctx.rule.model} has no active rollout; nothing to pause"
    try:
        r = rollouts.pause(ctx.rule.model, actor=ctx.actor, reason=ctx.reason)
    except ConflictError as exc:
        return exc.message
    return f"paused rollout #{r.id} of {r.candidate} at step {r.step + 1}"


def retrain(ctx: ActionContext) -> str:
    ctx.store.add_event(ctx.actor, "retrain_requested", model=ctx.rule.model, details={
        "rule": ctx.rule.name, "reason": ctx.reason, "metric": ctx.rule.metric,
        "value": ctx.alert.get("value"), "threshold": ctx.rule.condition.threshold})
    return "retrain requested (event recorded for the retraining trigger)"


BUILTIN: dict[str, ActionFn] = {"rollback": rollback, "pause_rollout": pause_rollout,
                                "retrain": retrain}


class ActionRegistry:
    """Named actions. Starts with the built-ins; :meth:`register` adds or replaces one.

    >>> reg = ActionRegistry()
    >>> reg.names()
    ['pause_rollout', 'retrain', 'rollback']
    >>> reg.register("page", lambda ctx: "paged")
    >>> "page" in reg.names()
    True
    """

    def __init__(self, actions: Mapping[str, ActionFn] | None = None) -> None:
        self._actions: dict[str, ActionFn] = {**BUILTIN, **(actions or {})}

    def register(self, name: str, fn: ActionFn) -> None:
        self._actions[name] = fn

    def names(self) -> list[str]:
        return sorted(self._actions)

    def run(self, name: str, ctx: ActionContext) -> str:
        fn = self._actions.get(name)
        if fn is None:
            raise NotFoundError(f"unknown alert action {name!r} (known: "
                                f"{', '.join(self.names())})",
                                fix="use one of the known actions in the rule's 'actions'")
        return fn(ctx)
