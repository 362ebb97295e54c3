"""The ``rampup`` command line. Each command group lives in its own module and
registers itself on :data:`app`."""

from __future__ import annotations

import os

# Serving answers small requests from worker threads; OpenMP pools (e.g. scikit-learn's
# HistGradientBoosting) spun up per call cost more than they save there (measured: 21.8
# vs 6.8 ms per call, p99 475 vs 24 ms). One thread unless the user says otherwise;
# set before any numeric library is loaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path
from typing import Annotated

import typer

from rampup.cli._context import CliState

app = typer.Typer(
    name="rampup",
    help="Serve, roll out, monitor and retrain ML models safely.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    project: Annotated[Path | None, typer.Option(
        "--project", "-p", envvar="RAMPUP_PROJECT_DIR",
        help="Project folder or rampup.yaml (default: the current folder).")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="RAMPUP_DATABASE_URL",
        help="Store URL (default: sqlite file rampup.db in the project folder).")] = None,
) -> None:
    ctx.obj = CliState(project=project, database_url=database_url)
    ctx.call_on_close(ctx.obj.close)


def _register_commands() -> None:
    """Add every command module's commands to :data:`app` (once; safe to call again)."""
    if getattr(app, "_rampup_registered", False):
        return
    from rampup.cli import modules

    for module in modules.ALL:
        module.register(app)
    app._rampup_registered = True  # type: ignore[attr-defined]


def main() -> None:
    app()


_register_commands()
