"""The aggregate of one model x version x role x stage x time window.

A :class:`WindowAggregate` holds everything monitoring knows about the window, in
sections: software (requests, errors by kind, a latency sketch, sampled gauges), inputs
(per feature, input length, user-defined input metrics), outputs, repeated queries,
user events and performance. Every part is mergeable: merging two windows, or the same
window from two replicas, gives what one aggregate over the union would hold; and every
part round-trips through JSON (``to_dict``/``from_dict``), which is how snapshots are
stored. Updating from prediction records lives in :mod:`rampup.monitor.ingest`.

>>> a, b = WindowAggregate(), WindowAggregate()
>>> a.requests, b.requests = 3, 4
>>> a.latency.update_many([1.0, 2.0, 3.0]); b.latency.update_many([4.0] * 4)
>>> m = WindowAggregate.from_dict(a.to_dict()).merge(b)
>>> m.requests, m.latency.count, m.latency.quantile(1.0)
(7, 7, 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rampup.monitor.features import FeatureAgg
from rampup.monitor.outputs import OutputAgg, PerformanceAgg
from rampup.monitor.sketch import QuantileSketch
from rampup.monitor.stats import Gauge, Moments, TopCounts

FORMAT = 1
EVENT_CAPACITY = 64
NO_STAGE = ""
SECTIONS = frozenset({"inputs", "output", "repeats", "events", "performance"})


@dataclass(frozen=True, order=True)
class WindowKey:
    """Where a window's aggregate belongs. ``stage`` is ``""`` for a model's own records."""

    model: str
    version: str
    role: str
    stage: str
    start: float


class CustomAgg:
    """A user-defined input metric: moments of its values and a count of failures."""

    __slots__ = ("errors", "moments")

    def __init__(self) -> None:
        self.moments = Moments()
        self.errors = 0

    def merge(self, other: CustomAgg) -> CustomAgg:
        self.moments.merge(other.moments)
        self.errors += other.errors
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"moments": self.moments.to_dict(), "errors": self.errors}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CustomAgg:
        c = cls()
        c.moments = Moments.from_dict(d["moments"])
        c.errors = int(d["errors"])
        return c


class WindowAggregate:
    """Everything about one window (see the module docstring). Counts are per record,
    except ``requests``/``errors``/``latency``, which are per HTTP request."""

    def __init__(self) -> None:
        # software
        self.requests = 0
        self.predictions = 0
        self.errors: dict[str, int] = {}  # error kind -> requests
        self.latency = QuantileSketch()  # milliseconds, one value per request
        self.gauges: dict[str, Gauge] = {}
        self.log_dropped = 0
        self.early_stops = 0  # pipeline records answered by a stage before the last
        # inputs
        self.features: dict[str, FeatureAgg] = {}
        self.input_length = Moments()
        self.custom: dict[str, CustomAgg] = {}
        # outputs
        self.output = OutputAgg()
        # repeated queries: requests with a key, and those repeating a recent input
        self.keyed = 0
        self.repeated = 0
        self.repeated_exact = 0
        # feedback, attributed to the prediction's window
        self.events = TopCounts(EVENT_CAPACITY)
        self.performance = PerformanceAgg()

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def gauge(self, name: str) -> Gauge:
        g = self.gauges.get(name)
        if g is None:
            g = self.gauges[name] = Gauge()
        return g

    def merge(self, other: WindowAggregate) -> WindowAggregate:
        """Add ``other`` into this aggregate (in place) and return it."""
        self.requests += other.requests
        self.predictions += other.predictions
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.latency.merge(other.latency)
        for name, g in other.gauges.items():
            self.gauge(name).merge(g)
        self.log_dropped += other.log_dropped
        self.early_stops += other.early_stops
        for name, f in other.features.items():
            mine = self.features.get(name)
            if mine is None:
                self.features[name] = FeatureAgg.from_dict(f.to_dict())
            elif mine.kind == f.kind:
                mine.merge(f)
        self.input_length.merge(other.input_length)
        for name, c in other.custom.items():
            self.custom.setdefault(name, CustomAgg()).merge(c)
        self.output.merge(other.output)
        self.keyed += other.keyed
        self.repeated += other.repeated
        self.repeated_exact += other.repeated_exact
        self.events.merge(other.events)
        self.performance.merge(other.performance)
        return self

    def copy(self) -> WindowAggregate:
        return WindowAggregate.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "software": {"requests": self.requests, "predictions": self.predictions,
                         "errors": self.errors, "latency_ms": self.latency.to_dict(),
                         "gauges": {k: g.to_dict() for k, g in self.gauges.items()},
                         "log_dropped": self.log_dropped, "early_stops": self.early_stops},
            "inputs": {"features": {k: f.to_dict() for k, f in self.features.items()},
                       "length": self.input_length.to_dict(),
                       "custom": {k: c.to_dict() for k, c in self.custom.items()}},
            "output": self.output.to_dict(),
            "repeats": {"keyed": self.keyed, "repeated": self.repeated,
                        "exact": self.repeated_exact},
            "events": self.events.to_dict(),
            "performance": self.performance.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], sections: set[str] | None = None
                  ) -> WindowAggregate:
        """Rebuild from :meth:`to_dict`. ``sections`` (a subset of ``inputs``, ``output``,
        ``repeats``, ``events``, ``performance``) skips decoding the others, which stay
        empty; the software section is always read."""
        a = cls()
        sw = d["software"]
        a.requests, a.predictions = int(sw["requests"]), int(sw["predictions"])
        a.errors = {str(k): int(v) for k, v in sw["errors"].items()}
        a.latency = QuantileSketch.from_dict(sw["latency_ms"])
        a.gauges = {str(k): Gauge.from_dict(v) for k, v in sw["gauges"].items()}
        a.log_dropped = int(sw["log_dropped"])
        a.early_stops = int(sw.get("early_stops", 0))
        want = SECTIONS if sections is None else sections
        if "inputs" in want:
            inp = d["inputs"]
            a.features = {str(k): FeatureAgg.from_dict(v) for k, v in inp["features"].items()}
            a.input_length = Moments.from_dict(inp["length"])
            a.custom = {str(k): CustomAgg.from_dict(v) for k, v in inp["custom"].items()}
        if "output" in want:
            a.output = OutputAgg.from_dict(d["output"])
        if "repeats" in want:
            rep = d["repeats"]
            a.keyed, a.repeated = int(rep["keyed"]), int(rep["repeated"])
            a.repeated_exact = int(rep["exact"])
        if "events" in want:
            a.events = TopCounts.from_dict(d["events"])
        if "performance" in want:
            a.performance = PerformanceAgg.from_dict(d["performance"])
        return a


def merge_all(aggs: list[WindowAggregate]) -> WindowAggregate:
    """One aggregate over all of ``aggs`` (an empty one when there are none)."""
    out = WindowAggregate()
    for a in aggs:
        out.merge(a)
    return out
