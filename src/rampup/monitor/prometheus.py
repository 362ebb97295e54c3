"""Monitoring counters on ``/metrics`` (Prometheus), fed by the monitor thread.

Counters, not gauges, so they add up across replicas and worker processes and any
ratio over any range is one PromQL expression, e.g. the missing fraction of a feature::

    rate(rampup_input_missing_total{feature="income"}[5m])
      / rate(rampup_input_values_total{feature="income"}[5m])

=============================================  ======================================
name                                           labels
=============================================  ======================================
``rampup_input_values_total``                  model, version, feature (present+missing)
``rampup_input_missing_total``                 model, version, feature
``rampup_outputs_total``                       model, version, role
``rampup_null_outputs_total``                  model, version, role
``rampup_output_class_total``                  model, version, class
``rampup_keyed_requests_total``                model, version
``rampup_repeated_queries_total``              model, version
``rampup_feedback_events_total``               model, version, event
``rampup_labels_total``                        model, version, role
``rampup_labels_correct_total``                model, version, role (classification)
``rampup_monitor_dropped_total``               (records the monitor could not take)
``rampup_monitor_cpu_seconds_total``           (CPU time of the monitor thread)
=============================================  ======================================

Label cardinality is bounded: at most :data:`MAX_FEATURES` features, :data:`MAX_CLASSES`
classes and :data:`MAX_EVENTS` event names per model and version; the rest are not
exported (they are still in the store's windows).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from rampup.monitor.aggregates import WindowAggregate, WindowKey
from rampup.monitor.outputs import SEP
from rampup.monitor.stats import OTHER

MAX_FEATURES = 50
MAX_CLASSES = 20
MAX_EVENTS = 20


class MonitorPrometheus:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        mv = ["model", "version"]
        self.values = Counter("rampup_input_values", "Input values seen per feature",
                              [*mv, "feature"], registry=r)
        self.missing = Counter("rampup_input_missing", "Missing input values per feature",
                               [*mv, "feature"], registry=r)
        self.outputs = Counter("rampup_outputs", "Model outputs", [*mv, "role"], registry=r)
        self.null = Counter("rampup_null_outputs", "Null or empty model outputs",
                            [*mv, "role"], registry=r)
        self.classes = Counter("rampup_output_class", "Outputs per class", [*mv, "class"],
                               registry=r)
        self.keyed = Counter("rampup_keyed_requests", "Predictions with a request key",
                             mv, registry=r)
        self.repeated = Counter("rampup_repeated_queries",
                                "Same or near-identical input from the same key", mv,
                                registry=r)
        self.events = Counter("rampup_feedback_events", "User events from feedback",
                              [*mv, "event"], registry=r)
        self.labels = Counter("rampup_labels", "Labels received", [*mv, "role"], registry=r)
        self.correct = Counter("rampup_labels_correct", "Labels equal to the prediction",
                               [*mv, "role"], registry=r)
        self.dropped = Counter("rampup_monitor_dropped",
                               "Prediction records the monitor could not take (overload)",
                               registry=r)
        self.cpu = Counter("rampup_monitor_cpu_seconds",
                           "CPU time spent by the monitor thread", registry=r)
        self._classes: dict[tuple[str, str], set[str]] = {}
        self._events: dict[tuple[str, str], set[str]] = {}

    @staticmethod
    def _bounded(seen: dict[tuple[str, str], set[str]], mv: tuple[str, str], item: str,
                 limit: int) -> bool:
        items = seen.setdefault(mv, set())
        if item in items:
            return True
        if len(items) >= limit:
            return False
        items.add(item)
        return True

    def observe(self, key: WindowKey, delta: WindowAggregate) -> None:
        """Add what one batch (``delta``) added to the window ``key``."""
        m, v, role = key.model, key.version, key.role
        mv = (m, v)
        if role == "answer":
            for name in list(delta.features)[:MAX_FEATURES]:
                f = delta.features[name]
                self.values.labels(m, v, name).inc(f.count + f.missing)
                if f.missing:
                    self.missing.labels(m, v, name).inc(f.missing)
            for cls, n in delta.output.classes.counts.items():
                if self._bounded(self._classes, mv, cls, MAX_CLASSES):
                    self.classes.labels(m, v, cls).inc(n)
            if delta.keyed:
                self.keyed.labels(m, v).inc(delta.keyed)
                self.repeated.labels(m, v).inc(delta.repeated)
            for ev, n in delta.events.counts.items():
                if n > 0 and self._bounded(self._events, mv, ev, MAX_EVENTS):
                    self.events.labels(m, v, ev).inc(n)
        if delta.output.n:
            self.outputs.labels(m, v, role).inc(delta.output.n)
            if delta.output.null:
                self.null.labels(m, v, role).inc(delta.output.null)
        perf = delta.performance
        if perf.labelled > 0:
            self.labels.labels(m, v, role).inc(perf.labelled)
            right = sum(n for cell, n in perf.cells.items()
                        if cell.split(SEP, 1)[0] == cell.split(SEP, 1)[1] and
                        not cell.startswith(OTHER) and n > 0)
            if right:
                self.correct.labels(m, v, role).inc(right)
