"""The command modules, in help order. Each has ``register(app: typer.Typer) -> None``."""

from __future__ import annotations

from types import ModuleType

from rampup.cli import (
    alert_cmds,
    analysis_cmds,
    automation_cmds,
    batch_cmds,
    demo_cmds,
    drift_cmds,
    loadtest_cmds,
    log_cmds,
    monitor_cmds,
    quality_cmds,
    registry_cmds,
    retrain_cmds,
    review_cmds,
    rollout_cmds,
    serve_cmds,
)

ALL: list[ModuleType] = [serve_cmds, registry_cmds, rollout_cmds, batch_cmds, log_cmds,
                         analysis_cmds, quality_cmds, drift_cmds, monitor_cmds, alert_cmds,
                         retrain_cmds, automation_cmds, review_cmds, loadtest_cmds,
                         demo_cmds]
