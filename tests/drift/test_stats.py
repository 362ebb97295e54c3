"""Each drift statistic against SciPy (or NumPy by hand) on seeded data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import euclidean, jensenshannon

from rampup.drift.stats import (
    binned_ks,
    chi2_homogeneity,
    distances,
    hellinger,
    js_distance,
    kolmogorov_sf,
    ks_2samp_sorted,
    ks_wasserstein_sorted,
    merge_sparse,
    psi,
    two_proportion_z,
    wasserstein_cdfs,
    wasserstein_quantiles,
    wasserstein_sorted,
    wilson,
)


@pytest.mark.parametrize(("n_a", "n_b"), [(50, 80), (1000, 300), (5000, 5000)])
def test_ks_small_samples_equal_scipy_exact(n_a: int, n_b: int) -> None:
    rng = np.random.default_rng(n_a)
    a, b = np.sort(rng.normal(size=n_a)), np.sort(rng.normal(0.1, 1, n_b))
    d, p = ks_2samp_sorted(a, b)
    ref = sps.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize(("n_a", "n_b", "rel"), [(20_000, 300, 1e-9), (60_000, 40_000, 0.02)])
def test_ks_large_samples_match_scipy_asymptotic(n_a: int, n_b: int, rel: float) -> None:
    rng = np.random.default_rng(n_b)
    a, b = np.sort(rng.normal(size=n_a)), np.sort(rng.normal(0.01, 1, n_b))
    d, p = ks_2samp_sorted(a, b)
    ref = sps.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    # above 10 000 effective rows the Kolmogorov limit is used: within 2 %, never smaller
    assert p == pytest.approx(ref.pvalue, rel=rel)
    assert p >= ref.pvalue * (1 - 1e-9)


def test_ks_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = np.sort(rng.integers(0, 5, 30_000).astype(float))
    b = np.sort(rng.integers(0, 6, 20_000).astype(float))
    assert ks_wasserstein_sorted(a, b)[0] == pytest.approx(sps.ks_2samp(a, b).statistic)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.sort(rng.gamma(2.0, size=3000))
    b = np.sort(np.r_[rng.gamma(2.5, size=1000), np.full(50, 1.0)])  # ties across samples
    assert wasserstein_sorted(a, b) == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-10)


def test_wasserstein_from_quantiles_approaches_the_sample_distance() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20_000), rng.normal(0.3, 1.5, 20_000)
    grid = np.linspace(0, 1, 1001)
    approx = wasserstein_quantiles(np.quantile(a, grid), np.quantile(b, grid))
    assert approx == pytest.approx(sps.wasserstein_distance(a, b), rel=0.02)


def test_wasserstein_from_cdfs_is_exact_for_uniform_bins() -> None:
    # a: uniform on [0, 1]; b: uniform on [0.5, 1.5] -> W1 = 0.5
    x = [0.0, 0.5, 1.0, 1.5]
    assert wasserstein_cdfs(x, [0, 0.5, 1, 1], [0, 0, 0.5, 1]) == pytest.approx(0.5)


def test_histogram_distances_match_scipy_and_numpy() -> None:
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 200, 12)
    cur = rng.integers(0, 200, 12)
    cur[3] = 0
    p, q = ref / ref.sum(), cur / cur.sum()
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(p, q, base=2), rel=1e-10)
    assert hellinger(ref, cur) == pytest.approx(euclidean(np.sqrt(p), np.sqrt(q)) / math.sqrt(2),
                                                rel=1e-10)
    ps, qs = (ref + 0.5) / (ref.sum() + 6), (cur + 0.5) / (cur.sum() + 6)
    assert psi(ref, cur) == pytest.approx(float(np.sum((qs - ps) * np.log(qs / ps))), rel=1e-12)
    assert binned_ks(ref, cur) == pytest.approx(float(np.abs(np.cumsum(p) - np.cumsum(q)).max()))
    together = distances(ref, cur)
    assert together["js"] == pytest.approx(js_distance(ref, cur))
    assert together["psi"] == pytest.approx(psi(ref, cur))
    assert together["hellinger"] == pytest.approx(hellinger(ref, cur))
    assert together["binned_ks"] == pytest.approx(binned_ks(ref, cur))


def test_distances_of_identical_and_disjoint_histograms() -> None:
    assert js_distance([3, 7], [30, 70]) == pytest.approx(0.0, abs=1e-12)
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert hellinger([1, 0], [0, 1]) == pytest.approx(1.0)
    assert math.isfinite(psi([10, 0], [0, 10]))  # the pseudo-count keeps it finite


def test_chi2_homogeneity_equals_scipy_without_sparse_cells() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.integers(50, 300, 6), rng.integers(50, 300, 6)
    r = chi2_homogeneity(ref, cur)
    stat, p, dof, _ = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert (r.statistic, r.p_value, r.dof, r.merged) == (pytest.approx(stat), pytest.approx(p),
                                                         dof, ())
    assert r.cramers_v == pytest.approx(math.sqrt(stat / (ref.sum() + cur.sum())))


def test_sparse_categories_are_pooled_until_expected_counts_reach_five() -> None:
    ref = np.array([500, 300, 4, 3, 0])
    cur = np.array([480, 310, 2, 3, 4])
    rows_ref, rows_cur, pooled = merge_sparse(ref, cur)
    # the unseen column (0 vs 4) is never pooled into a present one
    assert pooled == (2, 3)
    assert rows_ref.tolist() == [500, 300, 0, 7]
    assert rows_cur.tolist() == [480, 310, 4, 5]
    r = chi2_homogeneity(ref, cur)
    stat, _p, dof, _ = sps.chi2_contingency(np.vstack([rows_ref, rows_cur]), correction=False)
    assert (r.statistic, r.dof) == (pytest.approx(stat), dof)


def test_two_proportion_z_equals_the_2x2_chi_square() -> None:
    t = two_proportion_z(120, 1000, 90, 600)
    stat, p, _, _ = sps.chi2_contingency([[120, 880], [90, 510]], correction=False)
    assert t.p_value == pytest.approx(p, rel=1e-10)
    assert t.z ** 2 == pytest.approx(stat, rel=1e-10)
    assert t.difference == pytest.approx(0.15 - 0.12)


def test_wilson_interval_hand_computed() -> None:
    lo, hi = wilson(81, 263)  # Newcombe (1998), example: 0.2553 to 0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert math.isnan(wilson(0, 0)[0])


def test_kolmogorov_tail_bounds_the_exact_distribution() -> None:
    assert kolmogorov_sf(0.05, 300, 10**6) == pytest.approx(sps.kstwo.sf(0.05, 300), rel=0.01)
    assert kolmogorov_sf(0.0, 10, 10) == 1.0
