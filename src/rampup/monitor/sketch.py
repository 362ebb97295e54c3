"""A mergeable quantile sketch with a relative-error guarantee (DDSketch).

Values fall into logarithmic buckets: bucket ``i`` holds ``gamma**(i-1) < |x| <= gamma**i``
with ``gamma = (1 + alpha) / (1 - alpha)``, and a quantile is answered with the bucket's
midpoint ``2 * gamma**i / (gamma + 1)``. Every answer is within ``alpha`` relative error
of the exact value at rank ``floor(q * (n - 1))`` (NumPy's ``method="lower"``), as long as
no bucket was collapsed. Positive and negative values have their own bucket arrays;
``|x| < MIN_VALUE`` counts as zero. Memory is bounded: when a side exceeds ``max_buckets``
its lowest buckets are collapsed into one (the error bound then no longer holds for the
smallest magnitudes, which for latencies are the least interesting). Two sketches with
the same ``alpha`` merge exactly: ``a.merge(b)`` equals one sketch fed both streams.

>>> s = QuantileSketch()
>>> s.update_many(np.arange(1, 1001, dtype=np.float64))
>>> s.count, round(s.quantile(0.5)), round(s.quantile(0.99))  # exact: 500 and 990
(1000, 498, 983)
>>> abs(s.quantile(0.5) - 500) <= 0.01 * 500 and abs(s.quantile(0.99) - 990) <= 0.01 * 990
True
>>> QuantileSketch.from_dict(s.to_dict()).quantile(0.9) == s.quantile(0.9)
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DEFAULT_ALPHA = 0.01
DEFAULT_MAX_BUCKETS = 2048
MIN_VALUE = 1e-9

_F64 = np.ndarray[Any, np.dtype[np.float64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]


class _Store:
    """Dense bucket counts for one sign: ``counts[j]`` is bucket ``offset + j``."""

    __slots__ = ("counts", "max_buckets", "offset")

    def __init__(self, max_buckets: int) -> None:
        self.counts: _I64 = np.zeros(0, dtype=np.int64)
        self.offset = 0
        self.max_buckets = max_buckets

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def add_indices(self, idx: _I64) -> None:
        if idx.size == 0:
            return
        lo, hi = int(idx.min()), int(idx.max())
        self._extend(lo, hi)
        if idx.size < 32:
            np.add.at(self.counts, idx - self.offset, 1)
        else:
            self.counts += np.bincount(idx - self.offset, minlength=len(self.counts))
        self._collapse()

    def add_counts(self, offset: int, counts: _I64) -> None:
        """Add bucket counts starting at bucket ``offset``. Any valid counts are accepted:
        zero-padded on either side (as an external serialiser may write them), or all
        zero; negative counts are not counts."""
        counts = np.asarray(counts, dtype=np.int64)
        if counts.ndim != 1:
            raise ValueError("sketch bucket counts must be a flat list of integers")
        if counts.size and int(counts.min()) < 0:
            raise ValueError("sketch bucket counts cannot be negative")
        nz = np.flatnonzero(counts)
        if nz.size == 0:
            return
        # Only the non-zero span: padding would stretch the array past max_buckets.
        offset, counts = offset + int(nz[0]), counts[nz[0]:nz[-1] + 1]
        self._extend(offset, offset + len(counts) - 1)
        start = offset - self.offset  # >= 0: _extend grew the array down to ``offset``
        self.counts[start:start + len(counts)] += counts
        self._collapse()

    def _extend(self, lo: int, hi: int) -> None:
        if self.counts.size == 0:
            self.offset = lo
            self.counts = np.zeros(hi - lo + 1, dtype=np.int64)
            return
        end = self.offset + len(self.counts) - 1
        if lo < self.offset or hi > end:
            new_lo, new_hi = min(lo, self.offset), max(hi, end)
            grown = np.zeros(new_hi - new_lo + 1, dtype=np.int64)
            grown[self.offset - new_lo:self.offset - new_lo + len(self.counts)] = self.counts
            self.counts, self.offset = grown, new_lo

    def _collapse(self) -> None:
        extra = len(self.counts) - self.max_buckets
        if extra > 0:
            lowest = int(self.counts[:extra + 1].sum())
            self.counts = self.counts[extra:].copy()
            self.counts[0] = lowest
            self.offset += extra

    def key_at_rank(self, rank: int) -> int:
        """The bucket index holding the item of 0-based ``rank`` (ascending)."""
        cum = np.cumsum(self.counts)
        j = int(np.searchsorted(cum, rank, side="right"))
        return self.offset + min(j, len(self.counts) - 1)

    def to_dict(self) -> dict[str, Any]:
        nz = np.flatnonzero(self.counts)
        if nz.size == 0:
            return {"offset": 0, "counts": []}
        return {"offset": self.offset + int(nz[0]),
                "counts": self.counts[nz[0]:nz[-1] + 1].tolist()}


class QuantileSketch:
    """DDSketch-style quantiles with relative error ``alpha`` (see the module docstring)."""

    __slots__ = ("_log_gamma", "alpha", "count", "gamma", "max", "max_buckets", "min", "neg",
                 "pos", "sum", "zeros")

    def __init__(self, alpha: float = DEFAULT_ALPHA,
                 max_buckets: int = DEFAULT_MAX_BUCKETS) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self.max_buckets = max_buckets
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self._log_gamma = math.log(self.gamma)
        self.pos = _Store(max_buckets)
        self.neg = _Store(max_buckets)
        self.zeros = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def _index(self, magnitudes: _F64) -> _I64:
        return np.ceil(np.log(magnitudes) / self._log_gamma).astype(np.int64)

    def update(self, value: float) -> None:
        self.update_many(np.array([value], dtype=np.float64))

    def update_many(self, values: _F64 | list[float]) -> None:
        """Add values; NaNs and infinities are skipped."""
        x = np.asarray(values, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        self.count += int(x.size)
        self.sum += float(x.sum())
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        pos = x[x >= MIN_VALUE]
        neg = -x[x <= -MIN_VALUE]
        self.zeros += int(x.size - pos.size - neg.size)
        self.pos.add_indices(self._index(pos))
        self.neg.add_indices(self._index(neg))

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """Add ``other`` into this sketch (in place) and return it."""
        if other.alpha != self.alpha:
            raise ValueError(f"cannot merge sketches of different alpha ({self.alpha} and "
                             f"{other.alpha})")
        if other.count == 0:
            return self
        self.pos.add_counts(other.pos.offset, other.pos.counts)
        self.neg.add_counts(other.neg.offset, other.neg.counts)
        self.zeros += other.zeros
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0 <= q <= 1), or None when empty."""
        if self.count == 0:
            return None
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        if q == 0.0:
            return self.min
        if q == 1.0:
            return self.max
        rank = math.floor(q * (self.count - 1))
        n_neg = self.neg.total
        if rank < n_neg:
            key = self.neg.key_at_rank(n_neg - 1 - rank)
            value = -self._value(key)
        elif rank < n_neg + self.zeros:
            value = 0.0
        else:
            value = self._value(self.pos.key_at_rank(rank - n_neg - self.zeros))
        return min(max(value, self.min), self.max)

    def _value(self, key: int) -> float:
        return 2.0 * math.exp(key * self._log_gamma) / (self.gamma + 1.0)

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "count": self.count, "sum": self.sum,
                "min": self.min if self.count else None, "max": self.max if self.count else None,
                "zeros": self.zeros, "pos": self.pos.to_dict(), "neg": self.neg.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], max_buckets: int = DEFAULT_MAX_BUCKETS
                  ) -> QuantileSketch:
        s = cls(float(d["alpha"]), max_buckets)
        s.count = int(d["count"])
        s.sum = float(d["sum"])
        s.zeros = int(d["zeros"])
        if s.count:
            s.min, s.max = float(d["min"]), float(d["max"])
        for store, key in ((s.pos, "pos"), (s.neg, "neg")):
            part = d[key]
            store.add_counts(int(part["offset"]), np.asarray(part["counts"], dtype=np.int64))
        return s
