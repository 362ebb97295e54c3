"""What a running app offers the workers it starts.

The workers' start functions (:func:`rampup.alerts.runner.start_alerts`,
:func:`rampup.retrain.loop.start_retraining`, :func:`rampup.automation.runtime.
start_automation`, :func:`rampup.security.retention.start_retention`) take a
:class:`WorkerHost`, not the HTTP layer's :class:`rampup.serving.state.AppState` (which
satisfies it): they depend on this small protocol, one layer below them, and the app
depends on them, never the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rampup.config import Settings
    from rampup.project import ProjectFile
    from rampup.runtime import DeadLetters, Supervisor
    from rampup.store import Database


class WorkerHost(Protocol):
    """Settings, project file, store, the supervisor that runs workers and the
    dead-letter place; read only."""

    @property
    def settings(self) -> Settings: ...

    @property
    def project(self) -> ProjectFile: ...

    @property
    def store(self) -> Database: ...

    @property
    def supervisor(self) -> Supervisor: ...

    @property
    def dead_letters(self) -> DeadLetters | None: ...
