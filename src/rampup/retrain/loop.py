"""Retraining inside ``rampup serve``: a :class:`Retrainer` for the admin API and the
``retrain`` alert action, and a background loop on the leader that starts scheduled runs
and executes queued ones on its own thread (never on the event loop; the server keeps
serving while a run trains in its subprocess)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rampup.alerts.actions import ActionContext, ActionRegistry, retrain
from rampup.retrain.service import Retrainer
from rampup.runtime.leader import LeaderLoop

if TYPE_CHECKING:
    from rampup.host import WorkerHost

LOCK_NAME = "retrain"


@dataclass
class Retraining:
    retrainer: Retrainer
    actions: ActionRegistry
    loop: LeaderLoop | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """End a running training job (its run is recorded as failed), then the loop."""
        self.retrainer.cancel.set()
        if self.loop is not None:
            self.loop.stop(timeout)


def alert_actions(retrainer: Retrainer) -> ActionRegistry:
    """The built-in actions with ``retrain`` starting a run (and still recording the
    ``retrain_requested`` event, for whoever reads it)."""
    actions = ActionRegistry()

    def act(ctx: ActionContext) -> str:
        retrain(ctx)
        return retrainer.alert_action(ctx)

    actions.register("retrain", act)
    return actions


def start_retraining(state: WorkerHost) -> Retraining:
    """One call from ``create_app``'s lifespan; the loop runs when ``settings.retrain`` is
    on and some model has a ``retrain:`` section."""
    from rampup.registry.registry import Registry
    from rampup.rollout.gates import deploy_gate

    settings = state.settings
    retrainer = Retrainer(Registry.from_settings(settings, state.store), state.project,
                          settings.project_dir, gate=deploy_gate, executes=settings.retrain)
    out = Retraining(retrainer, alert_actions(retrainer))
    if settings.retrain and retrainer.models():
        # no stall limit: a pass runs the training job itself (its own timeout applies)
        out.loop = LeaderLoop(state.store, LOCK_NAME, retrainer.tick,
                              settings.retrain_interval).start(state.supervisor)
    return out
