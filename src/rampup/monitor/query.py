"""Reading metrics: stored windows merged across replicas (and versions), as values,
series and window profiles.

:class:`StoreMetricSource` implements :class:`~rampup.monitor.names.MetricSource` over
the ``metric_windows`` table. Given the process's :class:`Monitor`, it also overlays that
replica's in-memory windows (fresher than its last flush) in place of its stored rows.

Conventions: a window belongs to a range when its *start* does (``since <= start <
until``); ``version=None`` merges every version; ``stage=None`` means the model's own
records (not a pipeline stage's); throughput divides by the time the range covers up to
``now``.

A pipeline's stage rows live under the stage's model with ``stage="<pipeline>/<stage>"``
(see :mod:`rampup.serving.pipeline`); given ``stages`` (from
:func:`rampup.monitor.pipelines.stage_map`), a read of ``(pipeline, stage=NAME)`` is
served from there, so checks and alert rules can name a pipeline's stage directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rampup.monitor.aggregates import NO_STAGE, SECTIONS, WindowAggregate, WindowKey
from rampup.monitor.compute import check_metric, metric_value, sections_for
from rampup.monitor.outputs import OutputAgg

if TYPE_CHECKING:
    from rampup.monitor.recorder import Monitor
    from rampup.store import Database

PROFILE_FORMAT = 1
MAX_POINTS = 10_000


class StoreMetricSource:
    def __init__(self, store: Database, *, monitor: Monitor | None = None,
                 clock: Callable[[], float] = time.time,
                 stages: Mapping[str, Mapping[str, tuple[str, str]]] | None = None) -> None:
        self.store = store
        self.monitor = monitor
        self.clock = clock
        self.stages = stages or {}

    # -- the MetricSource interface ------------------------------------------------------

    def value(self, model: str, metric: str, *, version: str | None = None,
              role: str = "answer", stage: str | None = None, window_s: float = 300.0,
              now: float | None = None) -> float | None:
        now = self.clock() if now is None else now
        check_metric(metric)
        agg, first = self.aggregate(model, since=now - window_s, until=now, version=version,
                                    role=role, stage=stage, sections=sections_for([metric]))
        if agg is None:
            return None
        return metric_value(agg, metric, max(now - first, 1e-9))

    def series(self, model: str, metric: str, *, version: str | None = None,
               role: str = "answer", stage: str | None = None, since: float,
               until: float | None = None, step_s: float = 60.0
               ) -> list[tuple[float, float | None]]:
        return self.series_many(model, [metric], version=version, role=role, stage=stage,
                                since=since, until=until, step_s=step_s)[metric]

    # -- more --------------------------------------------------------------------------------

    def series_many(self, model: str, metrics: Sequence[str], *, version: str | None = None,
                    role: str = "answer", stage: str | None = None, since: float,
                    until: float | None = None, step_s: float = 60.0
                    ) -> dict[str, list[tuple[float, float | None]]]:
        """Several metrics over the same buckets, reading the windows once."""
        for metric in metrics:
            check_metric(metric)
        now = self.clock()
        until = now if until is None else until
        if step_s <= 0:
            raise ValueError("step_s must be positive")
        first = math.floor(since / step_s) * step_s
        n = max(0, math.ceil((until - first) / step_s))
        if n > MAX_POINTS:
            raise ValueError(f"{n} points; at most {MAX_POINTS}")
        buckets: list[WindowAggregate | None] = [None] * n
        for key, agg in self._windows(model, first, until, version, role, stage,
                                      sections_for(metrics)):
            i = int((key.start - first) // step_s)
            if 0 <= i < n:
                b = buckets[i]
                buckets[i] = agg if b is None else b.merge(agg)
        out: dict[str, list[tuple[float, float | None]]] = {m: [] for m in metrics}
        for i, bucket in enumerate(buckets):
            start = first + i * step_s
            span = max(min(step_s, min(until, now) - start), 1e-9)
            for metric in metrics:
                out[metric].append((start, metric_value(bucket, metric, span)))
        return out

    def values(self, model: str, metrics: Sequence[str], *, version: str | None = None,
               role: str = "answer", stage: str | None = None, since: float,
               until: float | None = None) -> dict[str, float | None]:
        """Each metric over the whole range ``[since, until)``."""
        for metric in metrics:
            check_metric(metric)
        now = self.clock()
        until = now if until is None else until
        agg, first = self.aggregate(model, since=since, until=until, version=version,
                                    role=role, stage=stage, sections=sections_for(metrics))
        span = max(min(until, now) - max(first, since), 1e-9) if agg is not None else 1.0
        return {m: metric_value(agg, m, span) for m in metrics}

    def aggregate(self, model: str, *, since: float, until: float,
                  version: str | None = None, role: str = "answer", stage: str | None = None,
                  sections: set[str] | None = None) -> tuple[WindowAggregate | None, float]:
        """Everything in range merged, and the start of the first window it covers."""
        merged: WindowAggregate | None = None
        first = math.inf
        for key, agg in self._windows(model, since, until, version, role, stage, sections):
            first = min(first, key.start)
            merged = agg if merged is None else merged.merge(agg)
        return merged, first

    def _windows(self, model: str, since: float, until: float, version: str | None,
                 role: str, stage: str | None, sections: set[str] | None
                 ) -> list[tuple[WindowKey, WindowAggregate]]:
        if stage and stage in self.stages.get(model, {}):
            model, stage = self.stages[model][stage]  # a pipeline's stage: its model's rows
        stage_key = stage or NO_STAGE
        rows = self.store.windows.metric_windows(model, since=since, until=until, version=version,
                                                 role=role, stage=stage_key)
        live: dict[WindowKey, WindowAggregate] = {}
        replica = None
        if self.monitor is not None:
            replica = self.monitor.replica
            live = {k: a for k, a in self.monitor.snapshot(model, since=since,
                                                           until=until).items()
                    if k.role == role and k.stage == stage_key
                    and (version is None or k.version == version)}
        out = list(live.items())
        want = set(SECTIONS) if sections is None else sections
        for r in rows:
            key = WindowKey(r["model"], r["version"], r["role"], r["stage"], r["window_start"])
            if r["replica"] == replica and key in live:
                continue  # the in-memory window is this replica's newer state
            out.append((key, WindowAggregate.from_dict(r["data"], want)))
        return out


# -- window profiles (drift reads these) ------------------------------------------------------

def _output_profile(o: OutputAgg) -> dict[str, Any]:
    q = [i / 100 for i in range(101)]
    classes = None
    if o.classes.total:
        counts = dict(sorted(o.classes.counts.items(), key=lambda kv: -kv[1]))
        if o.classes.other:
            counts["__other__"] = o.classes.other
        classes = {"counts": counts, "frequencies": o.classes.frequencies()}
    values = None
    if o.values.count:
        values = {"count": o.values.count, "mean": o.values.mean, "min": o.values.min,
                  "max": o.values.max, "quantiles": [o.values.quantile(x) for x in q]}
    conf = None
    if o.confidence.count:
        conf = {"count": o.confidence.count, "mean": o.confidence.mean,
                "quantiles": [o.confidence.quantile(x) for x in q]}
    return {"count": o.n, "null_fraction": o.null / o.n if o.n else 0.0, "classes": classes,
            "values": values, "confidence": conf,
            "length": {"mean": o.length.mean, "count": o.length.count} if o.length.count
            else None}


def window_profile(store: Database, model: str, version: str | None, since: float,
                   until: float, *, role: str = "answer", stage: str | None = None,
                   monitor: Monitor | None = None) -> dict[str, Any]:
    """The live data of ``[since, until)`` in the shape of a reference profile.

    Merged over replicas (and versions when ``version`` is None). Format::

        {"format": 1, "model", "version", "role", "stage", "since", "until",
         "rows": predictions, "requests": requests,
         "features": {name: entry},                  # like profile["features"][name]
         "custom": {name: {"count", "mean", "std", "min", "max", "errors"}},
         "output": {"count", "null_fraction",
                    "classes": {"counts", "frequencies"} | None,
                    "values": {"count", "mean", "min", "max", "quantiles"} | None,
                    "confidence": {"count", "mean", "quantiles"} | None,
                    "length": {"count", "mean"} | None}}

    Each feature ``entry`` has ``type``, ``kind``, ``count`` (non-missing) and
    ``missing_fraction``, and by kind — numeric: ``mean``, ``std`` (ddof=0), ``min``,
    ``max``, ``quantiles`` (None: windows keep no quantiles), ``bins`` (the version's
    reference bin edges with ``"-inf"``/``"inf"`` outer edges, so
    :func:`rampup.registry.profile.bin_edges` reads them; the fixed signed-log edges of
    :data:`rampup.monitor.stats.LOG_EDGES` when the version has no profile; None when
    versions with different bins were merged) and ``counts`` per bin (same convention:
    ``edges[i] <= v < edges[i+1]``); categorical: ``distinct``, ``counts`` and
    ``frequencies`` (up to 64 values plus ``__other__``), ``unseen`` (values not in the
    reference) and ``unseen_fraction``; text: ``distinct`` (None) and ``length``
    (mean, std, min, max, quantiles None). Output quantiles are 101 points (0%..100%)
    from the output sketch (1% relative error).
    """
    source = StoreMetricSource(store, monitor=monitor)
    agg, _ = source.aggregate(model, since=since, until=until, version=version, role=role,
                              stage=stage, sections={"inputs", "output"})
    agg = agg or WindowAggregate()
    return {
        "format": PROFILE_FORMAT, "model": model, "version": version, "role": role,
        "stage": stage, "since": since, "until": until, "rows": agg.predictions,
        "requests": agg.requests,
        "features": {name: f.profile() for name, f in agg.features.items()},
        "custom": {name: {**c.moments.summary(), "count": c.moments.count,
                          "errors": c.errors} for name, c in agg.custom.items()},
        "output": _output_profile(agg.output),
    }
