"""Concept drift of a live model from a :class:`~rampup.rollout.tail.LogTail`.

The alert evaluator asks for ``concept.*`` metrics of the last ``window_s`` seconds every
few seconds. :class:`ConceptWindows` keeps one tail per (model, version, window) that
reads only the predictions and labels that are new since the last call (cursors over
prediction ids and feedback ids, see :mod:`rampup.rollout.tail`) and drops rows that slid
out of the window; :func:`concept_metrics` computes from it exactly what
:func:`rampup.drift.check.latest_metrics` reports under ``concept.*`` (realised accuracy
per window against the reference, the label-free estimates), without re-reading or
decoding the window's rows. The input-drift metrics (``drift.*``) still profile the
window (from the monitor's windows, or the log when the monitor is off).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from rampup.drift.concept import accuracy_drop
from rampup.drift.report import DriftConfig
from rampup.drift.source import LogWindow
from rampup.rollout.tail import LAG_S, LogTail
from rampup.store import Database


def tail_log(tail: LogTail, version: str, since: float, until: float, *,
             infer: bool = True) -> LogWindow:
    """``version``'s answers in ``[since, until)`` as :func:`rampup.drift.source.read_log`
    gives them, without the inputs (the concept checks do not read them). ``infer=False``
    leaves the predictions an object column (pandas' type inference costs ~0.15 µs a row,
    for a column :func:`concept_metrics` does not read)."""
    idx = tail.rows(version, since, until, shadow=False)
    ts = tail.col("ts")
    known = tail.col("has_label")[idx] & tail.col("dknown")[idx]
    correct = np.full(idx.size, np.nan)
    correct[known] = tail.same_class(idx[known], idx[known], "dcode").astype(np.float64)

    dpred, conf, probs = tail.col("dpred")[idx], tail.col("dconf")[idx], tail.col("probs")[idx]
    if infer:  # as read_log builds it
        outputs = pd.DataFrame({"prediction": dpred.tolist(), "confidence": conf,
                                "probabilities": probs.tolist()})
    else:  # no copy of the values, no type inference
        outputs = pd.DataFrame({"prediction": pd.Series(dpred, dtype=object, copy=False),
                                "confidence": conf,
                                "probabilities": pd.Series(probs, dtype=object, copy=False)},
                               copy=False)
    return LogWindow(pd.DataFrame({}, index=pd.RangeIndex(idx.size)), outputs, ts[idx].copy(),
                     correct, tail.col("latency")[idx].copy(), tail.col("dfailed")[idx].copy())


def concept_metrics(store: Database, model: str, tail: LogTail, *, now: float,
                    window_s: float, version: str | None = None,
                    config: DriftConfig | None = None) -> dict[str, float]:
    """``concept.*`` of ``[now - window_s, now)`` (empty when it has no predictions)."""
    from rampup.drift.check import _concept, _positive_probability
    from rampup.drift.estimate import Estimator
    from rampup.drift.source import reference_performance, resolve_version

    config = config or DriftConfig()
    record = resolve_version(store, model, version)
    since = now - window_s
    log = tail_log(tail, record.version, since, now, infer=False)
    if not log.rows:
        return {}
    out: dict[str, float] = {}
    perf, _ = _concept(log, [since, now], reference_performance(store, record), config)
    if perf:
        drop = accuracy_drop(perf)
        if not math.isnan(drop):
            out["concept.accuracy_drop"] = float(drop)
    stored = (record.profile or {}).get("label_free")
    if isinstance(stored, Mapping) and isinstance(stored.get("estimator"), Mapping):
        est = Estimator.from_dict(stored["estimator"])
        prob = _positive_probability(log, str(stored.get("positive", "1")))
        for name, e in est.estimate(prob, seed=config.seed).items():
            if math.isfinite(e.value):
                out[f"concept.estimated_{name}"] = float(e.value)
    return out


class ConceptWindows:
    """One tail per (model, version, window length), kept current between calls."""

    def __init__(self, store: Database, *, lag_s: float = LAG_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.lag_s, self.clock = store, lag_s, clock
        self.tails: dict[tuple[str, str | None, float], LogTail] = {}
        self._lock = threading.Lock()

    def _tail(self, model: str, version: str | None, window_s: float, now: float
              ) -> LogTail:
        key = (model, version, window_s)
        tail = self.tails.get(key)
        start = now - window_s
        if tail is None or start < tail.start:
            tail = self.tails[key] = LogTail(self.store, model, start, lag_s=self.lag_s,
                                             label_lag_s=self.lag_s, concept=True,
                                             clock=self.clock)
        tail.refresh(now)
        tail.trim(start)
        return tail

    def tail_for(self, model: str, version: str, window_s: float, now: float) -> LogWindow:
        """``version``'s answers of ``[now - window_s, now)``, brought up to date."""
        with self._lock:
            tail = self._tail(model, version, window_s, now)
            return tail_log(tail, version, now - window_s, now)

    def metrics(self, model: str, version: str | None, window_s: float, now: float,
                config: DriftConfig | None = None) -> dict[str, float]:
        with self._lock:
            tail = self._tail(model, version, window_s, now)
            return concept_metrics(self.store, model, tail, now=now, window_s=window_s,
                                   version=version, config=config)

    def metrics_or_empty(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        """:meth:`metrics`, empty when the model has no version to judge."""
        from rampup.errors import NotFoundError, ValidationError

        try:
            return self.metrics(*args, **kwargs)
        except (NotFoundError, ValidationError):
            return {}


__all__ = ["ConceptWindows", "concept_metrics", "tail_log"]
