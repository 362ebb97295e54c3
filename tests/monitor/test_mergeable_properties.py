"""Every mergeable statistic: serialise -> deserialise -> merge in any order gives what one
pass over all the data gives (issue 17). Property tests (hypothesis, derandomised).

Tolerances: counts, bucket indices, minima and maxima are exact; float sums and means
agree to ``1e-9`` relative to the magnitude of the data (``sum |x|``), and second moments
to ``1e-7`` relative (Chan's pairwise update rounds differently from Welford's).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rampup.monitor.features import FeatureAgg, FeatureInfo
from rampup.monitor.sketch import QuantileSketch
from rampup.monitor.stats import Gauge, Histogram, Moments, TopCounts

T = TypeVar("T")
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
# parts of one stream: a list of chunks, and the order in which they are merged
chunks = st.lists(st.lists(finite, max_size=40), min_size=1, max_size=6)


def _roundtrip(obj: Any, from_dict: Callable[[Any], T]) -> T:
    """Through JSON text, as the store and other replicas see it."""
    return from_dict(json.loads(json.dumps(obj.to_dict())))


def _merged(parts: list[T], order: list[int], merge: Callable[[T, T], T]) -> T:
    acc = parts[order[0]]
    for i in order[1:]:
        acc = merge(acc, parts[i])
    return acc


def _order(data: st.DataObject, n: int) -> list[int]:
    return data.draw(st.permutations(list(range(n))))


def _close(a: float, b: float, scale: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(scale, 1e-300) + 1e-12


@SETTINGS
@given(chunks, st.sampled_from([16, 2048]), st.data())
def test_quantile_sketch(parts: list[list[float]], max_buckets: int, data: st.DataObject
                         ) -> None:
    def build(xs: list[float]) -> QuantileSketch:
        s = QuantileSketch(max_buckets=max_buckets)
        s.update_many(np.asarray(xs, dtype=np.float64))
        return s

    sketches = [_roundtrip(build(xs), lambda d: QuantileSketch.from_dict(d, max_buckets))
                for xs in parts]
    merged = _merged(sketches, _order(data, len(parts)), lambda a, b: a.merge(b))
    allx = [x for xs in parts for x in xs]
    one = build(allx)
    got, want = merged.to_dict(), one.to_dict()
    assert (got["count"], got["zeros"], got["min"], got["max"]) == \
        (want["count"], want["zeros"], want["min"], want["max"])
    assert got["pos"] == want["pos"]
    assert got["neg"] == want["neg"]
    assert _close(got["sum"], want["sum"], sum(abs(x) for x in allx))
    for q in (0.01, 0.5, 0.99):
        assert merged.quantile(q) == one.quantile(q)


@SETTINGS
@given(chunks, st.data())
def test_moments(parts: list[list[float]], data: st.DataObject) -> None:
    def build(xs: list[float]) -> Moments:
        m = Moments()
        m.update_many(np.asarray(xs, dtype=np.float64))
        return m

    ms = [_roundtrip(build(xs), Moments.from_dict) for xs in parts]
    merged = _merged(ms, _order(data, len(parts)), lambda a, b: a.merge(b))
    allx = np.asarray([x for xs in parts for x in xs], dtype=np.float64)
    one = build(allx.tolist())
    assert merged.count == one.count == len(allx)
    if len(allx):
        assert (merged.min, merged.max) == (one.min, one.max)
        scale = float(np.abs(allx).max())
        assert _close(merged.mean, float(allx.mean()), scale)
        spread = float(((allx - allx.mean()) ** 2).sum())
        assert abs(merged.m2 - spread) <= 1e-7 * max(spread, scale * scale * len(allx)) + 1e-9


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(list("abcdefgh")), max_size=30), min_size=1,
                max_size=6), st.integers(min_value=2, max_value=10), st.data())
def test_top_counts(parts: list[list[str]], capacity: int, data: st.DataObject) -> None:
    def build(xs: list[str]) -> TopCounts:
        t = TopCounts(capacity)
        t.update_many(xs)
        return t

    ts = [_roundtrip(build(xs), TopCounts.from_dict) for xs in parts]
    merged = _merged(ts, _order(data, len(parts)), lambda a, b: a.merge(b))
    allx = [x for xs in parts for x in xs]
    one = build(allx)
    assert merged.total == one.total == len(allx)
    if len(set(allx)) <= capacity:  # exact while the distinct values fit
        assert merged.counts == one.counts
        assert merged.other == one.other == 0


@SETTINGS
@given(chunks, st.data())
def test_histogram(parts: list[list[float]], data: st.DataObject) -> None:
    edges = [-math.inf, -10.0, 0.0, 1.0, 1e6, math.inf]

    def build(xs: list[float]) -> Histogram:
        h = Histogram(edges)
        h.update_many(np.asarray(xs, dtype=np.float64))
        return h

    hs = [_roundtrip(build(xs), Histogram.from_dict) for xs in parts]
    merged = _merged(hs, _order(data, len(parts)), lambda a, b: a.merge(b))
    assert merged.counts.tolist() == build([x for xs in parts for x in xs]).counts.tolist()


@SETTINGS
@given(chunks, st.data())
def test_gauge(parts: list[list[float]], data: st.DataObject) -> None:
    def build(xs: list[float]) -> Gauge:
        g = Gauge()
        for x in xs:
            g.sample(x)
        return g

    gs = [_roundtrip(build(xs), Gauge.from_dict) for xs in parts]
    merged = _merged(gs, _order(data, len(parts)), lambda a, b: a.merge(b))
    allx = [x for xs in parts for x in xs]
    one = build(allx)
    assert (merged.n, merged.max) == (one.n, one.max)
    assert _close(merged.sum, one.sum, sum(abs(x) for x in allx))


values = st.one_of(finite, st.none(), st.sampled_from(["a", "b", "new"]))


@SETTINGS
@given(st.lists(st.lists(values, max_size=30), min_size=1, max_size=5),
       st.sampled_from(["numeric", "categorical"]), st.data())
def test_feature_aggregate(parts: list[list[Any]], kind: str, data: st.DataObject) -> None:
    info = FeatureInfo("f", "float" if kind == "numeric" else "str", kind,
                       edges=(-math.inf, 0.0, 10.0, math.inf) if kind == "numeric" else None,
                       known=frozenset({"a", "b"}) if kind == "categorical" else None)

    def build(xs: list[Any]) -> FeatureAgg:
        agg = FeatureAgg.new(info)
        agg.update(xs, info)
        return agg

    aggs = [_roundtrip(build(xs), FeatureAgg.from_dict) for xs in parts]
    merged = _merged(aggs, _order(data, len(parts)), lambda a, b: a.merge(b))
    one = build([x for xs in parts for x in xs])
    got, want = merged.profile(), one.profile()
    for key in ("count", "missing_fraction", "counts", "unseen", "min", "max"):
        assert got.get(key) == want.get(key), key
    if kind == "numeric" and want.get("mean") is not None:
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-9, abs=1e-3)


def test_a_sketch_accepts_zero_padded_and_empty_counts() -> None:
    """``add_counts``/``from_dict`` take any valid serialised input: an external writer
    may pad the bucket counts with zeros or send an all-zero side."""
    s = QuantileSketch()
    s.update_many(np.array([1.0, 2.0, 3.0, 100.0, -5.0]))
    d = s.to_dict()
    padded = {**d, "pos": {"offset": d["pos"]["offset"] - 3,
                           "counts": [0, 0, 0, *d["pos"]["counts"], 0, 0]},
              "neg": {"offset": -7, "counts": [0] * 5 + d["neg"]["counts"]}}
    padded["neg"]["offset"] = d["neg"]["offset"] - 5
    t = QuantileSketch.from_dict(padded)
    assert t.to_dict() == d
    empty = QuantileSketch.from_dict({**QuantileSketch().to_dict(),
                                      "pos": {"offset": 40, "counts": [0, 0, 0]}})
    assert empty.count == 0
    assert empty.quantile(0.5) is None
    with pytest.raises(ValueError, match="negative"):
        QuantileSketch.from_dict({**d, "pos": {"offset": 0, "counts": [1, -1]}})
