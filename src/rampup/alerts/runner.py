"""Alerts inside ``rampup serve``: sync the project's rules, then run the evaluator in a
background thread (acting only on the replica that holds the leader lock)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from rampup.alerts.actions import ActionRegistry
from rampup.alerts.evaluator import AlertEvaluator
from rampup.alerts.notifiers import build_notifiers
from rampup.alerts.service import Alerts
from rampup.host import WorkerHost
from rampup.monitor.names import MetricSource
from rampup.runtime import DeadLetters, Supervisor
from rampup.runtime.leader import LeaderLoop
from rampup.store import Database

if TYPE_CHECKING:
    from rampup.config import Settings
    from rampup.monitor.recorder import Monitor
    from rampup.project import ProjectFile

log = logging.getLogger("rampup.alerts")


def default_source(store: Database, monitor: Monitor | None = None, *,
                   drift_ttl_s: float = 60.0, project: ProjectFile | None = None
                   ) -> MetricSource:
    """Metrics from the store's snapshots merged across replicas (plus this process's
    unflushed windows when its ``monitor`` is given), and drift metrics (a model's drift
    check reused for ``drift_ttl_s`` seconds). With the ``project``, a rule of a pipeline
    with ``stage: NAME`` reads that stage's windows."""
    from rampup.alerts.sources import AlertSource
    from rampup.monitor.pipelines import stage_map
    from rampup.monitor.query import StoreMetricSource

    stages = stage_map(project) if project is not None else None
    return AlertSource(store, StoreMetricSource(store, monitor=monitor, stages=stages),
                       ttl_s=drift_ttl_s)


def start_evaluator(store: Database, settings: Settings, project: ProjectFile,
                    source: MetricSource, actions: ActionRegistry | None = None, *,
                    supervisor: Supervisor | None = None,
                    dead_letters: DeadLetters | None = None) -> LeaderLoop | None:
    """Re-sync the project file's rules (runtime rules stay); start the evaluator when
    ``settings.alerts`` is on. Returns the running loop (stop it on shutdown) or None."""
    sync = Alerts(store, alerting=project.alerting).sync_project(project)
    if sync.added or sync.updated or sync.removed:
        log.info("alert rules synced from the project file: %d added, %d updated, %d removed",
                 len(sync.added), len(sync.updated), len(sync.removed))
    for key in sync.overridden:
        log.info("alert rule %s: the runtime rule of that name overrides the project's", key)
    if not settings.alerts:
        return None
    evaluator = AlertEvaluator(store, source, notifiers=build_notifiers(project.alerting),
                               base_url=project.alerting.base_url,
                               workers=project.alerting.notify_workers, actions=actions,
                               dead_letters=dead_letters)
    return evaluator.start(settings.alerts_interval, supervisor)


class AlertsHost(WorkerHost, Protocol):
    """A :class:`~rampup.host.WorkerHost` with the process's monitor (None: off)."""

    @property
    def monitor(self) -> Monitor | None: ...


def start_alerts(state: AlertsHost, actions: ActionRegistry | None = None) -> LeaderLoop | None:
    """One call from ``create_app``'s lifespan (after monitoring started); ``actions``
    replaces the built-in action registry (retraining gives its ``retrain`` action)."""
    return start_evaluator(state.store, state.settings, state.project,
                           default_source(state.store, state.monitor,
                                          drift_ttl_s=state.settings.drift_check_interval,
                                          project=state.project),
                           actions, supervisor=state.supervisor,
                           dead_letters=state.dead_letters)
