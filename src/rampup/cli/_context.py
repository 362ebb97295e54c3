"""What every CLI command needs: settings, the project file, the store, a console."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from rampup.durations import TIME_FORMS
from rampup.errors import RampupError

if TYPE_CHECKING:
    from rampup.config import Settings
    from rampup.project import ProjectFile
    from rampup.store import Database

console = Console()
err_console = Console(stderr=True)

#: help of --since/--until options (read by rampup.durations.parse_instant)
TIME_HELP = TIME_FORMS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Options given before the command (``rampup --project DIR ...``)."""

    project: Path | None = None
    database_url: str | None = None
    _loaded: tuple[Settings, ProjectFile] | None = field(default=None, repr=False)
    _store: Database | None = field(default=None, repr=False)

    def load(self) -> tuple[Settings, ProjectFile]:
        if self._loaded is None:
            from rampup.config import load_settings  # start-up time: pydantic-settings

            self._loaded = load_settings(self.project, database_url=self.database_url)
        return self._loaded

    @property
    def settings(self) -> Settings:
        return self.load()[0]

    @property
    def project_file(self) -> ProjectFile:
        return self.load()[1]

    def store(self) -> Database:
        if self._store is None:
            from rampup.store import Database  # start-up time: SQLAlchemy

            self._store = Database.open(self.settings.resolved_database_url,
                                        migrate=self.settings.migrate)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def print_wide(renderable: Any) -> None:
    """Print a table whole: on a terminal it fits the window as usual; piped or redirected
    (no terminal, so rich would assume 80 columns) it takes the width it needs."""
    if console.is_terminal:
        console.print(renderable)
        return
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update(width=10_000), renderable).maximum
    Console(file=console.file, width=max(console.width, width)).print(renderable)


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def handle_errors(fn: F) -> F:
    """Print RampupError as a one-line message with its fix, exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RampupError as exc:
            # messages quote user text such as feature[income]: not rich markup
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False,
                              soft_wrap=True)
            if exc.fix:
                err_console.print(f"[bold]fix:[/] {escape(exc.fix)}", highlight=False,
                                  soft_wrap=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
