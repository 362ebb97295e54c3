"""When each request is due: an open-loop arrival schedule, fixed before the run starts.

The rate is constant or a linear ramp ``a → b`` over the duration. Arrivals are evenly
spaced (``constant``) or a Poisson process (``poisson``) with that rate, drawn by time
rescaling: unit-rate exponential gaps mapped through the inverse of the cumulative rate
``Λ(t) = a·t + (b - a)·t² / (2D)``. Send times never depend on the server's answers, so
a slow server cannot slow the clock (no coordinated omission).

>>> offsets(Rate(4.0), 1.0, "constant").tolist()
[0.0, 0.25, 0.5, 0.75]
>>> r = parse_rate("10:30"); r, r.mean, r.at(0.5, 1.0)
(Rate(start=10.0, end=30.0), 20.0, 20.0)
>>> t = offsets(Rate(10, 30), 2.0, "constant"); len(t), round(float(t[-1]), 3)
(40, 1.966)
>>> p = offsets(Rate(1000.0), 10.0, "poisson", seed=1); 9700 < len(p) < 10300
True
>>> shard(offsets(Rate(5.0), 1.0, "constant"), 1, 2).tolist()
[0.2, 0.6]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rampup.errors import ValidationError

Arrivals = Literal["constant", "poisson"]
ARRIVALS: tuple[str, ...] = ("constant", "poisson")
MAX_REQUESTS = 50_000_000


@dataclass(frozen=True)
class Rate:
    """Requests per second: ``start`` at time 0 rising linearly to ``end`` at the end."""

    start: float
    end: float | None = None

    def __post_init__(self) -> None:
        if self.end is None:
            object.__setattr__(self, "end", self.start)

    def __repr__(self) -> str:
        return f"Rate(start={self.start}, end={self.end})"

    @property
    def top(self) -> float:
        return float(self.end if self.end is not None else self.start)

    @property
    def is_ramp(self) -> bool:
        return self.top != self.start

    @property
    def mean(self) -> float:
        return (self.start + self.top) / 2

    def at(self, t: float, duration: float) -> float:
        """The rate at time ``t`` of a run lasting ``duration`` seconds."""
        return self.start + (self.top - self.start) * t / duration

    def describe(self) -> str:
        return (f"{self.start:g}→{self.top:g} req/s" if self.is_ramp
                else f"{self.start:g} req/s")


def parse_rate(text: str) -> Rate:
    """``"200"`` is a constant rate, ``"10:1000"`` a ramp from 10 to 1000 req/s."""
    a, sep, b = text.partition(":")
    try:
        start, end = float(a), float(b) if sep else float(a)
    except ValueError:
        start = end = math.nan
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= 0 or (
            not sep and start <= 0):
        raise ValidationError(f"cannot read {text!r} as a request rate",
                              fix="give requests per second, e.g. --qps 200, or a ramp "
                                  "FROM:TO, e.g. --ramp 10:1000")
    return Rate(start, end)


def _inverse(x: np.ndarray[Any, Any], rate: Rate, duration: float) -> np.ndarray[Any, Any]:
    """t with Λ(t) = x; the rationalised root is exact for a flat rate and a zero start."""
    a, slope = rate.start, (rate.top - rate.start) / duration
    root = np.sqrt(np.maximum(a * a + 2.0 * slope * x, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(a + root > 0, 2.0 * x / (a + root), 0.0)
    return np.asarray(t, dtype=np.float64)


def offsets(rate: Rate, duration: float, arrivals: str = "constant", *,
            seed: int | None = None) -> np.ndarray[Any, Any]:
    """Seconds from the start at which each request is due (sorted, all < ``duration``)."""
    if duration <= 0:
        raise ValidationError("the duration must be positive", fix="e.g. --duration 60s")
    expected = rate.mean * duration
    if expected > MAX_REQUESTS:
        raise ValidationError(f"{expected:,.0f} requests is more than one run can hold "
                              f"({MAX_REQUESTS:,})", fix="lower the rate or the duration")
    if arrivals == "constant":
        x = np.arange(math.ceil(expected - 1e-9), dtype=np.float64)
    elif arrivals == "poisson":
        rng = np.random.default_rng(seed)
        n = int(expected + 10 * math.sqrt(expected) + 10)
        x = np.cumsum(rng.exponential(1.0, size=n))
        x = x[x < expected] if x[-1] >= expected else x
        x = np.concatenate(([0.0], x[:-1])) if len(x) else x  # first arrival at 0
    else:
        raise ValidationError(f"unknown arrival process {arrivals!r}",
                              fix=f"use one of: {', '.join(ARRIVALS)}")
    t = _inverse(x, rate, duration)
    return t[t < duration]


def shard(times: np.ndarray[Any, Any], index: int, count: int) -> np.ndarray[Any, Any]:
    """The requests process ``index`` of ``count`` sends: every ``count``-th one."""
    return times[index::count]
