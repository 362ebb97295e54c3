"""Drift statistics: two-sample tests and distances, on raw samples or on bin counts.

Pure functions over NumPy arrays, no I/O. Numeric samples are passed **sorted** (the
callers sort each column once and reuse it). Histograms are counts on the same bins.

* samples: :func:`ks_2samp_sorted` (the two-sample Kolmogorov-Smirnov test, exact for
  small samples like :func:`scipy.stats.ks_2samp`, Smirnov's asymptotic distribution
  otherwise), :func:`wasserstein_sorted` (W1, as :func:`scipy.stats.wasserstein_distance`),
  :func:`wasserstein_quantiles` (W1 from two quantile functions, for stored profiles);
* histograms: :func:`psi`, :func:`js_distance` (base 2, in [0, 1], as
  :func:`scipy.spatial.distance.jensenshannon`), :func:`hellinger` (in [0, 1]),
  :func:`binned_ks` (the largest gap between the two cumulative histograms);
* counts: :func:`chi2_homogeneity` (2xk contingency table, sparse columns merged),
  :func:`unseen_test` (Fisher's exact test for values the reference never had),
  :func:`two_proportion_z`, :func:`wilson`.

>>> a = np.sort(np.arange(10.0)); b = np.sort(np.arange(10.0) + 2)
>>> round(wasserstein_sorted(a, b), 6)
2.0
>>> d, p = ks_2samp_sorted(a, b)
>>> round(d, 2), round(p, 4)
(0.2, 0.9945)
>>> round(psi(np.array([50, 50]), np.array([40, 60])), 4)
0.0397
>>> round(js_distance([1, 0], [0, 1]), 6), hellinger([1, 1], [1, 1])
(1.0, 0.0)
>>> round(two_proportion_z(30, 100, 50, 100).p_value, 5)
0.00389
>>> [round(x, 4) for x in wilson(8, 10)]
[0.4902, 0.9433]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: scipy.stats.ks_2samp computes exact p-values up to this sample size ("auto" method).
KS_EXACT_MAX = 10_000
#: pseudo-count per bin before PSI takes logarithms: an empty bin would make it infinite.
PSI_PSEUDO_COUNT = 0.5


def _sps() -> Any:
    """``scipy.stats``, imported on first use: it costs more to import (~0.5 s) than a
    whole drift check of large samples takes, which needs only ``scipy.special``."""
    from scipy import stats

    return stats


# -- samples -----------------------------------------------------------------------------

def _ecdf_gaps(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The pooled sorted values and F_a - F_b right after each of them.

    Both inputs are sorted, so a stable argsort of their concatenation is one linear
    merge (timsort), far cheaper than binary searches of every value in both.
    """
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="stable")
    from_a = order < len(a)
    gap = np.cumsum(from_a) / len(a) - np.cumsum(~from_a) / len(b)
    return both[order], gap


def ks_statistic_sorted(a: FloatArray, b: FloatArray) -> float:
    """The two-sample KS statistic sup|F_a - F_b| of two sorted samples."""
    return ks_wasserstein_sorted(a, b)[0]


def ks_wasserstein_sorted(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """(KS statistic, 1-Wasserstein distance) of two sorted samples in one merge."""
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan
    values, gap = _ecdf_gaps(a, b)
    steps = np.diff(values)
    # With ties, the distribution functions are read after the last of equal values.
    last = np.append(steps > 0, True)
    d = float(np.abs(gap[last]).max())
    w = float(np.dot(np.abs(gap[:-1]), steps))
    return d, w


def kolmogorov_sf(d: float, n_a: int, n_b: int, *, exact_up_to: int = 2000) -> float:
    """Smirnov's asymptotic p-value of a two-sided two-sample KS statistic ``d``: the
    one-sample law at the effective size ``n·m/(n+m)``, as :func:`scipy.stats.ks_2samp`
    uses for large samples, up to ``exact_up_to`` effective rows; above, its limit
    (Kolmogorov's distribution: slightly larger, so conservative, within 1 % near the
    usual levels, and thousands of times faster than the finite law there)."""
    m, n = sorted((float(n_a), float(n_b)), reverse=True)
    en = max(1.0, float(np.round(m * n / (m + n))))
    if en > exact_up_to:
        return float(np.clip(special.kolmogorov(math.sqrt(en) * d), 0.0, 1.0))
    return float(np.clip(_sps().kstwo.sf(d, en), 0.0, 1.0))


def ks_2samp_sorted(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """(D, p) of the two-sided two-sample KS test on sorted samples.

    Up to 10 000 values on each side the p-value is exact (SciPy's ``method="exact"``);
    above, Smirnov's asymptotic distribution with the effective size ``n·m/(n+m)``.
    Ties make the test conservative (p-values too large), never anti-conservative.
    """
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan
    if max(len(a), len(b)) <= KS_EXACT_MAX:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # exact failed: SciPy goes asymp
            r = _sps().ks_2samp(a, b)
        return float(r.statistic), float(r.pvalue)
    d = ks_statistic_sorted(a, b)
    return d, kolmogorov_sf(d, len(a), len(b))


def ks_test_from_statistic(d: float, a: FloatArray, b: FloatArray) -> float:
    """The p-value of :func:`ks_2samp_sorted` when D is already known."""
    if max(len(a), len(b)) <= KS_EXACT_MAX:
        return ks_2samp_sorted(a, b)[1]
    return kolmogorov_sf(d, len(a), len(b))


def wasserstein_sorted(a: FloatArray, b: FloatArray) -> float:
    """The 1-Wasserstein distance ∫|F_a - F_b| dx of two sorted samples."""
    return ks_wasserstein_sorted(a, b)[1]


def wasserstein_quantiles(qa: Sequence[float] | FloatArray,
                          qb: Sequence[float] | FloatArray) -> float:
    """W1 = ∫₀¹ |Q_a(u) - Q_b(u)| du for quantile functions given on the same even grid
    of probabilities (0 to 1), taken as piecewise linear between the points.

    >>> wasserstein_quantiles([0.0, 1.0], [1.0, 2.0]), wasserstein_quantiles([0, 1], [1, 0])
    (1.0, 0.5)
    """
    d = np.asarray(qa, dtype=np.float64) - np.asarray(qb, dtype=np.float64)
    if len(d) < 2 or not np.all(np.isfinite(d)):
        return math.nan
    return float(_abs_linear_area(d[:-1], d[1:], 1.0 / (len(d) - 1)).sum())


def wasserstein_cdfs(x: Sequence[float] | FloatArray, f_a: Sequence[float] | FloatArray,
                     f_b: Sequence[float] | FloatArray) -> float:
    """W1 = ∫|F_a - F_b| dx for distribution functions known at increasing points ``x``
    and taken as linear in between (values spread evenly within each bin).

    >>> wasserstein_cdfs([0.0, 1.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0])
    1.0
    """
    xs = np.asarray(x, dtype=np.float64)
    d = np.asarray(f_a, dtype=np.float64) - np.asarray(f_b, dtype=np.float64)
    if len(xs) < 2 or not np.all(np.isfinite(xs)):
        return math.nan
    return float(_abs_linear_area(d[:-1], d[1:], np.diff(xs)).sum())


def _abs_linear_area(lo: FloatArray, hi: FloatArray, width: FloatArray | float) -> FloatArray:
    """∫|linear from lo to hi| over each step of ``width``; where the sign changes inside
    a step, the two triangles exactly."""
    absum = np.abs(lo) + np.abs(hi)
    crossing = np.divide(lo * lo + hi * hi, 2 * absum, out=np.zeros_like(absum),
                         where=absum > 0)
    return np.asarray(np.where(lo * hi >= 0, absum / 2, crossing) * width, dtype=np.float64)


# -- histograms ---------------------------------------------------------------------------

def _props(counts: npt.ArrayLike, pseudo: float = 0.0) -> FloatArray:
    c = np.asarray(counts, dtype=np.float64) + pseudo
    total = c.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(c / total, dtype=np.float64)


def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike,
        pseudo: float = PSI_PSEUDO_COUNT) -> float:
    """Population stability index Σ (q - p)·ln(q / p), with ``pseudo`` added to every bin
    of both histograms first (an empty bin would make it infinite)."""
    return float(psi_many(np.asarray(ref_counts), np.asarray(cur_counts)[None, :], pseudo)[0])


def psi_many(ref_counts: npt.NDArray[Any], cur_counts: npt.NDArray[Any],
             pseudo: float = PSI_PSEUDO_COUNT) -> FloatArray:
    """:func:`psi` of one reference histogram against each row of ``cur_counts``."""
    p = _props(ref_counts, pseudo)
    q = _props(cur_counts, pseudo)
    return np.asarray(((q - p) * np.log(q / p)).sum(axis=-1), dtype=np.float64)


def js_distance(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2): 0 for identical
    histograms, 1 for disjoint ones."""
    return float(js_many(np.asarray(ref_counts), np.asarray(cur_counts)[None, :])[0])


def _xlogx_ratio(x: FloatArray, m: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, x * np.log2(x / m), 0.0)


def js_many(ref_counts: npt.NDArray[Any], cur_counts: npt.NDArray[Any]) -> FloatArray:
    """:func:`js_distance` of one reference histogram against each row of ``cur_counts``."""
    p = np.broadcast_to(_props(ref_counts), np.shape(cur_counts))
    q = _props(cur_counts)
    m = (p + q) / 2
    div = (_xlogx_ratio(p, m).sum(axis=-1) + _xlogx_ratio(q, m).sum(axis=-1)) / 2
    return np.asarray(np.sqrt(np.clip(div, 0.0, 1.0)), dtype=np.float64)


def hellinger(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Hellinger distance sqrt(1 - Σ sqrt(p·q)), in [0, 1]."""
    return float(hellinger_many(np.asarray(ref_counts), np.asarray(cur_counts)[None, :])[0])


def hellinger_many(ref_counts: npt.NDArray[Any], cur_counts: npt.NDArray[Any]) -> FloatArray:
    p = _props(ref_counts)
    q = _props(cur_counts)
    bc = np.sqrt(p * q).sum(axis=-1)
    return np.asarray(np.sqrt(np.clip(1.0 - bc, 0.0, 1.0)), dtype=np.float64)


def binned_ks(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """max |P(bin ≤ i) - Q(bin ≤ i)|: the KS statistic seen only at the bin edges."""
    return float(binned_ks_many(np.asarray(ref_counts), np.asarray(cur_counts)[None, :])[0])


def binned_ks_many(ref_counts: npt.NDArray[Any], cur_counts: npt.NDArray[Any]) -> FloatArray:
    p = np.cumsum(_props(ref_counts), axis=-1)
    q = np.cumsum(_props(cur_counts), axis=-1)
    return np.asarray(np.abs(q - p).max(axis=-1), dtype=np.float64)


def distances_many(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike
                   ) -> dict[str, FloatArray]:
    """All four histogram statistics of one reference histogram against each row of
    ``cur_counts`` (one pass over the proportions): ``binned_ks``, ``psi``, ``js`` and
    ``hellinger``."""
    rc = np.asarray(ref_counts, dtype=np.float64)
    cc = np.atleast_2d(np.asarray(cur_counts, dtype=np.float64))
    k = rc.shape[-1]
    p = rc / rc.sum()
    q = cc / cc.sum(axis=1, keepdims=True)
    ps = (rc + PSI_PSEUDO_COUNT) / (rc.sum() + PSI_PSEUDO_COUNT * k)
    qs = (cc + PSI_PSEUDO_COUNT) / (cc.sum(axis=1, keepdims=True) + PSI_PSEUDO_COUNT * k)
    m = (p + q) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        div = (np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
               + np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)) / 2
    return {"binned_ks": np.abs(np.cumsum(q, axis=1) - np.cumsum(p)).max(axis=1),
            "psi": ((qs - ps) * np.log(qs / ps)).sum(axis=1),
            "js": np.sqrt(np.clip(div, 0.0, 1.0)),
            "hellinger": np.sqrt(np.clip(1.0 - np.sqrt(p * q).sum(axis=1), 0.0, 1.0))}


def distances(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> dict[str, float]:
    """:func:`distances_many` of one current histogram (the same numbers, with less
    overhead: this runs once per feature on every check)."""
    rc = np.asarray(ref_counts, dtype=np.float64)
    cc = np.asarray(cur_counts, dtype=np.float64)
    k = len(rc)
    nr, nc = rc.sum(), cc.sum()
    p, q = rc / nr, cc / nc
    ps = (rc + PSI_PSEUDO_COUNT) / (nr + PSI_PSEUDO_COUNT * k)
    qs = (cc + PSI_PSEUDO_COUNT) / (nc + PSI_PSEUDO_COUNT * k)
    m = (p + q) / 2
    # log2(1) = 0 stands in where a share is 0 (0·log 0 = 0), without warnings
    lp = np.log2(np.divide(p, m, out=np.ones(k), where=p > 0))
    lq = np.log2(np.divide(q, m, out=np.ones(k), where=q > 0))
    div = float(p @ lp + q @ lq) / 2
    return {"binned_ks": float(np.abs(np.cumsum(q) - np.cumsum(p)).max()),
            "psi": float((qs - ps) @ np.log(qs / ps)),
            "js": math.sqrt(min(1.0, max(0.0, div))),
            "hellinger": math.sqrt(max(0.0, 1.0 - float(np.sqrt(p * q).sum())))}


# -- counts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chi2Result:
    statistic: float
    p_value: float
    dof: int
    cramers_v: float
    merged: tuple[int, ...]  # column indices pooled into one sparse column


def merge_sparse(ref: IntArray, cur: IntArray, min_expected: float = 5.0
                 ) -> tuple[IntArray, IntArray, tuple[int, ...]]:
    """Pool the columns whose expected count is below ``min_expected`` (smallest first),
    so the chi-square approximation holds. Returns the new rows and the pooled column
    indices.

    Columns are pooled only with columns of the same presence: present on both sides,
    absent from the reference (unseen), or absent from the current window (vanished).
    Pooling an unseen category into an established one would hide it: 47 rows of a new
    value in a 5,000-row window vanish into a category of thousands.

    >>> r, c, pooled = merge_sparse(np.array([0, 900, 20, 1, 1]), np.array([4, 950, 20, 2, 1]))
    >>> r.tolist(), c.tolist(), pooled  # the unseen column (0 vs 4) stays apart
    ([0, 900, 22], [4, 950, 23], (2, 3, 4))
    """
    ref = np.asarray(ref, dtype=np.int64)
    cur = np.asarray(cur, dtype=np.int64)
    totals = ref + cur
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    share = min(n_ref, n_cur) / max(1, n_ref + n_cur)
    presence = (ref > 0).astype(np.int64) + 2 * (cur > 0).astype(np.int64)
    pools: list[list[int]] = []
    for group in (3, 2, 1):  # both sides, current only, reference only
        members = np.flatnonzero(presence == group)
        order = members[np.argsort(totals[members], kind="stable")]
        pooled: list[int] = []
        acc = 0
        for i in order:
            if totals[i] * share >= min_expected and (not pooled or
                                                      acc * share >= min_expected):
                break
            pooled.append(int(i))
            acc += int(totals[i])
        if len(pooled) > 1:
            pools.append(pooled)
    if not pools:
        return ref, cur, ()
    flat = sorted(i for pool in pools for i in pool)
    keep = np.setdiff1d(np.arange(len(ref)), flat)
    rest_ref = np.concatenate([ref[keep], [ref[pool].sum() for pool in pools]])
    rest_cur = np.concatenate([cur[keep], [cur[pool].sum() for pool in pools]])
    return rest_ref.astype(np.int64), rest_cur.astype(np.int64), tuple(flat)


def unseen_test(unseen: int, n_ref: int, n_cur: int) -> float:
    """One-sided p-value of Fisher's exact test on the 2x2 table (seen, unseen) x
    (reference, current) when the reference has no unseen row: under no change the
    ``unseen`` rows of a value the reference never had are a random draw of the
    ``n_ref + n_cur`` rows, so all of them fall in the current window with probability
    ``C(n_cur, u) / C(n_ref + n_cur, u)``.

    >>> round(unseen_test(1, 1000, 1000), 3), unseen_test(0, 1000, 10)
    (0.5, 1.0)
    >>> unseen_test(20, 1000, 1000) < 1e-5
    True
    """
    if unseen <= 0 or n_cur <= 0:
        return 1.0
    n = n_ref + n_cur
    log_p = (special.gammaln(n_cur + 1) - special.gammaln(n_cur - unseen + 1)
             - special.gammaln(n + 1) + special.gammaln(n - unseen + 1))
    return float(min(1.0, math.exp(float(log_p))))


def chi2_homogeneity(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike,
                     min_expected: float = 5.0) -> Chi2Result:
    """Pearson's chi-square test that two samples come from one categorical distribution
    (homogeneity on the 2xk table; both rows are samples), sparse columns pooled first.

    >>> r = chi2_homogeneity([50, 30, 20], [30, 30, 40])
    >>> round(r.statistic, 3), r.dof, round(r.p_value, 5)
    (11.667, 2, 0.00293)
    """
    ref, cur, merged = merge_sparse(np.asarray(ref_counts, dtype=np.int64),
                                    np.asarray(cur_counts, dtype=np.int64), min_expected)
    nonzero = (ref + cur) > 0
    table = np.vstack([ref[nonzero], cur[nonzero]])
    n = int(table.sum())
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return Chi2Result(0.0, 1.0, 0, 0.0, merged)
    stat, p, dof, _ = _sps().chi2_contingency(table, correction=False)
    v = math.sqrt(stat / n) if n else 0.0  # 2 rows: min(r, k) - 1 = 1
    return Chi2Result(float(stat), float(p), int(dof), v, merged)


@dataclass(frozen=True)
class ProportionTest:
    p_ref: float
    p_cur: float
    z: float
    p_value: float

    @property
    def difference(self) -> float:
        return self.p_cur - self.p_ref


def two_proportion_z(x_ref: int, n_ref: int, x_cur: int, n_cur: int) -> ProportionTest:
    """Two-sided two-proportion z-test with the pooled variance (equal to the chi-square
    test of the 2x2 table without continuity correction)."""
    if n_ref <= 0 or n_cur <= 0:
        return ProportionTest(math.nan, math.nan, math.nan, math.nan)
    p1, p2 = x_ref / n_ref, x_cur / n_cur
    pool = (x_ref + x_cur) / (n_ref + n_cur)
    se = math.sqrt(pool * (1 - pool) * (1 / n_ref + 1 / n_cur))
    if se == 0:
        return ProportionTest(p1, p2, 0.0, 1.0)
    z = (p2 - p1) / se
    return ProportionTest(p1, p2, z, float(2 * special.ndtr(-abs(z))))  # 2 x normal sf


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (NaNs when n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    z = float(special.ndtri(0.5 + confidence / 2))  # the normal quantile
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
