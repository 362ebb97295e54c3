"""The quantile sketch against NumPy: within its stated relative error, mergeable, bounded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rampup.monitor.sketch import QuantileSketch

QS = [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]


def data(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "lognormal":
        return rng.lognormal(0.0, 2.0, n)
    if kind == "latency_ms":
        return rng.gamma(2.0, 5.0, n) + 0.3
    if kind == "mixed_sign":
        return np.concatenate([rng.normal(0, 100, n), np.zeros(n // 50)])
    if kind == "integers":
        return rng.integers(0, 20, n).astype(float)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["lognormal", "latency_ms", "mixed_sign", "integers"])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_quantiles_within_relative_error(kind: str, alpha: float) -> None:
    x = data(kind, 50_000, seed=3)
    s = QuantileSketch(alpha=alpha)
    s.update_many(x)
    assert s.count == len(x)
    for q in QS:
        exact = float(np.quantile(x, q, method="lower"))
        got = s.quantile(q)
        assert got is not None
        assert abs(got - exact) <= alpha * abs(exact) + 1e-12, (q, got, exact)
    assert s.mean == pytest.approx(x.mean(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_merge_equals_sequential(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.lognormal(1, 3, 5000), -rng.exponential(2, 300), np.zeros(7)])
    rng.shuffle(x)
    cuts = np.sort(rng.choice(len(x), 3, replace=False))
    parts = np.split(x, cuts)
    whole = QuantileSketch()
    whole.update_many(x)
    merged = QuantileSketch()
    for part in parts:
        p = QuantileSketch()
        p.update_many(part)
        merged.merge(p)
    a, b = whole.to_dict(), merged.to_dict()
    assert a.pop("sum") == pytest.approx(b.pop("sum"))
    assert a == b
    for q in QS:
        assert merged.quantile(q) == whole.quantile(q)


def test_json_round_trip_and_single_updates() -> None:
    s = QuantileSketch()
    for v in [3.0, -1.0, 0.0, 1e-12, 250.0]:
        s.update(v)
    back = QuantileSketch.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.to_dict() == s.to_dict()
    assert [back.quantile(q) for q in QS] == [s.quantile(q) for q in QS]
    assert s.zeros == 2  # 0.0 and 1e-12 (below MIN_VALUE)
    assert s.quantile(0.0) == -1.0
    assert s.quantile(1.0) == 250.0


def test_empty_nan_and_validation() -> None:
    s = QuantileSketch()
    assert s.quantile(0.5) is None
    assert s.mean is None
    s.update_many(np.array([np.nan, np.inf, -np.inf]))
    assert s.count == 0
    s.update(1.0)
    with pytest.raises(ValueError, match="q must be"):
        s.quantile(1.5)
    with pytest.raises(ValueError, match="different alpha"):
        s.merge(QuantileSketch(alpha=0.05))
    with pytest.raises(ValueError, match="alpha"):
        QuantileSketch(alpha=0.0)


def test_memory_is_bounded_by_collapsing_the_lowest_buckets() -> None:
    rng = np.random.default_rng(11)
    x = 10.0 ** rng.uniform(-8, 12, 200_000)  # 20 decades: ~2300 buckets at 1%
    s = QuantileSketch(max_buckets=500)
    s.update_many(x)
    assert len(s.pos.counts) <= 500
    assert s.count == len(x)
    # 500 buckets of 2% span the top ~4.3 decades: quantiles there keep their guarantee,
    # lower ones fall into the collapsed bucket
    for q in (0.9, 0.99, 0.999):
        exact = float(np.quantile(x, q, method="lower"))
        got = s.quantile(q)
        assert got is not None
        assert abs(got - exact) <= 0.01 * exact
    other = QuantileSketch(max_buckets=500)
    other.update_many(x[:10])
    s.merge(other)
    assert len(s.pos.counts) <= 500
    assert s.count == len(x) + 10
