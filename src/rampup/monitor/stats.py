"""Small online statistics, each mergeable and JSON round-trippable.

* :class:`Moments` — count, mean, variance (Welford per value, Chan et al. to combine), min, max;
* :class:`TopCounts` — value counts kept exactly up to ``capacity`` distinct values, the
  rest summed in ``__other__``;
* :class:`Histogram` — counts on fixed bin edges (a reference profile's, or :data:`LOG_EDGES`);
* :class:`Gauge` — samples of a level (in-flight requests, queue depth): count, sum, max.

>>> m = Moments()
>>> m.update_many(np.array([1.0, 2.0, 3.0, 4.0]))
>>> m.count, m.mean, m.std, m.min, m.max
(4, 2.5, 1.118033988749895, 1.0, 4.0)
>>> other = Moments(); other.update_many(np.array([10.0]))
>>> m.merge(other).count, m.max
(5, 10.0)
>>> t = TopCounts(capacity=2); t.update_many(["a", "b", "a", "c"])
>>> t.counts, t.other
({'a': 2, 'b': 1}, 1)
>>> h = Histogram([-math.inf, 0.0, 1.0, math.inf]); h.update_many(np.array([-1.0, 0.5, 0.7, 9.0]))
>>> h.counts.tolist()
[1, 2, 1]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

OTHER = "__other__"
_F64 = np.ndarray[Any, np.dtype[np.float64]]


def _edge(v: Any) -> float:
    return float(v)


def _edge_json(v: float) -> float | str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else v


def _signed_log_edges() -> list[float]:
    """0, ±10**(k/4) for k in -12..36 (1e-3 .. 1e9, four bins a decade), and ±inf."""
    pos = [10.0 ** (k / 4) for k in range(-12, 37)]
    return [-math.inf, *(-p for p in reversed(pos)), 0.0, *pos, math.inf]


LOG_EDGES: list[float] = _signed_log_edges()


class Moments:
    __slots__ = ("count", "m2", "max", "mean", "min")

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def update(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def update_many(self, x: _F64) -> None:
        """Add finite values (the caller drops NaNs)."""
        if x.size == 0:
            return
        other = Moments()
        other.count = int(x.size)
        other.mean = float(x.mean())
        other.m2 = float(((x - other.mean) ** 2).sum())
        other.min, other.max = float(x.min()), float(x.max())
        self.merge(other)

    def merge(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            self.min, self.max = other.min, other.max
            return self
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / n
        self.m2 += other.m2 + delta * delta * self.count * other.count / n
        self.count = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    @property
    def var(self) -> float | None:
        """Population variance (ddof=0, as in reference profiles)."""
        return self.m2 / self.count if self.count else None

    @property
    def std(self) -> float | None:
        v = self.var
        return None if v is None else math.sqrt(max(v, 0.0))

    def summary(self) -> dict[str, float | None]:
        if not self.count:
            return {"mean": None, "std": None, "min": None, "max": None}
        return {"mean": self.mean, "std": self.std, "min": self.min, "max": self.max}

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.count, "mean": self.mean, "m2": self.m2,
                "min": self.min if self.count else None, "max": self.max if self.count else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Moments:
        m = cls()
        m.count, m.mean, m.m2 = int(d["n"]), float(d["mean"]), float(d["m2"])
        if m.count:
            m.min, m.max = float(d["min"]), float(d["max"])
        return m


class TopCounts:
    """Exact counts of up to ``capacity`` distinct values; others go to ``other``.

    Exact (and merge equals sequential) while the distinct values fit; past that, the
    least frequent values are folded into ``other``, keeping the most frequent.
    """

    __slots__ = ("capacity", "counts", "other")

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.other = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.other

    def update_many(self, values: Iterable[str]) -> None:
        self.add_counts(Counter(values))

    def add_counts(self, counts: dict[str, int]) -> None:
        mine = self.counts
        for k, n in counts.items():
            if k == OTHER:
                self.other += n
            else:
                mine[k] = mine.get(k, 0) + n
        if len(mine) > self.capacity:
            keep = sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))
            self.other += sum(n for _, n in keep[self.capacity:])
            self.counts = dict(keep[:self.capacity])

    def merge(self, other: TopCounts) -> TopCounts:
        self.add_counts(other.counts)
        self.other += other.other
        return self

    def frequencies(self) -> dict[str, float]:
        total = self.total
        if not total:
            return {}
        out = {k: n / total for k, n in sorted(self.counts.items(), key=lambda kv: -kv[1])}
        if self.other:
            out[OTHER] = self.other / total
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"cap": self.capacity, "counts": self.counts, "other": self.other}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TopCounts:
        t = cls(int(d["cap"]))
        t.counts = {str(k): int(v) for k, v in d["counts"].items()}
        t.other = int(d["other"])
        return t


class Histogram:
    """Counts per bin; bin ``i`` holds ``edges[i] <= v < edges[i+1]`` (as in profiles)."""

    __slots__ = ("_inner", "counts", "edges")

    def __init__(self, edges: list[float]) -> None:
        self.edges = [_edge(e) for e in edges]
        self._inner = np.asarray(self.edges[1:-1], dtype=np.float64)
        self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def update_many(self, x: _F64) -> None:
        if x.size:
            self.counts += np.bincount(np.searchsorted(self._inner, x, side="right"),
                                       minlength=len(self.counts))

    def compatible(self, other: Histogram) -> bool:
        return self.edges == other.edges

    def merge(self, other: Histogram) -> Histogram:
        if not self.compatible(other):
            raise ValueError("cannot merge histograms with different bin edges")
        self.counts += other.counts
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"edges": [_edge_json(e) for e in self.edges], "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Histogram:
        h = cls([_edge(e) for e in d["edges"]])
        h.counts = np.asarray(d["counts"], dtype=np.int64)
        return h


class Gauge:
    """Samples of a level: the mean of the samples and their maximum."""

    __slots__ = ("max", "n", "sum")

    def __init__(self) -> None:
        self.n = 0
        self.sum = 0.0
        self.max = -math.inf

    def sample(self, value: float) -> None:
        self.n += 1
        self.sum += value
        self.max = max(self.max, value)

    def merge(self, other: Gauge) -> Gauge:
        self.n += other.n
        self.sum += other.sum
        self.max = max(self.max, other.max)
        return self

    @property
    def mean(self) -> float | None:
        return self.sum / self.n if self.n else None

    def to_dict(self) -> list[float]:
        return [self.n, self.sum, self.max if self.n else 0.0]

    @classmethod
    def from_dict(cls, d: list[float]) -> Gauge:
        g = cls()
        g.n, g.sum = int(d[0]), float(d[1])
        g.max = float(d[2]) if g.n else -math.inf
        return g
