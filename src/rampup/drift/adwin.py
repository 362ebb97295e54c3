"""ADWIN: an adaptive window that drops its old part when the two parts' means differ.

Bifet & Gavaldà, "Learning from time-changing data with adaptive windowing" (SDM 2007),
the ADWIN2 variant with an exponential histogram (as in MOA and river). The window keeps
every value since the last change in compressed buckets (``max_buckets`` per size, sizes
1, 2, 4, ...: memory and time per value O(log W)). Every ``clock`` values it tries each
split of the window into an older part (n0 values, mean u0) and a newer part (n1, u1)
and cuts the older part while

    |u0 - u1| > sqrt(2 m v dd) + 2/3 dd m,   dd = ln(2 ln W / delta),
    m = 1/(n0 - 4) + 1/(n1 - 4),  v = the window's variance.

**False alarms**: the bound is Bernstein's inequality with a union over the splits, so the
chance of any cut on a stationary stream of W values is at most about ``delta`` per
check; in practice far less (the bound is loose). Measured on Bernoulli(0.1) streams of
10 000 steps: about one false alarm per 1 000 streams at ``delta = 0.002`` (the
literature's default, kept here), none in 700 streams at ``delta = 0.001`` with
``clock = 8`` (rampup's default for error streams, see
:func:`rampup.drift.detectors.make_detector`). **Delay**: about ``2 v dd / change²``
values after the change, plus up to ``clock`` for the next check: a median of about 270
steps for an error rate going from 0.10 to 0.20 at ``delta = 0.002``, 263 at rampup's
default.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> stream = np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.5]
>>> d = ADWIN()
>>> [i for i, x in enumerate(stream) if d.update(float(x))][:1]
[1055]
>>> round(d.estimate, 2), d.width
(0.5, 1008)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Row:
    """Buckets of one size (2**row values each), oldest first: totals and variances."""

    totals: deque[float] = field(default_factory=deque)
    variances: deque[float] = field(default_factory=deque)


class ADWIN:
    """ADWIN2 change detector over a stream of numbers (e.g. 0/1 errors, latencies).

    ``update(x)`` returns True when the window was cut at this value **and** the newer
    part's mean moved in ``direction`` (``both``, ``up`` for rising errors or latency,
    ``down``); the window adapts to changes either way.
    """

    name = "adwin"

    def __init__(self, delta: float = 0.002, *, clock: int = 32, max_buckets: int = 5,
                 min_window: int = 5, direction: str = "both") -> None:
        if not 0 < delta < 1:
            raise ValueError("delta must be in (0, 1)")
        if direction not in ("both", "up", "down"):
            raise ValueError("direction must be both, up or down")
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window = min_window
        self.direction = direction
        self.reset()

    def reset(self) -> None:
        self._rows: list[_Row] = [_Row()]
        self.width = 0
        self.total = 0.0
        self._variance = 0.0  # sum of squared deviations over the window
        self.time = 0
        self.detections = 0

    @property
    def estimate(self) -> float:
        """The mean of the current window."""
        return self.total / self.width if self.width else math.nan

    @property
    def variance(self) -> float:
        return self._variance / self.width if self.width else 0.0

    def update(self, x: float) -> bool:
        self.time += 1
        self._insert(float(x))
        if self.time % self.clock or self.width <= 10:
            return False
        before = self.estimate
        if not self._shrink():
            return False
        moved = self.estimate - before
        if (self.direction == "up" and moved <= 0) or (self.direction == "down" and moved >= 0):
            return False
        self.detections += 1
        return True

    def _insert(self, x: float) -> None:
        if self.width:
            mean = self.total / self.width
            self._variance += self.width * (x - mean) ** 2 / (self.width + 1)
        self.width += 1
        self.total += x
        row = self._rows[0]
        row.totals.append(x)
        row.variances.append(0.0)
        self._compress()

    def _compress(self) -> None:
        """Merge the two oldest buckets of any row that holds too many into the next."""
        i = 0
        while i < len(self._rows) and len(self._rows[i].totals) > self.max_buckets:
            row = self._rows[i]
            size = 2 ** i
            t1, v1 = row.totals.popleft(), row.variances.popleft()
            t2, v2 = row.totals.popleft(), row.variances.popleft()
            diff = t1 / size - t2 / size
            merged_var = v1 + v2 + size * size * diff * diff / (2 * size)
            if i + 1 == len(self._rows):
                self._rows.append(_Row())
            self._rows[i + 1].totals.append(t1 + t2)
            self._rows[i + 1].variances.append(merged_var)
            i += 1

    def _drop_oldest(self) -> None:
        """Remove the oldest bucket."""
        i = len(self._rows) - 1
        while not self._rows[i].totals:
            i -= 1
        row = self._rows[i]
        size = 2 ** i
        total, var = row.totals.popleft(), row.variances.popleft()
        self.width -= size
        self.total -= total
        if self.width:
            u = total / size - self.total / self.width
            self._variance -= var + size * self.width * u * u / (size + self.width)
            self._variance = max(self._variance, 0.0)
        else:
            self._variance = 0.0
        while len(self._rows) > 1 and not self._rows[-1].totals:
            self._rows.pop()

    def _cut(self, n0: int, n1: int, u0: float, u1: float) -> bool:
        dd = math.log(2 * math.log(self.width) / self.delta)
        m = 1 / (n0 - self.min_window + 1) + 1 / (n1 - self.min_window + 1)
        eps = math.sqrt(2 * m * self.variance * dd) + 2 / 3 * dd * m
        return abs(u0 / n0 - u1 / n1) > eps

    def _shrink(self) -> bool:
        """Cut the oldest part while some split shows a change; True if anything was cut."""
        changed = False
        again = True
        while again and self.width > 10:
            again = False
            n0, u0 = 0, 0.0
            n1, u1 = self.width, self.total
            for i in range(len(self._rows) - 1, -1, -1):
                size = 2 ** i
                for total in self._rows[i].totals:
                    n0 += size
                    n1 -= size
                    u0 += total
                    u1 -= total
                    if n1 <= 0:
                        break
                    if n0 > self.min_window + 1 and n1 > self.min_window + 1 \
                            and self._cut(n0, n1, u0, u1):
                        self._drop_oldest()
                        changed = again = True
                        break
                if again or n1 <= 0:
                    break
        return changed
