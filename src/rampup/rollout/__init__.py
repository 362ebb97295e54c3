"""Deployments (traffic policies), routing and, later, rollout plans and checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "DeploymentPolicy": "rampup.rollout.policy",
    "Router": "rampup.rollout.router",
    "Plan": "rampup.rollout.plan",
    "Step": "rampup.rollout.plan",
    "load_plan": "rampup.rollout.plan",
    "Rollouts": "rampup.rollout.service",
    "RolloutController": "rampup.rollout.controller",
    "parse_check": "rampup.rollout.checks",
    "judge_all": "rampup.rollout.judge",
    "measure": "rampup.rollout.window",
    "Agreement": "rampup.rollout.agreement",
}

__all__ = ["Agreement", "DeploymentPolicy", "Plan", "RolloutController", "Rollouts", "Router",
           "Step", "judge_all", "load_plan", "measure", "parse_check"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.rollout.agreement import Agreement
    from rampup.rollout.checks import parse_check
    from rampup.rollout.controller import RolloutController
    from rampup.rollout.judge import judge_all
    from rampup.rollout.plan import Plan, Step, load_plan
    from rampup.rollout.policy import DeploymentPolicy
    from rampup.rollout.router import Router
    from rampup.rollout.service import Rollouts
    from rampup.rollout.window import measure
