"""Levels the monitor samples from a running app at each tick: in-flight requests,
queue depths (prediction log, shadow calls, each version's micro-batcher), process CPU
and resident memory, and each version's model CPU time per call."""

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
    """Process levels (``cpu_percent``, ``memory_rss_mb``: this process, whatever it
    serves) and per-version levels: ``model_cpu_ms``, the CPU time per model call since
    the last tick, measured inside the version's calls (``LoadedVersion.model_cpu``)."""
    proc = psutil.Process()
    proc.cpu_percent(None)  # the first call only starts the measurement
    seen: dict[tuple[str, str], tuple[object, float, int]] = {}

    def sample() -> Samples:
        s = Samples()
        s.process["in_flight"] = gauge_value(state.metrics.in_flight)
        s.process["log_queue_depth"] = float(state.writer.depth)
        s.process["shadow_queue_depth"] = float(len(state.shadow_tasks))
        s.process["cpu_percent"] = proc.cpu_percent(None)
        s.process["memory_rss_mb"] = proc.memory_info().rss / 2**20
        for name, served in list(state.runtime.models.items()):
            for version, lv in list(served.versions.items()):
                levels = s.versions.setdefault((name, version), {})
                if lv.batcher is not None:
                    # records waiting for the next model call
                    levels["batch_queue_depth"] = float(getattr(lv.batcher, "_size", 0))
                cpu_s, calls = lv.model_cpu.read()
                before = seen.get((name, version))
                seen[(name, version)] = (lv, cpu_s, calls)
                if before is None or before[0] is not lv:
                    before = (lv, 0.0, 0)
                d_cpu, d_calls = cpu_s - before[1], calls - before[2]
                if d_calls > 0:
                    levels["model_cpu_ms"] = 1000.0 * d_cpu / d_calls
                    state.metrics.model_cpu.labels(name, version).inc(d_cpu)
                    state.metrics.model_calls.labels(name, version).inc(d_calls)
        return s

    return sample
