"""The ``rampup`` command line. Each command group lives in its own module and
registers itself on :data:`app`; :mod:`rampup.cli.modules` lists them with their help
panels. Nothing heavy is imported here or at the top of a command module (start-up time)."""

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
from typer.core import TyperGroup

from rampup.cli._context import CliState
from rampup.cli._lazy import LazyRoot, arrange

__all__ = ["app", "main"]


def _typer(cls: type[TyperGroup] = TyperGroup) -> typer.Typer:
    return typer.Typer(name="rampup", help="Serve, roll out, monitor and retrain ML models "
                       "safely.", no_args_is_help=True, pretty_exceptions_enable=False,
                       add_completion=False, cls=cls)


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


#: every command, registered (typer builds them all when it runs this app: the tests'
#: CliRunner does); ``main`` builds only the command being run.
app = _typer()
app.callback()(_root)


def _register_commands() -> None:
    """Add every command module's commands to :data:`app` (once; safe to call again)."""
    if getattr(app, "_rampup_registered", False):
        return
    from rampup.cli import modules

    for module in modules.ALL:
        module.register(app)
    arrange(app, modules.PANELS, modules.PANEL_ORDER)
    app._rampup_registered = True  # type: ignore[attr-defined]


def main() -> None:
    """The ``rampup`` program: the same commands as :data:`app`, but only the one being
    run is built (typer would build all ~80 first; start-up time)."""
    fast = _typer(LazyRoot)
    fast.callback()(_root)
    LazyRoot.run(fast, app)


_register_commands()
