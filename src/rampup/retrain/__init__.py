"""Retraining: triggers and guards, dataset assembly, the training job, evaluation against
the champion, replay of logged traffic, and the rollout of a passing candidate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Retrainer": "rampup.retrain.service",
    "RetrainSpec": "rampup.retrain.spec",
    "Retraining": "rampup.retrain.loop",
    "start_retraining": "rampup.retrain.loop",
    "ReplayReport": "rampup.retrain.replay",
}

__all__ = ["ReplayReport", "RetrainSpec", "Retrainer", "Retraining", "start_retraining"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.retrain.loop import Retraining, start_retraining
    from rampup.retrain.replay import ReplayReport
    from rampup.retrain.service import Retrainer
    from rampup.retrain.spec import RetrainSpec
