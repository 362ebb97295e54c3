"""Streaming change detectors for early warning, and alarms without repeats.

Detectors read one value at a time (an error indicator 0/1, a latency) and say when the
stream changed. :class:`~rampup.drift.adwin.ADWIN` is the default; Page-Hinkley and DDM
are options. :class:`AlarmStream` wraps any of them with de-duplication and a cooldown,
so one change gives one alarm, not one per value.

* **Page-Hinkley** (Page 1954; Hinkley 1971; the form of Gama et al. 2013): a CUSUM of
  ``x - running mean - delta``; alarm when it rises ``threshold`` above its minimum.
  False alarms: on a stationary stream the statistic is a random walk with drift
  ``-delta`` that makes a fresh excursion every few dozen values, so what matters is the
  rate **per stream length**, and it grows with the stream's variance. Measured
  (``benchmarks/drift.py``, part 3b, no-change Bernoulli streams): the class defaults
  (``delta = 0.05``, ``threshold = 12``) alarm on about 1 % of 10,000-step streams at a
  0.1 error rate and on about 60 % at 0.3; ``make_detector("page_hinkley")`` uses
  ``threshold = 25``: about 0 % at 0.1 and 0.5 % at 0.3 per 10,000 steps. Delay about
  ``threshold / (change - delta)`` values (some 500 for +10 points at threshold 25).
  The running mean keeps learning the old level, so a very slow drift can hide in it.
* **DDM** (Gama et al. 2004, drift detection method): tracks the error rate ``p`` and
  ``s = sqrt(p(1-p)/n)`` since the last change; warning at ``p + s ≥ p_min + 2 s_min``,
  alarm at ``p + s ≥ p_min + 3 s_min``. For 0/1 errors only. False alarms: the minimum
  is taken over a growing stream, so it is biased low and long stationary streams do
  raise alarms: with the literature levels (2, 3) about 40 % of 10,000-step streams at a
  10 % error rate (measured, part 3b); ``make_detector("ddm")`` uses (4, 5): about 4 %;
  the
  minimum is only tracked after ``min_instances`` values and while ``p > 0``
  (else one early error-free stretch would make every later error an alarm).

>>> rng = np.random.default_rng(0)
>>> stream = (rng.random(4000) < np.r_[np.full(2000, 0.1), np.full(2000, 0.3)]).astype(float)
>>> watch = AlarmStream(PageHinkley(), cooldown=500)
>>> [a.index for a in watch.run(stream)]
[2046]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rampup.drift.adwin import ADWIN
from rampup.errors import ValidationError


class Detector(Protocol):
    """One value at a time; ``update`` returns True when a change is detected."""

    name: str

    def update(self, x: float) -> bool: ...

    def reset(self) -> None: ...


class PageHinkley:
    """Page-Hinkley test for a rise (``direction="up"``), a fall, or ``both``."""

    name = "page_hinkley"

    def __init__(self, delta: float = 0.05, threshold: float = 12.0, *,
                 min_instances: int = 30, direction: str = "up") -> None:
        if direction not in ("both", "up", "down"):
            raise ValueError("direction must be both, up or down")
        self.delta = delta
        self.threshold = threshold
        self.min_instances = min_instances
        self.direction = direction
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._up = 0.0
        self._up_min = 0.0
        self._down = 0.0
        self._down_max = 0.0

    def update(self, x: float) -> bool:
        self.n += 1
        self.mean += (x - self.mean) / self.n
        self._up += x - self.mean - self.delta
        self._up_min = min(self._up_min, self._up)
        self._down += x - self.mean + self.delta
        self._down_max = max(self._down_max, self._down)
        if self.n < self.min_instances:
            return False
        rise = self._up - self._up_min > self.threshold
        fall = self._down_max - self._down > self.threshold
        hit = (rise and self.direction != "down") or (fall and self.direction != "up")
        if hit:
            self.reset()
        return hit


class DDM:
    """Drift detection method on a 0/1 error stream (rises only)."""

    name = "ddm"

    def __init__(self, *, min_instances: int = 30, warning_level: float = 2.0,
                 drift_level: float = 3.0) -> None:
        self.min_instances = min_instances
        self.warning_level = warning_level
        self.drift_level = drift_level
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.errors = 0.0
        self.p_min = math.inf
        self.s_min = math.inf
        self.warning = False

    def update(self, x: float) -> bool:
        self.n += 1
        self.errors += x
        p = self.errors / self.n
        s = math.sqrt(p * (1 - p) / self.n)
        self.warning = False
        if self.n < self.min_instances:
            return False
        if p > 0 and p + s < self.p_min + self.s_min:
            self.p_min, self.s_min = p, s
        if p + s >= self.p_min + self.drift_level * self.s_min:
            self.reset()
            return True
        self.warning = p + s >= self.p_min + self.warning_level * self.s_min
        return False


#: rampup's defaults for 0/1 error streams, chosen from the measured false-alarm table of
#: ``benchmarks/drift.py`` (part 3b): no-change Bernoulli streams at error rates 0.1 and
#: 0.3. Page-Hinkley's threshold 12 (its class default, tuned on a 0.1 error rate) alarms
#: on ~1 % of 10,000-step streams at 0.1 but ~60 % at 0.3 (its excursions scale with the
#: variance); 25 keeps both at or below ~0.5 %. DDM's literature levels (2, 3) alarm on
#: ~40 % of 10,000-step streams at 0.1; (4, 5) on ~4 %.
DETECTORS: dict[str, Callable[[], Detector]] = {
    "adwin": lambda: ADWIN(delta=0.001, clock=8, direction="up"),
    "page_hinkley": lambda: PageHinkley(threshold=25.0),
    "ddm": lambda: DDM(warning_level=4.0, drift_level=5.0),
}


def make_detector(name: str = "adwin") -> Detector:
    """A detector by name with rampup's defaults for error streams. ADWIN: ``delta =
    0.001``, a check every 8 values, rises only (in the benchmark: no false alarm in 700
    Bernoulli(0.1) streams of 10 000 steps, median delay 263 steps for 0.10 -> 0.20)."""
    try:
        return DETECTORS[name]()
    except KeyError:
        raise ValidationError(f"unknown detector {name!r}",
                              fix=f"use one of {', '.join(DETECTORS)}") from None


@dataclass(frozen=True)
class Alarm:
    """A reported change: the value's position (and time, when given)."""

    index: int
    detector: str
    stream: str
    ts: float | None = None
    suppressed_before: int = 0  # repeats swallowed by the cooldown before this alarm


class AlarmStream:
    """A detector with de-duplication and a cooldown.

    After an alarm, detections during the next ``cooldown`` values are repeats of the
    same change (ADWIN keeps trimming its window as the new level settles; a restarted
    detector may fire again at once) and are counted, not reported.
    """

    def __init__(self, detector: Detector | None = None, *, cooldown: int = 500,
                 stream: str = "errors") -> None:
        self.detector = detector if detector is not None else make_detector()
        self.cooldown = cooldown
        self.stream = stream
        self.index = -1
        self.last: int | None = None
        self.suppressed = 0

    def update(self, x: float, ts: float | None = None) -> Alarm | None:
        self.index += 1
        if not self.detector.update(float(x)):
            return None
        if self.last is not None and self.index - self.last < self.cooldown:
            self.suppressed += 1
            return None
        alarm = Alarm(self.index, self.detector.name, self.stream, ts, self.suppressed)
        self.last = self.index
        self.suppressed = 0
        return alarm

    def run(self, values: Iterable[float], times: Iterable[float] | None = None
            ) -> list[Alarm]:
        ts = iter(times) if times is not None else None
        out = []
        for x in values:
            alarm = self.update(x, next(ts) if ts is not None else None)
            if alarm is not None:
                out.append(alarm)
        return out


def latency_detector() -> Detector:
    """Page-Hinkley for rises of standardised log-latency (:func:`standardise`):
    ``delta = 0.5`` and ``threshold = 25`` standard deviations. Without a change an
    excursion that large has probability about exp(-25); a rise of one standard deviation
    is caught within about 50 requests."""
    return PageHinkley(delta=0.5, threshold=25.0, direction="up")


def standardise(values: Iterable[float], baseline: Iterable[float], log: bool = True
                ) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Latencies as z-scores against a baseline period (on log scale by default, as
    latencies are skewed), so one detector setting fits any service's speed."""
    x = np.asarray(list(values), dtype=np.float64)
    b = np.asarray(list(baseline), dtype=np.float64)
    if log:
        x, b = np.log1p(np.maximum(x, 0.0)), np.log1p(np.maximum(b, 0.0))
    sd = float(b.std()) or 1.0
    return np.asarray((x - float(b.mean())) / sd, dtype=np.float64)
