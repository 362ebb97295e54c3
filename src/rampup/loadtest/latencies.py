"""Every request's outcome, exact quantiles and a log-scale latency histogram.

Each latency is kept (8 bytes a request: a million requests are 8 MB), so quantiles are
exact order statistics, not estimates: ``quantile(x, 0.99)`` is the smallest recorded
latency with at least 99% of requests at or below it (the inverted CDF, as a person
reads "99% of requests took at most this long").

>>> quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5), quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.99)
(3.0, 5.0)
>>> o = Outcomes.build(due=[0.0, 0.1, 0.2], lag=[0.0, 0.001, None],
...                    latency=[0.010, 0.020, None], status=[200, 503, UNSENT])
>>> o.kinds()
{'ok': 1, 'http 503': 1, 'unsent (generator behind)': 1}
>>> o.merge(o).count, round(o.error_rate(), 3)
(6, 0.667)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TIMEOUT, CONNECTION, UNSENT, PROTOCOL = -1, -2, -3, -4
KIND_NAMES = {TIMEOUT: "timeout", CONNECTION: "connection error",
              UNSENT: "unsent (generator behind)", PROTOCOL: "bad response"}
QUANTILES = (0.5, 0.9, 0.99, 0.999)

Array = np.ndarray[Any, Any]


def quantile(values: Sequence[float] | Array, q: float) -> float:
    """The exact ``q`` quantile (inverted CDF); NaN for no values."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return math.nan
    return float(np.quantile(x, q, method="inverted_cdf"))


def kind_name(status: int) -> str:
    if status in KIND_NAMES:
        return KIND_NAMES[status]
    return "ok" if 200 <= status < 300 else f"http {status}"


def _floats(values: Iterable[float | None]) -> Array:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


@dataclass(frozen=True)
class Outcomes:
    """Per request, in due order: due time (s from start), dispatch lag (s), latency from
    the due time to the last byte of the answer (s) and status (HTTP, or a negative kind).
    Lag and latency are NaN for requests never sent."""

    due: Array
    lag: Array
    latency: Array
    status: Array

    @classmethod
    def build(cls, due: Iterable[float], lag: Iterable[float | None],
              latency: Iterable[float | None], status: Iterable[int]) -> Outcomes:
        return cls(np.asarray(list(due), dtype=np.float64), _floats(lag), _floats(latency),
                   np.asarray(list(status), dtype=np.int32))

    @classmethod
    def empty(cls) -> Outcomes:
        return cls.build([], [], [], [])

    @property
    def count(self) -> int:
        return len(self.due)

    def merge(self, other: Outcomes) -> Outcomes:
        """Both runs' requests, in due order (shards of one schedule merge into it)."""
        order = np.argsort(np.concatenate([self.due, other.due]), kind="stable")
        return Outcomes(*(np.concatenate([a, b])[order] for a, b in (
            (self.due, other.due), (self.lag, other.lag), (self.latency, other.latency),
            (self.status, other.status))))

    def select(self, mask: Array) -> Outcomes:
        return Outcomes(self.due[mask], self.lag[mask], self.latency[mask], self.status[mask])

    @property
    def ok(self) -> Array:
        return np.asarray((self.status >= 200) & (self.status < 300))

    @property
    def sent(self) -> Array:
        return np.asarray(self.status != UNSENT)

    def error_rate(self) -> float:
        """Share of requests without a 2xx answer (unsent ones count)."""
        return float(1 - self.ok.mean()) if self.count else math.nan

    def kinds(self) -> dict[str, int]:
        """Requests by outcome: ``ok``, ``http 503``, ``timeout``, ``connection error``..."""
        values, counts = np.unique(self.status, return_counts=True)
        out: dict[str, int] = {}
        for v, c in sorted(zip(values.tolist(), counts.tolist(), strict=True),
                           key=lambda vc: (not 200 <= vc[0] < 300, vc[0] < 0, vc[0])):
            name = kind_name(int(v))
            out[name] = out.get(name, 0) + int(c)
        return out

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> dict[str, float]:
        """Latency quantiles over every sent request (errors and timeouts included), ms."""
        x = self.latency[~np.isnan(self.latency)]
        if len(x) == 0:
            return {**{_qname(q): math.nan for q in qs}, "max": math.nan, "mean": math.nan}
        values = np.quantile(x, list(qs), method="inverted_cdf") * 1000
        return {**{_qname(q): float(v) for q, v in zip(qs, values, strict=True)},
                "max": float(x.max() * 1000), "mean": float(x.mean() * 1000)}


def _qname(q: float) -> str:
    """``0.99`` → ``p99``, ``0.999`` → ``p99.9``."""
    return "p" + f"{q * 100:.10g}"


def histogram(latencies_ms: Array, bins: int = 12) -> list[tuple[float, float, int]]:
    """Counts in log-spaced bins between the smallest and largest latency:
    ``[(low_ms, high_ms, count), ...]`` (the last bin includes its upper edge).

    >>> [(round(lo, 1), round(hi, 1), n) for lo, hi, n in histogram(np.array([1.0, 10, 100]), 2)]
    [(1.0, 10.0, 1), (10.0, 100.0, 2)]
    """
    x = latencies_ms[~np.isnan(latencies_ms)]
    if len(x) == 0:
        return []
    lo, hi = max(float(x.min()), 1e-3), max(float(x.max()), 1e-3)
    if hi <= lo * 1.0001:
        return [(lo, hi, len(x))]
    edges = np.geomspace(lo, hi, bins + 1)
    counts, _ = np.histogram(np.clip(x, lo, hi), edges)
    return [(float(a), float(b), int(c)) for a, b, c in zip(edges[:-1], edges[1:], counts,
                                                            strict=True)]
