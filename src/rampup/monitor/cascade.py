"""The cascade view: which pipeline stage's metrics changed first.

When an end-to-end metric moves (accuracy drops), the stage that broke is usually the
one whose own metrics moved *first*: a drifting upstream stage changes what the
downstream stage sees, and the downstream stage's numbers move later. Pure: given each
stage's metric series (``[(window_start, value | None), ...]``, as
:meth:`~rampup.monitor.query.StoreMetricSource.series_many` returns them) and a
baseline period, find where each series first departs from its own baseline and order
the stages by their first change.

**Method: a robust z-score with a for-duration.** The baseline of a series is the
median ``m`` and the scaled median absolute deviation ``s = 1.4826 * MAD`` of its
values in the baseline period (robust to a few outliers, unlike mean/std). ``s`` is
floored at ``rel_floor * |m|`` (default 1 %) and at ``abs_floor`` so a flat baseline
(a constant error rate of 0, a stable class share) does not turn noise into infinite
scores. After the baseline, a window scores ``z = (value - m) / s``; the series has
*changed* at the first window of the first run of ``for_windows`` observed windows
(default 3) with ``|z| >= threshold`` (default 4) on the same side. Windows without
data (None) neither extend nor break a run. A series needs ``min_baseline`` observed
baseline windows (default 5), else it is reported without a verdict. Stages are ordered
by their earliest change over their metrics; ties go to the upstream stage. The
for-duration makes a one-window blip insufficient; the threshold of 4 robust standard
deviations keeps the false-alarm rate per window of a stable Gaussian series near 6e-5
(per run of 3, far lower).

>>> base = [(float(t), 10.0 + (t % 3) * 0.1) for t in range(10)]
>>> drift = [(float(t), 13.0) for t in range(10, 15)]
>>> b, ch = first_change(base + drift, baseline=(0.0, 10.0))
>>> round(b.median, 2), ch.start, ch.direction
(10.1, 10.0, 1)
>>> r = cascade([("vad", {"m": base + drift}), ("asr", {"m": base + base[:2] + drift[:3]})],
...             baseline=(0.0, 10.0))
>>> r.order, r.first
(['vad', 'asr'], 'vad')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Series = Sequence[tuple[float, float | None]]
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation


@dataclass(frozen=True)
class Method:
    threshold: float = 4.0
    for_windows: int = 3
    min_baseline: int = 5
    rel_floor: float = 0.01
    abs_floor: float = 1e-9

    def to_dict(self) -> dict[str, Any]:
        return {"name": "robust_z", "threshold": self.threshold,
                "for_windows": self.for_windows, "min_baseline": self.min_baseline,
                "rel_floor": self.rel_floor, "abs_floor": self.abs_floor}


DEFAULT_METHOD = Method()


@dataclass(frozen=True)
class Baseline:
    median: float
    scale: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "scale": self.scale, "n": self.n}


@dataclass(frozen=True)
class Change:
    """The first window of the first sustained departure."""

    start: float
    value: float
    z: float
    direction: int  # +1: above the baseline, -1: below

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "value": self.value, "z": self.z,
                "direction": "up" if self.direction > 0 else "down"}


def baseline_of(values: Sequence[float], method: Method = DEFAULT_METHOD) -> Baseline | None:
    """Median and floored scaled MAD of ``values`` (None if too few)."""
    if len(values) < method.min_baseline:
        return None
    x = np.asarray(values, dtype=np.float64)
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med))) * MAD_SCALE
    return Baseline(med, max(mad, method.rel_floor * abs(med), method.abs_floor), len(x))


def first_change(series: Series, *, baseline: tuple[float, float],
                 method: Method = DEFAULT_METHOD) -> tuple[Baseline | None, Change | None]:
    """The baseline of ``series`` over ``[baseline[0], baseline[1])`` and its first
    sustained departure after ``baseline[1]`` (None: no baseline, or no change)."""
    b0, b1 = baseline
    base = baseline_of([float(v) for t, v in series
                        if b0 <= t < b1 and v is not None and math.isfinite(v)], method)
    if base is None:
        return None, None
    run = 0
    sign = 0
    first: Change | None = None
    for t, v in series:
        if t < b1 or v is None or not math.isfinite(v):
            continue
        z = (v - base.median) / base.scale
        s = (z > 0) - (z < 0)
        if abs(z) >= method.threshold:
            if run and s == sign:
                run += 1
            else:
                run, sign, first = 1, s, Change(t, float(v), z, s)
            if run >= method.for_windows:
                return base, first
        else:
            run, sign, first = 0, 0, None
    return base, None


@dataclass
class MetricResult:
    metric: str
    series: list[tuple[float, float | None]]
    baseline: Baseline | None
    change: Change | None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "series": [list(p) for p in self.series],
                "baseline": self.baseline.to_dict() if self.baseline else None,
                "change": self.change.to_dict() if self.change else None}


@dataclass
class StageResult:
    stage: str
    position: int
    metrics: list[MetricResult] = field(default_factory=list)

    @property
    def first_change(self) -> Change | None:
        changes = [m.change for m in self.metrics if m.change is not None]
        return min(changes, key=lambda c: c.start) if changes else None

    @property
    def changed_metrics(self) -> list[str]:
        """Metrics that changed, earliest first."""
        hit = [(m.change.start, m.metric) for m in self.metrics if m.change is not None]
        return [name for _, name in sorted(hit)]

    def to_dict(self) -> dict[str, Any]:
        fc = self.first_change
        return {"stage": self.stage, "position": self.position,
                "first_change": fc.start if fc else None,
                "changed_metrics": self.changed_metrics,
                "metrics": [m.to_dict() for m in self.metrics]}


@dataclass
class CascadeResult:
    stages: list[StageResult]  # ordered by first change, then pipeline position
    end_to_end: MetricResult | None
    baseline: tuple[float, float]
    method: Method

    @property
    def order(self) -> list[str]:
        return [s.stage for s in self.stages]

    @property
    def first(self) -> str | None:
        """The stage that changed first (None when no stage changed)."""
        return self.stages[0].stage if self.stages and self.stages[0].first_change else None

    def to_dict(self) -> dict[str, Any]:
        e2e = self.end_to_end
        return {"baseline": {"since": self.baseline[0], "until": self.baseline[1]},
                "method": self.method.to_dict(),
                "end_to_end": e2e.to_dict() if e2e else None,
                "first": self.first, "order": self.order,
                "stages": [{"rank": i + 1, **s.to_dict()} for i, s in enumerate(self.stages)]}


def cascade(stages: Sequence[tuple[str, Mapping[str, Series]]], *,
            baseline: tuple[float, float], end_to_end: tuple[str, Series] | None = None,
            method: Method = DEFAULT_METHOD) -> CascadeResult:
    """``stages``: (stage name, {metric: series}) in pipeline order. Each series is
    judged against its own baseline; stages are ordered by their first change."""
    results = []
    for pos, (name, metrics) in enumerate(stages):
        sr = StageResult(name, pos)
        for metric, series in metrics.items():
            b, ch = first_change(series, baseline=baseline, method=method)
            sr.metrics.append(MetricResult(metric, list(series), b, ch))
        results.append(sr)

    def order(s: StageResult) -> tuple[float, int]:
        fc = s.first_change
        return (fc.start if fc else math.inf, s.position)

    e2e = None
    if end_to_end is not None:
        metric, series = end_to_end
        b, ch = first_change(series, baseline=baseline, method=method)
        e2e = MetricResult(metric, list(series), b, ch)
    return CascadeResult(sorted(results, key=order), e2e, baseline, method)
