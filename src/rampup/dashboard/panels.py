"""Page-shaped numbers from metric windows: time grids, series per version and role,
the drift heat map and histograms against the reference profile.

Pure: windows in, JSON-ready dicts out (no store, no clock). The windows of a request are
bucketed once; every chart of a page reads the same buckets.

>>> grid = Grid.for_range(3600.0, now=7230.0, step=600.0)
>>> grid.since, grid.n, grid.index(3600.0), grid.index(7199.0), grid.index(10.0)
(3600.0, 7, 0, 5, None)
>>> a = WindowAggregate(); a.requests = 6
>>> b = WindowAggregate(); b.requests = 4
>>> buckets = bucket([(3600.0, a), (3660.0, b)], grid)
>>> buckets[0].requests, buckets[1]
(10, None)
>>> series(buckets, ["requests", "throughput"], grid, now=7230.0)["throughput"][:2]
[0.016666666666666666, None]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rampup.drift.stats import js_many
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.compute import metric_value
from rampup.monitor.features import FeatureAgg

OTHER = "__other__"
#: values a heat-map cell needs before its distance means something.
MIN_CELL_COUNT = 30
#: Jensen-Shannon distance at which a feature is shown as drifting / worth a look.
DRIFT_WARN, DRIFT_ALERT = 0.1, 0.2

Series = list[float | None]


@dataclass(frozen=True)
class Grid:
    """``n`` buckets of ``step`` seconds from ``since`` (aligned to ``step``)."""

    since: float
    step: float
    n: int

    @classmethod
    def for_range(cls, range_s: float, *, now: float, step: float) -> Grid:
        since = math.floor((now - range_s) / step) * step
        return cls(since, step, max(1, math.ceil((now - since) / step)))

    def index(self, start: float) -> int | None:
        i = int((start - self.since) // self.step)
        return i if 0 <= i < self.n else None

    def times(self) -> list[float]:
        return [self.since + i * self.step for i in range(self.n)]

    def coarser(self, step: float) -> Grid:
        """The same range on a coarser step (a multiple of this one)."""
        since = math.floor(self.since / step) * step
        end = self.since + self.n * self.step
        return Grid(since, step, max(1, math.ceil((end - since) / step)))


def bucket(windows: Iterable[tuple[float, WindowAggregate]], grid: Grid
           ) -> list[WindowAggregate | None]:
    """Merge windows (by start time) into the grid's buckets. The windows themselves are
    not changed: each bucket is a fresh aggregate."""
    out: list[WindowAggregate | None] = [None] * grid.n
    for start, agg in windows:
        i = grid.index(start)
        if i is None:
            continue
        b = out[i]
        if b is None:
            b = out[i] = WindowAggregate()
        b.merge(agg)
    return out


def merge_buckets(columns: Sequence[Sequence[WindowAggregate | None]], grid: Grid
                  ) -> list[WindowAggregate | None]:
    """Bucket-wise merge of several bucket lists of the grid. A bucket with one part is
    that part itself (callers read buckets; they never change them)."""
    if not columns:
        return [None] * grid.n
    out: list[WindowAggregate | None] = []
    for parts in zip(*columns, strict=True):
        present = [p for p in parts if p is not None]
        merged = present[0] if len(present) == 1 else None  # shared, read-only
        if len(present) > 1:
            merged = WindowAggregate()
            for p in present:
                merged.merge(p)
        out.append(merged)
    return out


def _clean(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def series(buckets: Sequence[WindowAggregate | None], metrics: Iterable[str], grid: Grid,
           *, now: float) -> dict[str, Series]:
    """Each metric's value per bucket (None where there was no data)."""
    out: dict[str, Series] = {}
    spans = [max(min(grid.step, now - t), 1e-9) for t in grid.times()]
    for metric in metrics:
        out[metric] = [_clean(metric_value(b, metric, s)) if b is not None else None
                       for b, s in zip(buckets, spans, strict=True)]
    return out


# -- distributions against the reference ------------------------------------------------------

def _ref_numeric(entry: Mapping[str, Any]) -> list[float] | None:
    counts = entry.get("counts")
    return [float(c) for c in counts] if isinstance(counts, list) and counts else None


def _categories(entry: Mapping[str, Any]) -> list[str]:
    counts = entry.get("counts")
    return [str(k) for k in counts] if isinstance(counts, Mapping) else []


def _cat_vector(counts: Mapping[str, float], other: float, keys: Sequence[str]) -> list[float]:
    """Counts on the reference's categories; anything else goes to ``__other__``."""
    known = set(keys)
    vec = [float(counts.get(k, 0)) for k in keys]
    rest = other + sum(float(v) for k, v in counts.items() if k not in known)
    if OTHER in known:
        vec[keys.index(OTHER)] += rest
    else:
        vec.append(rest)
    return vec


def _window_vector(f: FeatureAgg | None, entry: Mapping[str, Any]) -> list[float] | None:
    """The window's counts on the reference's bins/categories (None: not comparable)."""
    ref = _ref_vector(entry)
    if ref is None:
        return None
    v = _counts_on(f, str(entry.get("kind")), len(ref), _categories(entry))
    return None if v is None else v.tolist()


def _counts_on(f: FeatureAgg | None, kind: str, n_bins: int, keys: Sequence[str]
               ) -> np.ndarray[Any, Any] | None:
    """:func:`_window_vector` with the reference's shape worked out by the caller."""
    if f is None or f.count == 0:
        return None
    if kind == "numeric":
        if f.hist is None or len(f.hist.counts) != n_bins:
            return None
        return f.hist.counts.astype(np.float64)
    if kind == "categorical" and f.cats is not None:
        v = _cat_vector(f.cats.counts, float(f.cats.other), keys)
        return np.asarray(v) if len(v) == n_bins else None
    return None


def _ref_vector(entry: Mapping[str, Any]) -> list[float] | None:
    if entry.get("kind") == "numeric":
        return _ref_numeric(entry)
    if entry.get("kind") == "categorical":
        keys = _categories(entry)
        counts = entry.get("counts") or {}
        return _cat_vector({str(k): float(v) for k, v in counts.items()}, 0.0, keys) \
            if keys else None
    return None


def corrected_js(distance: Any, bins: int, n: Any, n_ref: float) -> Any:
    """Jensen-Shannon distance less its sampling noise.

    Two samples of one distribution on ``bins`` bins, of ``n`` and ``n_ref`` values, have
    an expected JS divergence (bits) of about (bins - 1)/(8 ln 2) * (1/n + 1/n_ref), so a
    window of 75 values on 20 bins sits near 0.2 by chance alone. This subtracts that
    expectation from the divergence (clipped at 0) and takes the square root again, so
    thresholds mean the same at any traffic level.

    >>> round(float(corrected_js(0.2, 20, 75, 1e9)), 3)
    0.0
    >>> round(float(corrected_js(0.5, 20, 10_000, 10_000)), 3)
    0.499
    """
    noise = (bins - 1) / (8 * math.log(2)) * (1 / np.asarray(n, dtype=np.float64)
                                              + 1 / max(n_ref, 1.0))
    return np.sqrt(np.clip(np.asarray(distance, dtype=np.float64) ** 2 - noise, 0.0, 1.0))


def drift_cells(buckets: Sequence[WindowAggregate | None], reference: Mapping[str, Any],
                *, into: Sequence[int | None] | None = None, n: int | None = None
                ) -> dict[str, Series]:
    """Per reference feature, the noise-corrected Jensen-Shannon distance (0 same .. 1
    disjoint, see :func:`corrected_js`) of each bucket's distribution to the reference;
    None with fewer than ``MIN_CELL_COUNT`` values or when the window was not counted on
    the reference's bins.

    ``into`` puts bucket ``i`` in cell ``into[i]`` of ``n`` cells (a coarser grid; see
    :meth:`Grid.coarser`): the buckets' counts are added, no aggregate is merged.
    """
    n_cells = len(buckets) if n is None else n
    target = list(range(len(buckets))) if into is None else list(into)
    out: dict[str, Series] = {}
    for name, entry in reference.items():
        ref = _ref_vector(entry)
        if ref is None:
            continue
        kind, keys = str(entry.get("kind")), _categories(entry)
        sums: dict[int, np.ndarray[Any, Any]] = {}
        for i, b in enumerate(buckets):
            j = target[i]
            if b is None or j is None:
                continue
            v = _counts_on(b.features.get(name), kind, len(ref), keys)
            if v is not None:
                sums[j] = sums[j] + v if j in sums else v
        cells: Series = [None] * n_cells
        where = [j for j in sorted(sums) if sums[j].sum() >= MIN_CELL_COUNT]
        if where:
            cur = np.stack([sums[j] for j in where])
            d = corrected_js(js_many(np.asarray(ref), cur), len(ref), cur.sum(axis=1),
                             sum(ref))
            for j, v in zip(where, d.tolist(), strict=True):
                cells[j] = _clean(float(v))
        out[name] = cells
    return out


def unseen_cells(buckets: Sequence[WindowAggregate | None], reference: Mapping[str, Any],
                 *, into: Sequence[int | None] | None = None, n: int | None = None
                 ) -> dict[str, Series]:
    """Per categorical reference feature, the share of each cell's values that the
    reference never had (None without values); only features where some cell has any.
    A new category is the classic data-quality incident, and the distance heat map
    alone can hide a small one.

    >>> unseen_cells([], {"x": {"kind": "numeric"}})
    {}
    """
    n_cells = len(buckets) if n is None else n
    target = list(range(len(buckets))) if into is None else list(into)
    out: dict[str, Series] = {}
    for name, entry in reference.items():
        if entry.get("kind") != "categorical":
            continue
        seen, unseen = [0] * n_cells, [0] * n_cells
        for i, b in enumerate(buckets):
            j = target[i]
            f = b.features.get(name) if b is not None else None
            if j is None or f is None:
                continue
            seen[j] += f.count
            unseen[j] += f.unseen
        if any(unseen):
            out[name] = [_clean(u / c) if c else None
                         for u, c in zip(unseen, seen, strict=True)]
    return out


def drift_status(cells: Mapping[str, Series]) -> dict[str, Any]:
    """The latest non-empty distance per feature, the worst feature and a level
    (``ok``, ``warning``, ``drift`` or ``no_data``).

    >>> drift_status({"a": [0.05, None], "b": [0.3, 0.12]})
    {'level': 'warning', 'feature': 'b', 'distance': 0.12, 'latest': {'a': 0.05, 'b': 0.12}}
    """
    latest: dict[str, float] = {}
    for name, cs in cells.items():
        present = [c for c in cs if c is not None]
        if present:
            latest[name] = present[-1]
    if not latest:
        return {"level": "no_data", "feature": None, "distance": None, "latest": {}}
    worst = max(latest, key=lambda k: latest[k])
    d = latest[worst]
    level = "drift" if d >= DRIFT_ALERT else "warning" if d >= DRIFT_WARN else "ok"
    return {"level": level, "feature": worst, "distance": d, "latest": latest}


def _edge(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def histogram(feature: str, entry: Mapping[str, Any], window: FeatureAgg | None
              ) -> dict[str, Any]:
    """Reference and window fractions on the reference's bins (numeric) or categories.

    ``labels`` name the bins (``[lo, hi)``, with open ends) or the categories."""
    ref = _ref_vector(entry)
    cur = _window_vector(window, entry) if window is not None else None
    kind = entry.get("kind")
    labels: list[str] = []
    if kind == "numeric" and ref is not None:
        edges = [_edge(e) for e in entry.get("bins") or []]
        for lo, hi in itertools.pairwise(edges):
            labels.append(f"< {hi:.4g}" if lo is None else f"≥ {lo:.4g}" if hi is None
                          else f"{lo:.4g} to {hi:.4g}")
    elif kind == "categorical" and ref is not None:
        labels = _categories(entry)
        if OTHER not in labels:
            labels.append(OTHER)

    def fractions(v: list[float] | None) -> Series:
        total = sum(v) if v else 0.0
        return [c / total for c in v] if v and total else []

    n = window.count + window.missing if window is not None else 0
    distance: float | None = None
    raw: float | None = None
    if ref is not None and cur is not None and len(cur) == len(ref) and sum(cur) > 0:
        raw = _clean(float(js_many(np.asarray(ref), np.asarray([cur]))[0]))
        distance = _clean(float(corrected_js(raw, len(ref), sum(cur), sum(ref))))
    return {"feature": feature, "kind": kind, "labels": labels,
            "reference": fractions(ref), "current": fractions(cur),
            "reference_missing": entry.get("missing_fraction"),
            "current_missing": (window.missing / n) if window is not None and n else None,
            "current_count": window.count if window is not None else 0,
            "distance": distance, "raw_distance": raw}
