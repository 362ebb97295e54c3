"""Actions an alert may take when it starts firing: one registry of named functions.

Built in: ``rollback`` (the model's previous traffic policy, or the active rollout's
baseline), ``pause_rollout`` (hold the active rollout where it is) and ``retrain``.
``retrain`` here only records a ``retrain_requested`` event; inside ``rampup serve``,
:func:`rampup.retrain.loop.alert_actions` registers a ``retrain`` that records the event
and queues a retraining run (the registry the evaluator is given).

An action returns a short text saying what it did; raising means it failed (the
evaluator records either in the alert history). Actions are fenced: the context names
the model's deployment and active rollout (id, revision) the evaluator saw when it
measured the rule, and an action on a state that has moved since changes nothing (the
store records it as superseded; the action says so in its text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rampup.alerts.rules import AlertRule
from rampup.errors import ConflictError, NotFoundError, SupersededError
from rampup.store import Database


@dataclass(frozen=True)
class ActionContext:
    """``deployment_id``/``rollout``: what the evaluator saw when it measured the rule
    (``"current"``: decide on whatever is current when the action runs)."""

    store: Database
    rule: AlertRule
    alert: Mapping[str, Any]
    now: float = field(default_factory=time.time)
    deployment_id: int | Literal["current"] | None = "current"
    rollout: tuple[int, int] | Literal["current"] | None = "current"

    @property
    def actor(self) -> str:
        return f"alert:{self.rule.name}"

    @property
    def reason(self) -> str:
        return f"alert {self.rule.name} ({self.rule.severity}): {self.alert.get('message', '')}"


ActionFn = Callable[[ActionContext], str]


def rollback(ctx: ActionContext) -> str:
    from rampup.rollout.service import Rollouts

    seen_rollout = ctx.rollout if isinstance(ctx.rollout, tuple) else None
    try:
        policy = Rollouts(ctx.store).rollback(ctx.rule.model, actor=ctx.actor,
                                              reason=ctx.reason, seen=ctx.deployment_id,
                                              seen_rollout=seen_rollout)
    except SupersededError as exc:
        return f"not rolled back: {_why(exc)}"
    routes = ", ".join(f"{v} {w:g}%" for v, w in policy.routes.items())
    return f"rolled {ctx.rule.model} back to {routes}"


def pause_rollout(ctx: ActionContext) -> str:
    from rampup.rollout.service import Rollouts

    rollouts = Rollouts(ctx.store)
    seen = ctx.rollout
    if seen == "current":
        active = rollouts.active(ctx.rule.model)
        seen = None if active is None else (active[0].id, active[1])
    if seen is None:
        return f"{ctx.rule.model} has no active rollout; nothing to pause"
    try:
        r = rollouts.pause(ctx.rule.model, actor=ctx.actor, reason=ctx.reason,
                           seen=ctx.deployment_id, seen_rollout=seen)
    except SupersededError as exc:
        return f"not paused: {_why(exc)}"
    except ConflictError as exc:
        return exc.message
    return f"paused rollout #{r.id} of {r.candidate} at step {r.step + 1}"


def _why(exc: SupersededError) -> str:
    """The part of a superseded decision's message after 'was not applied: '."""
    return exc.message.split("was not applied: ", 1)[-1]


def retrain(ctx: ActionContext) -> str:
    ctx.store.events.add_event(ctx.actor, "retrain_requested", model=ctx.rule.model, details={
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
