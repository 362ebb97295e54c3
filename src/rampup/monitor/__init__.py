"""Monitoring: streaming, mergeable aggregates per model x version x role x stage x window,
snapshots in the store, the metric catalogue, queries, alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Monitor": "rampup.monitor.recorder",
    "MonitorLoop": "rampup.monitor.loop",
    "StoreMetricSource": "rampup.monitor.query",
    "window_profile": "rampup.monitor.query",
    "QuantileSketch": "rampup.monitor.sketch",
    "cascade_report": "rampup.monitor.pipelines",
}

__all__ = ["Monitor", "MonitorLoop", "QuantileSketch", "StoreMetricSource", "cascade_report",
           "window_profile"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.monitor.loop import MonitorLoop
    from rampup.monitor.pipelines import cascade_report
    from rampup.monitor.query import StoreMetricSource, window_profile
    from rampup.monitor.recorder import Monitor
    from rampup.monitor.sketch import QuantileSketch
