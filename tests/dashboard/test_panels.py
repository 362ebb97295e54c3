"""The pure panel maths: grids, buckets, the noise-corrected distance, histograms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from rampup.dashboard.panels import (
    MIN_CELL_COUNT,
    Grid,
    bucket,
    corrected_js,
    drift_cells,
    drift_status,
    histogram,
    merge_buckets,
    series,
)
from rampup.drift.stats import js_many
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.features import FeatureAgg
from rampup.monitor.stats import Histogram, TopCounts

EDGES = [-np.inf, *np.linspace(-2, 2, 19).tolist(), np.inf]


def _probs() -> np.ndarray:
    mid = np.linspace(-2.1, 2.1, 20)
    p = np.exp(-(mid**2) / 2)
    return p / p.sum()


def _numeric(counts: np.ndarray) -> FeatureAgg:
    f = FeatureAgg("numeric", "float")
    f.hist = Histogram(list(EDGES))
    f.hist.counts = np.asarray(counts, dtype=np.int64)
    f.count = int(np.sum(counts))
    return f


REF = {"kind": "numeric", "bins": ["-inf", *np.linspace(-2, 2, 19).tolist(), "inf"],
       "counts": (_probs() * 100_000).round().astype(int).tolist(), "missing_fraction": 0.0,
       "mean": 0.0}


def test_corrected_distance_removes_sampling_noise() -> None:
    rng = np.random.default_rng(7)
    p = _probs()
    same = np.stack([rng.multinomial(200, p) for _ in range(300)])
    raw = js_many(np.asarray(REF["counts"]), same)
    fixed = corrected_js(raw, 20, same.sum(axis=1), sum(REF["counts"]))
    assert raw.mean() > 0.12  # chance alone looks like drift ...
    assert fixed.mean() < 0.05  # ... and no longer does once corrected
    assert (fixed >= DRIFT_ALERT_FOR_TEST).mean() == 0.0
    shifted = np.roll(p, 4)
    moved = np.stack([rng.multinomial(200, shifted) for _ in range(50)])
    d = corrected_js(js_many(np.asarray(REF["counts"]), moved), 20, 200, sum(REF["counts"]))
    assert d.min() > DRIFT_ALERT_FOR_TEST


DRIFT_ALERT_FOR_TEST = 0.2


def test_js_matches_scipy() -> None:
    a, b = np.array([5.0, 3, 2, 0]), np.array([1.0, 1, 4, 4])
    assert js_many(a, b[None, :])[0] == pytest.approx(jensenshannon(a, b, base=2))


def test_grid_buckets_and_series() -> None:
    grid = Grid.for_range(600.0, now=1_000_030.0, step=60.0)
    assert grid.n == 11
    assert grid.coarser(300.0).n == 3
    a, b = WindowAggregate(), WindowAggregate()
    a.requests, b.requests = 3, 5
    a.errors = {"model_error": 1}
    buckets = bucket([(grid.since, a), (grid.since + 5, b), (0.0, a)], grid)
    assert buckets[0] is not None
    assert buckets[0].requests == 8
    assert a.requests == 3  # windows are not changed
    merged = merge_buckets([buckets, buckets], grid)
    assert merged[0] is not None
    assert merged[0].requests == 16
    assert merge_buckets([], grid) == [None] * grid.n
    s = series(buckets, ["error_rate", "requests"], grid, now=1_000_030.0)
    assert s["error_rate"][0] == pytest.approx(1 / 8)
    assert s["requests"][1] is None


def test_drift_cells_and_status() -> None:
    rng = np.random.default_rng(3)
    grid = Grid(0.0, 60.0, 3)
    windows = []
    for i, probs in enumerate((_probs(), np.roll(_probs(), 5))):
        w = WindowAggregate()
        w.features["x"] = _numeric(rng.multinomial(500, probs))
        windows.append((i * 60.0, w))
    few = WindowAggregate()
    few.features["x"] = _numeric(rng.multinomial(MIN_CELL_COUNT - 1, _probs()))
    windows.append((120.0, few))
    cells = drift_cells(bucket(windows, grid), {"x": REF, "t": {"kind": "text"}})
    assert list(cells) == ["x"]
    same, moved, short = cells["x"]
    assert same is not None
    assert same < 0.05
    assert moved is not None
    assert moved > 0.3
    assert short is None
    status = drift_status(cells)
    assert status["level"] == "drift"
    assert status["feature"] == "x"
    assert drift_status({"x": [None]})["level"] == "no_data"
    assert drift_status({"x": [0.01]})["level"] == "ok"


def test_histograms_numeric_and_categorical() -> None:
    h = histogram("x", REF, _numeric(np.full(20, 10)))
    assert h["labels"][0] == "< -2"
    assert h["labels"][-1] == "≥ 2"
    assert len(h["labels"]) == len(h["reference"]) == len(h["current"]) == 20
    assert sum(h["current"]) == pytest.approx(1.0)
    assert h["distance"] is not None
    assert h["raw_distance"] >= h["distance"]
    cat_ref = {"kind": "categorical", "counts": {"a": 60, "b": 40}, "missing_fraction": 0.1}
    f = FeatureAgg("categorical", "str")
    f.cats = TopCounts()
    f.cats.add_counts({"a": 5, "b": 3, "<img src=x>": 2})
    f.count, f.missing = 10, 2
    c = histogram("c", cat_ref, f)
    assert c["labels"] == ["a", "b", "__other__"]
    assert c["current"] == pytest.approx([0.5, 0.3, 0.2])
    assert c["reference"] == pytest.approx([0.6, 0.4, 0.0])
    assert c["current_missing"] == pytest.approx(2 / 12)
    empty = histogram("c", cat_ref, None)
    assert empty["current"] == []
    assert empty["distance"] is None
    incomparable = _numeric(np.ones(5))
    assert histogram("x", REF, incomparable)["current"] == []


def test_drift_cells_on_a_coarser_grid_add_counts() -> None:
    rng = np.random.default_rng(5)
    fine = []
    for _ in range(4):
        w = WindowAggregate()
        w.features["x"] = _numeric(rng.multinomial(20, _probs()))  # too few alone
        fine.append(w)
    alone = drift_cells(fine, {"x": REF})["x"]
    assert alone == [None] * 4
    coarse = drift_cells(fine, {"x": REF}, into=[0, 0, 1, None], n=2)["x"]
    assert coarse[0] is not None  # 40 values together
    assert coarse[1] is None  # 20 values
    single = merge_buckets([fine], Grid(0.0, 60.0, 4))
    assert single[0] is fine[0]
