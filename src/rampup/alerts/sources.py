"""The metric source alert rules read: the monitor's metrics, plus ``drift.*`` and
``concept.*`` from the drift package's check of the rule's window.

A drift check reads a whole window and compares it with the reference profile, so its
metrics are computed once per (model, version, window) and reused for ``ttl_s`` seconds
by every rule that names one of them; the calibration cache lives as long as the source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rampup.monitor.names import MetricSource
from rampup.store import Database

log = logging.getLogger("rampup.alerts")

DRIFT_PREFIXES = ("drift.", "concept.")


class AlertSource:
    """A :class:`~rampup.monitor.names.MetricSource` for alert rules (see the module doc)."""

    def __init__(self, store: Database, base: MetricSource, *, ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.base = base
        self.ttl_s = ttl_s
        self.clock = clock
        self._drift: dict[tuple[str, str | None, float], tuple[float, dict[str, float]]] = {}
        self._lock = threading.Lock()
        self._null_cache: Any = None
        self._concept: Any = None  # rampup.drift.live.ConceptWindows, made on first use

    def value(self, model: str, metric: str, *, version: str | None = None,
              role: str = "answer", stage: str | None = None, window_s: float = 300.0,
              now: float | None = None) -> float | None:
        if metric.startswith("concept."):
            return self.concept_metrics(model, version, window_s, now).get(metric)
        if metric.startswith(DRIFT_PREFIXES):
            return self.drift_metrics(model, version, window_s, now).get(metric)
        return self.base.value(model, metric, version=version, role=role, stage=stage,
                               window_s=window_s, now=now)

    def series(self, model: str, metric: str, *, version: str | None = None,
               role: str = "answer", stage: str | None = None, since: float,
               until: float | None = None, step_s: float = 60.0
               ) -> list[tuple[float, float | None]]:
        if metric.startswith(DRIFT_PREFIXES):
            return []  # drift has no stored history to suggest thresholds from
        return self.base.series(model, metric, version=version, role=role, stage=stage,
                                since=since, until=until, step_s=step_s)

    def explain(self, model: str, metric: str, *, version: str | None = None,
                window_s: float = 300.0, now: float | None = None) -> str | None:
        """What an alert on ``metric`` should add to its message: for drift and concept
        metrics, which features drift and by how much (from the same cached check)."""
        if not metric.startswith(DRIFT_PREFIXES):
            return None
        from rampup.drift.metrics import drift_summary

        return drift_summary(self.drift_metrics(model, version, window_s, now)) or None

    def concept_metrics(self, model: str, version: str | None, window_s: float,
                        now: float | None = None) -> dict[str, float]:
        """``concept.*`` of ``[now - window_s, now)`` from windows kept current between
        calls (:mod:`rampup.drift.live`): each call reads only new rows and labels."""
        from rampup.drift.live import ConceptWindows

        when = self.clock() if now is None else now
        with self._lock:
            if self._concept is None:
                self._concept = ConceptWindows(self.store, clock=self.clock)
            concept = self._concept
        return concept.metrics_or_empty(model, version, window_s, when)  # type: ignore[no-any-return]

    def drift_metrics(self, model: str, version: str | None, window_s: float,
                      now: float | None = None) -> dict[str, float]:
        """The drift package's metrics of ``[now - window_s, now)`` (cached)."""
        from rampup.drift import NullCache, latest_metrics

        when = self.clock() if now is None else now
        key = (model, version, window_s)
        with self._lock:
            hit = self._drift.get(key)
            if hit is not None and 0 <= when - hit[0] < self.ttl_s:
                return hit[1]
            if self._null_cache is None:
                self._null_cache = NullCache()
            cache = self._null_cache
        metrics = latest_metrics(self.store, model, now=when, window_s=window_s,
                                 version=version, cache=cache)
        with self._lock:
            self._drift[key] = (when, metrics)
        return metrics
