"""Concept drift: realised performance over windows against the reference performance.

Labels arrive late and are attributed to the window of their **prediction**, so an old
window's accuracy firms up as its labels come in. Each window reports the realised
accuracy with a Wilson interval and, for calibrated classifiers, a label-free estimate:
an unlabelled prediction made with confidence ``c`` is right with probability ``c``, so

    expected accuracy = (correct labelled + Σ c over unlabelled) / (labelled + unlabelled)

with a band of ``z·sqrt(Σ c(1-c)) / n`` (the unknown outcomes' spread) plus an optional
``calibration_error`` (e.g. the reference's expected calibration error) times the
unlabelled share. With no labels it is the mean confidence; as labels arrive it becomes
the realised accuracy. A window is **degraded** when its accuracy (realised, or blended)
is significantly below the reference (one-sided two-proportion z-test when the reference
size is known, else a one-sample z-test against it) and the drop is at least
``min_drop``. Label-free estimates cannot see a change in the relation between inputs
and labels that leaves confidences alone: they catch models that grow unsure, labels
catch the rest.

>>> ts = np.arange(8.0)
>>> correct = np.array([1, 1, 1, 0, np.nan, np.nan, 0, 0])
>>> conf = np.array([0.9, 0.8, 0.9, 0.7, 0.6, 0.5, 0.6, 0.6])
>>> w = performance_windows(ts, correct, conf, [0.0, 4.0, 8.0], Reference(0.9))
>>> [(x.labelled, x.accuracy, round(x.expected, 3), x.source) for x in w]
[(4, 0.75, 0.75, 'labels'), (2, 0.0, 0.275, 'mixed')]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from rampup.drift.stats import wilson

DEGRADED = "degraded"
OK = "ok"
NO_DATA = "no data"


@dataclass(frozen=True)
class Reference:
    """The performance to compare against: accuracy and, when known, on how many rows."""

    accuracy: float
    n: int | None = None
    source: str = "given"


@dataclass(frozen=True)
class WindowPerformance:
    start: float
    end: float
    predictions: int
    labelled: int
    correct: int
    accuracy: float
    lo: float
    hi: float
    expected: float
    expected_lo: float
    expected_hi: float
    source: str  # labels | mixed | estimate | none
    drop: float
    p_value: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


def _below(acc: float, n: int, ref: Reference) -> float:
    """One-sided p-value that the window's accuracy is below the reference's."""
    if n == 0 or math.isnan(acc):
        return math.nan
    if ref.n:
        pool = (acc * n + ref.accuracy * ref.n) / (n + ref.n)
        se = math.sqrt(pool * (1 - pool) * (1 / n + 1 / ref.n))
    else:
        se = math.sqrt(max(ref.accuracy * (1 - ref.accuracy), 1e-12) / n)
    if se == 0:
        return 0.0 if acc < ref.accuracy else 1.0
    return float(special.ndtr(-(ref.accuracy - acc) / se))  # the normal sf


def window_performance(start: float, end: float, correct: npt.NDArray[np.float64],
                       confidence: npt.NDArray[np.float64], ref: Reference, *,
                       min_drop: float = 0.02, alpha: float = 0.05, level: float = 0.95,
                       calibration_error: float = 0.0) -> WindowPerformance:
    """One window. ``correct``: 1/0 per prediction, NaN when unlabelled; ``confidence``:
    NaN when the model gave none."""
    labelled = ~np.isnan(correct)
    k, n = int(np.nansum(correct)), int(labelled.sum())
    acc = k / n if n else math.nan
    lo, hi = wilson(k, n, level)
    pending = ~labelled & ~np.isnan(confidence)
    c = confidence[pending]
    n_est = n + len(c)
    z = float(special.ndtri(0.5 + level / 2))  # the normal quantile
    if n_est:
        expected = (k + float(c.sum())) / n_est
        half = z * math.sqrt(float((c * (1 - c)).sum())) / n_est \
            + calibration_error * len(c) / n_est
        e_lo, e_hi = max(0.0, expected - half), min(1.0, expected + half)
    else:
        expected = e_lo = e_hi = math.nan
    source = ("none" if n_est == 0 else "labels" if len(c) == 0 and n
              else "estimate" if n == 0 else "mixed")
    best = acc if source == "labels" else expected
    drop = ref.accuracy - best if not math.isnan(best) else math.nan
    # Tested like realised accuracy on n_est predictions; estimated outcomes get the
    # benefit of the calibration error first.
    margin = calibration_error * len(c) / n_est if n_est else 0.0
    p = _below(min(1.0, best + margin), n_est, ref) if n_est else math.nan
    verdict = NO_DATA if source == "none" else \
        DEGRADED if p <= alpha and drop >= min_drop else OK
    return WindowPerformance(start, end, len(correct), n, k, acc, lo, hi, expected, e_lo,
                             e_hi, source, drop, p, verdict)


def performance_windows(ts: Sequence[float] | npt.NDArray[Any],
                        correct: Sequence[float] | npt.NDArray[Any],
                        confidence: Sequence[float] | npt.NDArray[Any],
                        edges: Sequence[float], ref: Reference, **kwargs: Any,
                        ) -> list[WindowPerformance]:
    """Per window ``[edges[i], edges[i+1])`` of prediction time (see the module doc)."""
    t = np.asarray(ts, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    out = []
    for a, b in itertools.pairwise(edges):
        m = (t >= a) & (t < b)
        out.append(window_performance(float(a), float(b), y[m], c[m], ref, **kwargs))
    return out


def accuracy_drop(windows: Sequence[WindowPerformance]) -> float:
    """The latest window's drop below the reference (positive = worse), NaN without data."""
    for w in reversed(windows):
        if w.source != "none":
            return w.drop
    return math.nan
