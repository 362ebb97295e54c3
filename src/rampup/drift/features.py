"""One feature, reference against current: the test, the effect size and the distances.

By column type (the defaults; see :class:`~rampup.drift.report.DriftConfig`):

=============  ==========================================  =================================
kind           test (p-value)                              effect size (practical minimum)
=============  ==========================================  =================================
numeric, raw   two-sample KS (exact / asymptotic)          Wasserstein / reference spread
numeric, bins  binned KS, null simulated at n (calibrate)  Wasserstein of the quantile
                                                           functions / reference spread
categorical    chi-square homogeneity on the seen values,  Jensen-Shannon distance
               sparse pooled
unseen         Fisher's exact test (values the reference   share of unseen rows
               never had against the rest)
binary         two-proportion z                            |change in share|
missing        two-proportion z                            |change in missing fraction|
=============  ==========================================  =================================

Numeric results also carry PSI, JS and Hellinger on the reference-quantile bins with
their no-drift thresholds at this window size, so a team used to "PSI ≥ 0.2" can see what
the threshold really is at n rows. The functions take sorted arrays or count vectors and
return a :class:`~rampup.drift.report.TestResult` whose verdict is set later (after the
correction across features).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rampup.drift.calibrate import NullCache, NullDistribution
from rampup.drift.report import DriftConfig, Histogram, TestResult
from rampup.drift.stats import (
    FloatArray,
    IntArray,
    _abs_linear_area,
    chi2_homogeneity,
    distances,
    js_distance,
    kolmogorov_sf,
    ks_test_from_statistic,
    ks_wasserstein_sorted,
    psi,
    two_proportion_z,
    unseen_test,
    wasserstein_cdfs,
    wasserstein_quantiles,
    wilson,
)

OTHER = "__other__"
EFFECT_W = "wasserstein/std"
EFFECT_W_IQR = "wasserstein/iqr"


def quantile_edges(ref_sorted: FloatArray) -> FloatArray:
    """Inner bin edges at the reference's 20-quantiles (deciles under 1000 values), taken
    as data values and deduplicated: the same rule as the stored reference profile."""
    n = len(ref_sorted)
    step = 5 if n >= 1000 else 10
    ranks = np.ceil(np.arange(step, 100, step) / 100 * n).astype(np.int64) - 1
    return np.unique(ref_sorted[ranks])


def counts_on(edges: FloatArray, sorted_values: FloatArray) -> IntArray:
    """Counts per bin ``edges[i-1] <= v < edges[i]`` (outer bins open) of sorted values."""
    cut = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate([[0], cut, [len(sorted_values)]])).astype(np.int64)


def _spread(std: float | None, iqr: float | None, how: str) -> float:
    value = iqr if how == "iqr" else std
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _effect(w: float, spread: float) -> float:
    if math.isnan(w):
        return math.nan
    if not spread > 0:
        return 0.0 if w == 0 else math.inf  # a constant reference that moved
    return w / spread


def _binned_metrics(ref_counts: IntArray, cur_counts: IntArray, null: NullDistribution,
                    alpha: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in distances(ref_counts, cur_counts).items():
        out[name] = value
        out[f"{name}_threshold"] = null.threshold(name, alpha)
        out[f"{name}_p"] = null.p_value(name, value)
    return out


def _not_tested(feature: str, kind: str, test: str, effect_name: str, config: DriftConfig,
                n_ref: int, n_cur: int, note: str) -> TestResult:
    return TestResult(feature, kind, test, math.nan, math.nan, math.nan, effect_name,
                      config.minimum(feature, kind), n_ref, n_cur, notes=(note,))


def _min(config: DriftConfig, feature: str, kind: str, family: str) -> float:
    """The practical minimum; outputs and labels use their family's (numeric/categorical)
    unless the config names them."""
    return config.minimum(feature, kind if kind in config.min_effect else family)


def _too_few(n_ref: int, n_cur: int, config: DriftConfig) -> str | None:
    if min(n_ref, n_cur) < config.min_rows:
        return (f"too few values to test ({n_ref} reference, {n_cur} current; "
                f"at least {config.min_rows} each)")
    return None


# -- numeric ------------------------------------------------------------------------------

def numeric_samples(feature: str, ref: FloatArray, cur: FloatArray, config: DriftConfig,
                    cache: NullCache, kind: str = "numeric") -> TestResult:
    """Exact mode: KS on the raw values; ``ref`` and ``cur`` sorted, finite."""
    effect_name = EFFECT_W_IQR if config.spread == "iqr" else EFFECT_W
    short = _too_few(len(ref), len(cur), config)
    if short:
        return _not_tested(feature, kind, "ks", effect_name, config, len(ref), len(cur), short)
    d, w = ks_wasserstein_sorted(ref, cur)
    p = ks_test_from_statistic(d, ref, cur)
    q25, q75 = np.quantile(ref, [0.25, 0.75])
    spread = _spread(float(ref.std()), float(q75 - q25), config.spread)
    edges = quantile_edges(ref)
    rc, cc = counts_on(edges, ref), counts_on(edges, cur)
    metrics = {"ks": d, "wasserstein": w, "mean_ref": float(ref.mean()),
               "mean_cur": float(cur.mean()), "std_ref": float(ref.std()),
               "std_cur": float(cur.std()),
               **_binned_metrics(rc, cc, cache.get(rc, len(cur)), config.alpha)}
    hist = Histogram(tuple(rc.tolist()), tuple(cc.tolist()),
                     edges=("-inf", *edges.tolist(), "inf"))
    return TestResult(feature, kind, "ks", d, p, _effect(w, spread), effect_name,
                      _min(config, feature, kind, "numeric"), len(ref), len(cur), metrics,
                      histogram=hist)


def _edges(profile: Mapping[str, Any]) -> FloatArray:
    return np.array([float(e) for e in profile["bins"]], dtype=np.float64)


def rebin(cur: Mapping[str, Any], ref: Mapping[str, Any]) -> tuple[IntArray, bool]:
    """The current profile's counts on the reference's bins, and whether they are exact.

    Exact when both profiles share the bins (the monitor counts windows on the
    reference's bins). Otherwise they are read off the current distribution function,
    interpolated through its own bin edges (exact cumulative counts there) and its
    quantiles: an approximation, flagged in the result.
    """
    ref_edges = _edges(ref)
    if cur.get("bins") is not None and len(cur["bins"]) == len(ref["bins"]) and \
            np.array_equal(_edges(cur), ref_edges):
        return np.asarray(cur["counts"], dtype=np.int64), True
    n = int(cur["count"])
    xs: list[float] = []
    fs: list[float] = []
    if cur.get("bins") is not None:
        own = _edges(cur)[1:-1]
        below = np.cumsum(cur["counts"])[:-1]
        xs += own.tolist()
        fs += (below / n).tolist()
    if cur.get("quantiles") is not None:
        q = np.asarray(cur["quantiles"], dtype=np.float64)
        xs += q.tolist()
        fs += np.linspace(0.0, 1.0, len(q)).tolist()
    order = np.argsort(xs, kind="stable")
    x = np.asarray(xs)[order]
    f = np.maximum.accumulate(np.asarray(fs)[order])
    cdf = np.interp(ref_edges[1:-1], x, f, left=0.0, right=1.0)
    expected = np.diff(np.concatenate([[0.0], cdf, [1.0]])) * n
    # Largest-remainder rounding keeps the total at n.
    counts = np.floor(expected).astype(np.int64)
    short = n - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(expected - counts), kind="stable")[:short]] += 1
    return counts, False


def _bin_geometry(quantiles: Sequence[float], inner: FloatArray
                  ) -> tuple[FloatArray, IntArray, FloatArray]:
    """Steps between the points (the reference's quantiles and inner edges), the bin of
    each point, and the share of its bin's reference mass below it (from the quantiles)."""
    q = np.asarray(quantiles, dtype=np.float64)
    grid = np.linspace(0.0, 1.0, len(q))
    x = np.union1d(q, inner[(inner > q[0]) & (inner < q[-1])])
    fq = np.interp(x, q, grid)  # reference CDF from its quantiles
    j = np.searchsorted(inner, x, side="right").astype(np.int64)
    f_edges = np.interp(np.concatenate([[q[0]], inner, [q[-1]]]), q, grid)
    lo_f, hi_f = f_edges[np.minimum(j, len(inner))], f_edges[np.minimum(j + 1, len(inner) + 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.clip(np.where(hi_f > lo_f, (fq - lo_f) / (hi_f - lo_f), 1.0), 0.0, 1.0)
    return np.diff(x), j, u


def _binned_w(rc: IntArray, cc: IntArray, ref: Mapping[str, Any], edges: FloatArray,
              cache: NullCache) -> float:
    """W1 from two histograms on the reference's bins, assuming the window has the
    reference's shape within each bin (its mass rescaled), the shape read off the
    reference's quantiles. Uniform spreading within bins would overstate the distance in
    the open outer bins, which stretch to the extremes."""
    rq = ref.get("quantiles")
    inner = edges[1:-1]
    if rq is None or len(inner) == 0:
        return math.nan
    # Keyed by the quantile list's identity: the memo keeps the list alive, so the id
    # cannot be reused while the entry exists.
    steps, j, u, _ = cache.memo(("bins", id(rq), len(inner)),
                                lambda: (*_bin_geometry(rq, inner), rq))
    r, c = rc / rc.sum(), cc / cc.sum()
    cum_r, cum_c = np.concatenate([[0.0], np.cumsum(r)]), np.concatenate([[0.0], np.cumsum(c)])
    # at an inner edge the bin just ended: its gap is the next bin's starting gap, the same
    gap = (cum_r[j] - cum_c[j]) + (r[j] - c[j]) * u
    return float(_abs_linear_area(gap[:-1], gap[1:], steps).sum())


def _quantile_spread(q: Sequence[float], how: str, std: float | None) -> float:
    grid = np.linspace(0.0, 1.0, len(q))
    iqr = float(np.interp(0.75, grid, q) - np.interp(0.25, grid, q))
    if how == "std" and std is None:
        return iqr / 1.349  # the standard deviation of a normal with this IQR
    return _spread(std, iqr, how)


def numeric_profiles(feature: str, ref: Mapping[str, Any], cur: Mapping[str, Any],
                     config: DriftConfig, cache: NullCache, kind: str = "numeric",
                     ) -> TestResult:
    """Stored mode: binned KS on the reference's bins, calibrated at the window's size;
    the effect is the Wasserstein distance of the two histograms (of the quantile
    functions when the window had to be re-binned). Profiles with quantiles but no
    histogram go to :func:`numeric_quantiles`."""
    effect_name = EFFECT_W_IQR if config.spread == "iqr" else EFFECT_W
    n_ref, n_cur = int(ref.get("count") or 0), int(cur.get("count") or 0)
    short = _too_few(n_ref, n_cur, config)
    if short:
        return _not_tested(feature, kind, "binned_ks", effect_name, config, n_ref, n_cur, short)
    if ref.get("bins") is None or (cur.get("bins") is None and cur.get("quantiles") is None):
        if ref.get("quantiles") is not None and cur.get("quantiles") is not None:
            return numeric_quantiles(feature, ref, cur, config, kind)
        return _not_tested(feature, kind, "binned_ks", effect_name, config, n_ref, n_cur,
                           "no histogram or quantiles to compare")
    rc = np.asarray(ref["counts"], dtype=np.int64)
    cc, exact = rebin(cur, ref)
    null = cache.get(rc, int(cc.sum()))
    binned = _binned_metrics(rc, cc, null, config.alpha)
    d, p = binned["binned_ks"], binned["binned_ks_p"]
    rq, cq = ref.get("quantiles"), cur.get("quantiles")
    if not exact and rq is not None and cq is not None and len(rq) == len(cq):
        w = wasserstein_quantiles(rq, cq)
    else:
        w = _binned_w(rc, cc, ref, _edges(ref), cache)
        # W1 >= |mean difference|: catches mass beyond the reference's range (the open
        # outer bins cannot show how far out it went).
        if ref.get("mean") is not None and cur.get("mean") is not None:
            w = max(w, abs(float(cur["mean"]) - float(ref["mean"])))
    if rq is not None:
        spread = cache.memo(("spread", id(rq), config.spread, ref.get("std")),
                            lambda: (_quantile_spread(rq, config.spread, ref.get("std")),
                                     rq))[0]
    else:
        spread = _spread(ref.get("std"), None, config.spread)
    metrics = {"wasserstein": w, "mean_ref": _f(ref.get("mean")),
               "mean_cur": _f(cur.get("mean")), "std_ref": _f(ref.get("std")),
               "std_cur": _f(cur.get("std")), **binned}
    notes = () if exact else ("window counted on its own bins: re-binned approximately",)
    hist = Histogram(tuple(rc.tolist()), tuple(cc.tolist()), edges=tuple(ref["bins"]))
    return TestResult(feature, kind, "binned_ks", d, p, _effect(w, spread), effect_name,
                      _min(config, feature, kind, "numeric"), n_ref, n_cur, metrics, notes,
                      histogram=hist)


def numeric_quantiles(feature: str, ref: Mapping[str, Any], cur: Mapping[str, Any],
                      config: DriftConfig, kind: str = "numeric") -> TestResult:
    """Two quantile functions only (e.g. sketches of model scores): the KS statistic
    read off the interpolated distribution functions, with Smirnov's asymptotic p-value,
    and the Wasserstein distance of the quantile functions. Approximate: the quantiles'
    resolution (and a sketch's error) limits what a very large window can resolve."""
    n_ref, n_cur = int(ref.get("count") or 0), int(cur.get("count") or 0)
    rq = np.asarray(ref["quantiles"], dtype=np.float64)
    cq = np.asarray(cur["quantiles"], dtype=np.float64)
    grid_r = np.linspace(0.0, 1.0, len(rq))
    grid_c = np.linspace(0.0, 1.0, len(cq))
    x = np.union1d(rq, cq)
    gap = np.interp(x, rq, grid_r) - np.interp(x, cq, grid_c)
    d = float(np.abs(gap).max())
    w = wasserstein_quantiles(rq, cq) if len(rq) == len(cq) else wasserstein_cdfs(
        x, np.interp(x, rq, grid_r), np.interp(x, cq, grid_c))
    effect_name = EFFECT_W_IQR if config.spread == "iqr" else EFFECT_W
    spread = _quantile_spread(rq.tolist(), config.spread, ref.get("std"))
    return TestResult(feature, kind, "quantile_ks", d, kolmogorov_sf(d, n_ref, n_cur),
                      _effect(w, spread), effect_name, _min(config, feature, kind, "numeric"),
                      n_ref, n_cur, {"wasserstein": w, "mean_ref": _f(ref.get("mean")),
                                     "mean_cur": _f(cur.get("mean"))},
                      ("compared through quantiles only: approximate",))


def _f(v: Any) -> float:
    return float(v) if v is not None else math.nan


# -- categorical ---------------------------------------------------------------------------

def align_categories(ref: Mapping[str, int], cur: Mapping[str, int],
                     known: Sequence[str] | None = None,
                     ) -> tuple[list[str], IntArray, IntArray, dict[str, int], tuple[str, ...]]:
    """Reference and current counts on one list of categories, and the unseen ones.

    A current category the reference never had (and the schema does not list) is unseen
    and kept as its own column. When the reference lumped its rare values into
    ``__other__``, a current category it does not name may be one of them: it joins
    ``__other__`` and is not called unseen.
    """
    notes: list[str] = []
    cur_map: dict[str, int] = {}
    lumped = 0
    for k, v in cur.items():
        if k not in ref and OTHER in ref and k != OTHER:
            cur_map[OTHER] = cur_map.get(OTHER, 0) + int(v)
            lumped += 1
        else:
            cur_map[k] = cur_map.get(k, 0) + int(v)
    if lumped:
        notes.append(f"{lumped} current value(s) not among the reference's named categories "
                     "compared with its __other__ bucket")
    labels = list(ref) + [k for k in cur_map if k not in ref]
    known_set = set(known or ())
    unseen = {k: cur_map[k] for k in labels if k not in ref and k != OTHER
              and k not in known_set and cur_map[k] > 0}
    rc = np.array([int(ref.get(k, 0)) for k in labels], dtype=np.int64)
    cc = np.array([int(cur_map.get(k, 0)) for k in labels], dtype=np.int64)
    return labels, rc, cc, unseen, tuple(notes)


def categorical_counts(feature: str, ref: Mapping[str, int], cur: Mapping[str, int],
                       config: DriftConfig, cache: NullCache,
                       known: Sequence[str] | None = None, kind: str = "categorical",
                       ) -> TestResult:
    """Chi-square homogeneity (or the z-test for two values) on category counts.

    Unseen values are left out of the chi-square table (they are the unseen test's
    evidence, :func:`unseen_result`): the test compares the mix of the values both sides
    can have.
    """
    labels, rc, cc, unseen, notes = align_categories(ref, cur, known)
    n_ref, n_cur = int(rc.sum()), int(cc.sum())
    binary = len(labels) == 2 and not unseen and kind == "categorical"
    short = _too_few(n_ref, n_cur, config)
    if short:
        return _not_tested(feature, "binary" if binary else kind, "z" if binary else "chi2",
                           "js_distance", config, n_ref, n_cur, short)
    if unseen:
        shown = ", ".join(f"{k!r} ({v})" for k, v in list(unseen.items())[:5])
        notes += (f"unseen categories: {shown}"
                  + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""),)
    hist = Histogram(tuple(rc.tolist()), tuple(cc.tolist()), labels=tuple(labels))
    js = js_distance(rc, cc)
    null = cache.get(rc, n_cur)
    metrics = {"js": js, "js_threshold": null.threshold("js", config.alpha),
               "psi": psi(rc, cc), "psi_threshold": null.threshold("psi", config.alpha),
               "unseen_fraction": sum(unseen.values()) / n_cur}
    if binary:
        # The share of the value that is rarer in the reference ("the positive").
        j = int(np.argmin(rc)) if rc[0] != rc[1] else 1
        t = two_proportion_z(int(rc[j]), n_ref, int(cc[j]), n_cur)
        metrics.update(share_ref=t.p_ref, share_cur=t.p_cur)
        notes += (f"share of {labels[j]!r}: {t.p_ref:.3f} -> {t.p_cur:.3f}",)
        return TestResult(feature, "binary", "z", t.z, t.p_value, abs(t.difference),
                          "abs_change", config.minimum(feature, "binary"),
                          n_ref, n_cur, metrics, notes, unseen, hist)
    seen = np.array([k not in unseen for k in labels], dtype=bool)
    chi = chi2_homogeneity(rc[seen], cc[seen])
    metrics.update(dof=float(chi.dof), cramers_v=chi.cramers_v)
    if chi.merged:
        notes += (f"{len(chi.merged)} sparse categories pooled for the chi-square test",)
    return TestResult(feature, kind, "chi2", chi.statistic, chi.p_value, js, "js_distance",
                      _min(config, feature, kind, "categorical"), n_ref, n_cur, metrics, notes,
                      unseen, hist)


def unseen_result(feature: str, ref: Mapping[str, int], cur: Mapping[str, int],
                  config: DriftConfig, known: Sequence[str] | None = None,
                  unseen_rows: int | None = None) -> TestResult:
    """Values the reference never had, as evidence of their own (``kind: unseen``).

    Fisher's exact test on (seen, unseen) x (reference, current) — exact at any size, so
    47 rows of a new value among 5,000 are as clear as they look — and, as the effect,
    the share of current rows with an unseen value, whose practical minimum (0.5 % by
    default) keeps one stray value in a huge window from alarming. ``unseen_rows``: an
    exact count kept elsewhere (the monitor counts unseen values before its top-k
    counts lump rare ones together); the larger of it and the named ones is used.
    When the reference lumped its rare values into ``__other__`` it does not know its
    whole vocabulary, and a value it does not name is compared with that bucket instead
    (said in the notes of the categorical result).
    """
    _, rc, cc, unseen, _ = align_categories(ref, cur, known)
    n_ref, n_cur = int(rc.sum()), int(cc.sum())
    u = max(sum(unseen.values()), int(unseen_rows or 0))
    n_cur = max(n_cur, u)
    minimum = config.minimum(feature, "unseen")
    short = _too_few(n_ref, n_cur, config)
    if short:
        return _not_tested(feature, "unseen", "fisher", "unseen_share", config, n_ref, n_cur,
                           short)
    share = u / n_cur
    lo, hi = wilson(u, n_cur)
    notes = (f"{u} of {n_cur} rows ({share:.2%}) have a value the reference never had",) \
        if u else ()
    return TestResult(feature, "unseen", "fisher", float(u), unseen_test(u, n_ref, n_cur),
                      share, "unseen_share", minimum, n_ref, n_cur,
                      {"unseen_share": share, "unseen_share_lo": lo, "unseen_share_hi": hi,
                       "unseen_values": float(len(unseen))}, notes, unseen)


# -- missing values -----------------------------------------------------------------------

def missing_change(feature: str, ref_missing: int, ref_rows: int, cur_missing: int,
                   cur_rows: int, config: DriftConfig) -> TestResult | None:
    """The change of the missing fraction (None when neither side has missing values)."""
    if ref_missing == 0 and cur_missing == 0:
        return None
    short = _too_few(ref_rows, cur_rows, config)
    if short:
        return _not_tested(feature, "missing", "z", "abs_change", config, ref_rows,
                           cur_rows, short)
    t = two_proportion_z(ref_missing, ref_rows, cur_missing, cur_rows)
    return TestResult(feature, "missing", "z", t.z, t.p_value, abs(t.difference), "abs_change",
                      config.minimum(feature, "missing"), ref_rows, cur_rows,
                      {"missing_ref": t.p_ref, "missing_cur": t.p_cur})


def rows_of(profile: Mapping[str, Any], rows: int | None = None) -> tuple[int, int]:
    """(missing, rows) of a feature profile; ``rows`` (the table's) when all are missing."""
    count = int(profile.get("count") or 0)
    mf = float(profile.get("missing_fraction") or 0.0)
    total = int(rows or 0) if mf >= 1.0 else round(count / (1.0 - mf))
    return total - count, total
