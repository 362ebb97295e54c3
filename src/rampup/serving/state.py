"""Per-app state: everything a request handler needs, built by :func:`create_app`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from rampup.config import Settings
from rampup.predlog.writer import LogWriter, PredictionRecord
from rampup.project import ProjectFile
from rampup.runtime import (
    DeadLetters,
    Supervised,
    Supervisor,
    WorkerContext,
    classify,
    describe,
)
from rampup.serving.heap import settle
from rampup.serving.metrics import ServingMetrics
from rampup.serving.runtime import Runtime
from rampup.store import Database

if TYPE_CHECKING:
    from rampup.automation.runtime import AutomationRuntime
    from rampup.monitor.recorder import Monitor
    from rampup.security.privacy import Privacy
    from rampup.serving.auth import TokenBook

log = logging.getLogger("rampup.serving")


@dataclass
class AppState:
    settings: Settings
    project: ProjectFile
    store: Database
    runtime: Runtime
    writer: LogWriter
    metrics: ServingMetrics
    owns_store: bool = False
    poller: Supervised | None = None  # the deployment-poller worker
    shadow_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    ready: bool = False
    monitor: Monitor | None = None  # None: monitoring is off (RAMPUP_MONITOR=false)
    automation: AutomationRuntime | None = None  # levels and the review queue writer
    supervisor: Supervisor = field(default_factory=Supervisor)  # runs every worker
    dead_letters: DeadLetters | None = None  # what the workers could not write
    tokens: TokenBook | None = None  # named admin/reviewer tokens (None: settings only)
    privacy: Privacy | None = None  # the project's privacy rules (None: nothing protected)

    def protect(self, records: list[PredictionRecord]) -> None:
        """Apply the project's privacy rules to records about to be monitored/logged."""
        if self.privacy is not None:
            self.privacy.protect(records)

    async def record(self, model: str, version: str, records: list[PredictionRecord]) -> None:
        """Answered predictions: offered to the monitor and queued for the log writer
        (a full queue drops after its timeout, counted on both). Protected fields are
        scrubbed first, so neither ever sees them."""
        self.protect(records)
        if self.monitor is not None:
            self.monitor.offer(records)
        if not await self.writer.submit_async(records):
            self.metrics.log_dropped.inc(len(records))
            if self.monitor is not None:
                self.monitor.note_dropped(model, version, len(records))


def app_state(request: Request) -> AppState:
    st: AppState = request.app.state.rampup
    return st


POLLER = "deployment-poller"
POLLER_STALL_AFTER_S = 900.0  # a refresh may load a large model


def poll_deployments(st: AppState, ctx: WorkerContext) -> None:
    """The ``deployment-poller`` worker: pick up policy changes made by the CLI, the
    admin API or another replica (a version that fails to load is reported on
    ``/readyz`` by the runtime; an unreachable store is retried next round)."""
    interval = st.settings.deployment_poll_interval
    while not ctx.wait(interval):
        try:
            if st.runtime.refresh() and st.settings.gc_freeze:
                settle(collect=False)  # the new models' objects: out of the collector's way
        except Exception as exc:
            if classify(exc) != "transient":
                raise
            log.warning("deployment refresh failed (%s); will retry", describe(exc))
