"""Monitoring wired into a running app: one call from ``create_app``'s lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup.monitor.custom import load_input_metrics
from rampup.monitor.loop import MonitorLoop
from rampup.monitor.prometheus import MonitorPrometheus
from rampup.monitor.recorder import Monitor
from rampup.serving.sampling import app_sampler

if TYPE_CHECKING:
    from rampup.serving.state import AppState


def start_monitoring(state: AppState) -> MonitorLoop | None:
    """Build the process's :class:`Monitor` (``state.monitor``) and start its thread;
    None when ``RAMPUP_MONITOR=false``. User-defined input metrics are imported here, so
    a wrong import path fails the start with a message naming the project-file key."""
    s = state.settings
    if not s.monitor:
        return None
    fns = load_input_metrics({name: spec.input_metrics
                              for name, spec in state.project.models.items()})
    state.monitor = Monitor(state.store, window_s=s.monitor_window_s,
                            keep_s=s.monitor_keep_s, retention_days=s.monitor_retention_days,
                            input_metrics=fns,
                            prometheus=MonitorPrometheus(state.metrics.registry),
                            dead_letters=state.dead_letters,
                            pipelines={name: pipe.stages[-1].model for name, pipe
                                       in state.project.pipelines().items()})
    return MonitorLoop(state.monitor, sampler=app_sampler(state),
                       tick=s.monitor_interval, flush_interval=s.monitor_flush_interval
                       ).start(state.supervisor)
