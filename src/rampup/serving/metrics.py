"""Prometheus metrics of one app (own registry: several apps can live in one process).

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` is set by ``rampup serve``
and :func:`render` merges every worker's samples.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rampup_requests", "Prediction requests answered",
                                ["model", "version", "status"], registry=r)
        self.records = Counter("rampup_predictions", "Records predicted",
                               ["model", "version", "role"], registry=r)
        self.errors = Counter("rampup_errors", "Failed prediction requests by kind",
                              ["model", "version", "kind"], registry=r)
        self.latency = Histogram("rampup_request_latency_seconds",
                                 "Time from request to response, by answering version",
                                 ["model", "version"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("rampup_in_flight_requests", "Requests being handled",
                               registry=r, multiprocess_mode="livesum")
        self.log_dropped = Counter("rampup_predlog_dropped",
                                   "Prediction log records dropped because the queue was full",
                                   registry=r)
        self.log_queue = Gauge("rampup_predlog_queue_depth", "Prediction log records waiting",
                               registry=r, multiprocess_mode="livesum")
        self.shadow = Counter("rampup_shadow_requests", "Mirrored (shadow) calls by outcome",
                              ["model", "version", "outcome"], registry=r)
        self.batch_size = Histogram("rampup_batch_records", "Records per model call",
                                    ["model", "version"], registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        # Process levels are per process (replica host, worker pid), never per version: a
        # version's own cost is rampup_model_cpu_seconds (CPU inside its model calls).
        process = ["replica", "worker"]
        self.process_rss = Gauge("rampup_process_resident_memory_bytes",
                                 "Resident memory of one serving process", process,
                                 registry=r, multiprocess_mode="liveall")
        self.process_cpu = Gauge("rampup_process_cpu_seconds",
                                 "CPU time used by one serving process", process,
                                 registry=r, multiprocess_mode="liveall")
        self.model_cpu = Counter("rampup_model_cpu_seconds",
                                 "CPU time spent inside a version's model calls (the calling "
                                 "thread's CPU time)", ["model", "version"], registry=r)
        self.model_calls = Counter("rampup_model_calls", "Model calls (micro-batches)",
                                   ["model", "version"], registry=r)
        self._process_labels = (socket.gethostname(), str(os.getpid()))
        self._proc = psutil.Process()
        self._extra: list[Any] = []  # collectors of this process (e.g. worker health)
        self._answered: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def answered(self, model: str, version: str, role: str) -> tuple[Any, Any, Any]:
        """The ``ok`` request counter, the latency histogram and the records counter of
        one answering version and role: looked up once, then reused on the hot path
        (a ``labels()`` call takes a lock and hashes the label values every time)."""
        key = (model, version, role)
        got = self._answered.get(key)
        if got is None:
            got = self._answered[key] = (self.requests.labels(model, version, "ok"),
                                         self.latency.labels(model, version),
                                         self.records.labels(model, version, role))
        return got

    def add_collector(self, collector: Any) -> None:
        """A collector already registered on :attr:`registry` that must also appear in
        the merged multiprocess view (it computes its values when scraped)."""
        self._extra.append(collector)

    def bind_queue_depth(self, depth: Callable[[], int]) -> None:
        self.log_queue.set_function(lambda: float(depth()))

    def render(self) -> tuple[bytes, str]:
        rss = self._proc.memory_info().rss
        cpu = self._proc.cpu_times()
        self.process_rss.labels(*self._process_labels).set(rss)
        self.process_cpu.labels(*self._process_labels).set(cpu.user + cpu.system)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            _mp.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            for c in self._extra:  # this worker process's view only
                merged.register(c)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
