"""Outcomes: exact quantiles against a sorted-list oracle, merging, error kinds, histogram."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rampup.loadtest.latencies import (
    CONNECTION,
    TIMEOUT,
    UNSENT,
    Outcomes,
    histogram,
    quantile,
)


def _oracle(values: list[float], q: float) -> float:
    """The smallest value with at least q of all values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@pytest.mark.parametrize("n", [1, 2, 99, 100, 101, 1000, 12345])
def test_quantiles_are_exact_order_statistics(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.lognormal(size=n).tolist()
    for q in (0.5, 0.9, 0.99, 0.999):
        assert quantile(x, q) == _oracle(x, q)
    assert math.isnan(quantile([], 0.5))


def test_p99_of_100_requests_is_the_99th() -> None:
    x = [float(i) for i in range(1, 101)]
    assert quantile(x, 0.99) == 99.0
    assert quantile(x, 0.999) == 100.0


def test_merge_is_concatenation_in_due_order() -> None:
    a = Outcomes.build([0.0, 0.2], [0.0, 0.0], [0.1, 0.3], [200, 500])
    b = Outcomes.build([0.1], [0.001], [None], [UNSENT])
    m = a.merge(b)
    assert m.due.tolist() == [0.0, 0.1, 0.2]
    assert m.status.tolist() == [200, UNSENT, 500]
    assert m.count == 3
    assert a.merge(Outcomes.empty()).count == 2


def test_kinds_and_error_rate() -> None:
    o = Outcomes.build([0, 1, 2, 3, 4, 5], [0] * 6, [0.1] * 6,
                       [200, 201, 422, 503, TIMEOUT, CONNECTION])
    assert o.kinds() == {"ok": 2, "http 422": 1, "http 503": 1, "timeout": 1,
                         "connection error": 1}
    assert o.error_rate() == pytest.approx(4 / 6)
    q = o.quantiles()
    assert set(q) == {"p50", "p90", "p99", "p99.9", "max", "mean"}
    assert q["p99"] == 100.0
    assert math.isnan(Outcomes.empty().error_rate())


def test_histogram_counts_every_latency() -> None:
    x = np.random.default_rng(1).lognormal(2, 1, size=5000)
    bins = histogram(x, 12)
    assert len(bins) == 12
    assert sum(n for _, _, n in bins) == 5000
    assert bins[0][0] == pytest.approx(x.min())
    assert bins[-1][1] == pytest.approx(x.max())
    assert histogram(np.array([5.0, 5.0]), 12) == [(5.0, 5.0, 2)]
    assert histogram(np.array([]), 12) == []
