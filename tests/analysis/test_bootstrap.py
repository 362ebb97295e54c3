"""Bootstrap machinery: counts resampling is the row bootstrap; intervals cover."""

from __future__ import annotations

import numpy as np
import pytest

from rampup.analysis.bootstrap import (
    bootstrap_rows,
    percentile_interval,
    quantiles,
    resample_counts,
    resample_weights,
)
from rampup.analysis.slices import slice_metrics
from rampup.errors import ValidationError


def test_resampled_counts_keep_the_total_and_the_shape() -> None:
    counts = np.array([[50, 10], [5, 35]])
    draws = resample_counts(counts, 2000, np.random.default_rng(0))
    assert draws.shape == (2000, 2, 2)
    assert (draws.sum(axis=(1, 2)) == 100).all()
    assert draws.mean(0) == pytest.approx(counts, rel=0.05)
    assert resample_counts(np.zeros(3, int), 4, np.random.default_rng(0)).shape == (4, 3)


def test_counts_bootstrap_has_the_row_bootstrap_distribution() -> None:
    rng = np.random.default_rng(1)
    correct = rng.random(400) < 0.8
    by_counts = resample_counts(np.bincount(correct, minlength=2), 4000, rng)[:, 1] / 400
    by_rows = np.array([correct[rng.integers(0, 400, 400)].mean() for _ in range(4000)])
    assert by_counts.mean() == pytest.approx(by_rows.mean(), abs=0.002)
    assert by_counts.std() == pytest.approx(by_rows.std(), rel=0.06)


def test_weights_sum_to_n_per_resample() -> None:
    w = resample_weights(1000, 7, np.random.default_rng(2))
    assert w.shape == (7, 1000)
    assert (w.sum(1) == 1000).all()
    assert resample_weights(0, 3, np.random.default_rng(2)).shape == (3, 0)


def test_quantiles_match_numpy_and_skip_nan() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(501, 4))
    assert quantiles(x, [0.025, 0.5, 0.975]) == pytest.approx(
        np.quantile(x, [0.025, 0.5, 0.975], axis=0))
    x[::3, 1] = np.nan
    x[:, 2] = np.nan
    q = quantiles(x, [0.1, 0.9])
    assert q[:, 1] == pytest.approx(np.nanquantile(x[:, 1], [0.1, 0.9]))
    assert np.isnan(q[:, 2]).all()
    with pytest.raises(ValidationError, match="between 0 and 1"):
        percentile_interval(x, ci=95)


def test_percentile_intervals_cover_the_truth_about_95_percent() -> None:
    """200 seeded datasets: the 95% interval of accuracy covers the true 0.8 about 95%."""
    rng = np.random.default_rng(4)
    covered = 0
    trials = 200
    for _ in range(trials):
        y = rng.integers(0, 2, 300)
        p = np.where(rng.random(300) < 0.8, y, 1 - y)
        lo, hi = slice_metrics(y, p, np.zeros(300), ("accuracy",), bootstrap=300,
                               seed=rng).overall.intervals["accuracy"]
        covered += lo <= 0.8 <= hi
    assert 0.9 <= covered / trials <= 0.99


def test_bootstrap_rows_for_any_statistic() -> None:
    x = np.random.default_rng(5).exponential(size=400)
    lo, hi = bootstrap_rows(lambda idx: float(np.median(x[idx])), 400, n_resamples=300,
                            rng=np.random.default_rng(6))
    assert lo < np.median(x) < hi
