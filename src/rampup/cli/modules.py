"""The command modules and the help panel of every command.

Each module has ``register(app: typer.Typer) -> None`` and imports at its top only what
building its commands needs (typer, rich, the standard library): the libraries a command
works with (pandas, SciPy, scikit-learn, FastAPI, pydantic models, the store) are imported
inside it, so ``rampup --help`` and every command start at once
(``tests/cli/test_startup.py`` keeps it so, ``benchmarks/cli.py`` measures it).
"""

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
    security_cmds,
    serve_cmds,
)

ALL: list[ModuleType] = [serve_cmds, registry_cmds, rollout_cmds, batch_cmds, log_cmds,
                         analysis_cmds, quality_cmds, drift_cmds, monitor_cmds, alert_cmds,
                         retrain_cmds, automation_cmds, review_cmds, loadtest_cmds,
                         demo_cmds, security_cmds]

#: help panels, in the order ``rampup --help`` shows them
PANEL_ORDER = ("Serving", "Rollout", "Monitoring", "Analysis", "Data", "Admin")
#: the panel of every top-level command and command group (a test checks none is missing)
PANELS: dict[str, str] = {
    "init": "Serving", "register": "Serving", "serve": "Serving", "versions": "Serving",
    "show": "Serving", "apply": "Serving", "loadtest": "Serving", "demo": "Serving",
    "deploy": "Rollout", "rollout": "Rollout", "promote": "Rollout", "rollback": "Rollout",
    "retrain": "Rollout", "replay": "Rollout",
    "monitor": "Monitoring", "alerts": "Monitoring", "drift": "Monitoring",
    "export": "Monitoring",
    "evaluate": "Analysis", "compare": "Analysis", "errors": "Analysis", "audit": "Analysis",
    "labels": "Analysis",
    "predict-batch": "Data", "log": "Data", "split": "Data", "review": "Data",
    "automation": "Admin", "tokens": "Admin", "reviewers": "Admin", "events": "Admin",
    "forget": "Data",
}
