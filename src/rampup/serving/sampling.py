"""Levels the monitor samples from a running app at each tick: in-flight requests,
queue depths (prediction log, shadow calls, each version's micro-batcher), process CPU
and resident memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import psutil

from rampup.monitor.recorder import Samples

if TYPE_CHECKING:
    from prometheus_client import Gauge

    from rampup.serving.state import AppState


def gauge_value(gauge: Gauge) -> float:
    """The current value of an unlabelled prometheus Gauge (public ``collect`` API)."""
    for metric in gauge.collect():
        for sample in metric.samples:
            return float(sample.value)
    return 0.0


def app_sampler(state: AppState) -> Callable[[], Samples]:
    proc = psutil.Process()
    proc.cpu_percent(None)  # the first call only starts the measurement

    def sample() -> Samples:
        s = Samples()
        s.process["in_flight"] = gauge_value(state.metrics.in_flight)
        s.process["log_queue_depth"] = float(state.writer.depth)
        s.process["shadow_queue_depth"] = float(len(state.shadow_tasks))
        s.process["cpu_percent"] = proc.cpu_percent(None)
        s.process["memory_rss_mb"] = proc.memory_info().rss / 2**20
        for name, served in list(state.runtime.models.items()):
            for version, lv in list(served.versions.items()):
                if lv.batcher is not None:
                    # records waiting for the next model call
                    depth = getattr(lv.batcher, "_size", 0)
                    s.versions[(name, version)] = {"batch_queue_depth": float(depth)}
        return s

    return sample
