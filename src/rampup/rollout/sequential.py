"""Confidence sequences: intervals that stay valid however often they are looked at.

The rollout controller judges a step's growing window every tick (2 s), hundreds of times
a step. A fixed-level test looked at that often rejects a true hypothesis far more often
than its level; a *confidence sequence* (CS) at level ``alpha`` instead covers the truth
at every sample size at once: ``P(the truth leaves the interval at any n) <= alpha``.
So a check judged on a CS keeps its error rate whatever the tick rate. Three kinds:

- :func:`mean_cs`, :func:`difference_cs` — the two-sided normal-mixture boundary of
  Robbins (1970) (Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric,
  nonasymptotic confidence sequences", Ann. Statist. 49(2), Section 3) used with a
  plug-in variance: the *asymptotic* CS of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas
  (2021, "Time-uniform central limit theory and asymptotic confidence sequences",
  arXiv:2103.06476). For means (latency, |difference|) and for differences between
  the candidate and a baseline (rates, accuracy, latency means).
- :func:`bernoulli_cs` — exact and nonasymptotic for shares (error rate, accuracy,
  agreement against a number): the beta-binomial mixture martingale (Robbins 1970;
  Howard et al. 2021, Section 3) with Ville's inequality.
- :func:`quantile_cs` — a CS for a quantile from order statistics, whose ranks come
  from the beta-binomial CS of the share below the quantile (Howard & Ramdas 2022,
  "Sequential estimation of quantiles with applications to A/B-testing and best-arm
  identification", Bernoulli 28(3)).

Each boundary is tuned (``rho``) to be tightest near ``n_opt`` observations and is valid
at every ``n`` regardless. All functions are pure; ``alpha`` is the total two-sided
error, so both "the truth is above" and "the truth is below" are each wrong with
probability at most ``alpha``.

>>> round(z_boundary(1000, 0.05), 2)   # in standard errors, vs 1.96 for one look
3.04
>>> iv = bernoulli_cs(10, 1000, 0.05, center=0.01)
>>> round(iv.lower, 4), round(iv.upper, 4)
(0.0034, 0.0219)
>>> import numpy as np
>>> iv = quantile_cs(np.arange(1.0, 1001.0), 0.5, 0.05)
>>> 400 < iv.lower < 500 < iv.upper < 600
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: the sample size each boundary is tuned for (valid at every size).
N_OPT = 1000.0
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """An always-valid interval for a quantity; ``p_value`` is the always-valid p-value
    of "the quantity equals the reference" when one was asked for (else None)."""

    lower: float
    upper: float
    p_value: float | None = None


def best_rho(n_opt: float, alpha: float) -> float:
    """The normal mixture's tuning that makes the boundary tightest at ``n_opt``
    (Waudby-Smith et al. 2021, eq. for rho^2 with rho = 1 / rho^2 here).

    >>> round(best_rho(1000, 0.05), 1)
    126.0
    """
    two_log = -2.0 * math.log(alpha)
    return n_opt / (two_log + math.log1p(two_log))


def z_boundary(n: float, alpha: float, n_opt: float = N_OPT) -> float:
    """Half-width, in standard errors, of the two-sided normal-mixture CS after ``n``
    observations: ``sqrt((n + rho) / n * log((n + rho) / (rho * alpha^2)))``.

    Grows like sqrt(log n): the price of looking at every n.

    >>> z_boundary(100, 0.05) > z_boundary(1000, 0.05) > 1.96
    True
    """
    if n <= 0:
        return math.inf
    rho = best_rho(n_opt, alpha)
    return math.sqrt((n + rho) / n * math.log((n + rho) / (rho * alpha ** 2)))


def normal_mixture_p(z: float, n: float, alpha: float, n_opt: float = N_OPT) -> float:
    """The always-valid p-value of a standardised statistic ``z`` after ``n``
    observations: 1 / the mixture martingale ``sqrt(rho / (n + rho)) exp(n z^2 /
    (2 (n + rho)))``; below ``alpha`` exactly when ``|z| > z_boundary(n)``.

    >>> normal_mixture_p(z_boundary(500, 0.05), 500, 0.05)
    0.05
    """
    if n <= 0:
        return 1.0
    rho = best_rho(n_opt, alpha)
    log_m = 0.5 * math.log(rho / (n + rho)) + n * z * z / (2.0 * (n + rho))
    return round(min(1.0, math.exp(-log_m)), 12)


def mean_cs(x: FloatArray, alpha: float, n_opt: float = N_OPT,
            reference: float | None = None) -> Interval:
    """Asymptotic CS for the mean of ``x`` (plug-in standard deviation).

    >>> iv = mean_cs(np.full(50, 3.0), 0.05)
    >>> (iv.lower, iv.upper)
    (3.0, 3.0)
    """
    n = int(x.size)
    if n == 0:
        return Interval(-math.inf, math.inf)
    m = float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else math.inf
    half = sd / math.sqrt(n) * z_boundary(n, alpha, n_opt)
    return Interval(m - half, m + half, _p(m, sd / math.sqrt(n), n, reference, alpha, n_opt))


def difference_cs(mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float,
                  n_b: int, alpha: float, *, factor: float = 1.0, offset: float = 0.0,
                  n_opt: float = N_OPT) -> Interval:
    """Asymptotic CS for ``mean_a - (factor * mean_b + offset)`` from two independent
    samples (``var_*``: per-observation variances). The standard error is the usual
    one; the boundary is taken at the *effective* sample size, the number of paired
    differences ``a_i - factor * b_i`` that would give the same standard error (``n``
    when both samples have ``n``), so the CS reduces to :func:`mean_cs` of paired data.

    ``p_value`` is the always-valid p-value of "the difference is 0".

    >>> iv = difference_cs(0.2, 0.16, 400, 0.01, 0.0099, 4000, 0.05, offset=0.01)
    >>> iv.lower > 0, iv.p_value < 1e-9
    (True, True)
    """
    if n_a <= 0 or n_b <= 0:
        return Interval(-math.inf, math.inf)
    d = mean_a - (factor * mean_b + offset)
    var = var_a / n_a + factor ** 2 * var_b / n_b
    if var <= 0.0:
        return Interval(d, d, 0.0 if d != 0 else 1.0)
    se = math.sqrt(var)
    n_eff = (var_a + factor ** 2 * var_b) / var
    half = se * z_boundary(n_eff, alpha, n_opt)
    return Interval(d - half, d + half, normal_mixture_p(d / se, n_eff, alpha, n_opt))


def _p(m: float, se: float, n: int, reference: float | None, alpha: float,
       n_opt: float) -> float | None:
    if reference is None:
        return None
    if not math.isfinite(se):
        return 1.0
    if se == 0.0:
        return 0.0 if m != reference else 1.0
    return normal_mixture_p((m - reference) / se, n, alpha, n_opt)


# -- shares: the beta-binomial mixture ------------------------------------------------------

def bernoulli_log_e(k: npt.ArrayLike, n: int, p0: float,
                    concentration: float) -> FloatArray:
    """Log of the beta-binomial mixture martingale against ``p0`` after ``k`` successes
    in ``n`` trials: the likelihood of the data averaged over ``p ~ Beta(c p0, c (1 -
    p0))``, divided by its likelihood under ``p0``. Under ``p = p0`` it is a
    nonnegative martingale with mean 1, so by Ville's inequality it exceeds ``1/alpha``
    at *any* ``n`` with probability at most ``alpha``.
    """
    from scipy.special import betaln

    kk = np.asarray(k, dtype=np.float64)
    a, b = p0 * concentration, (1.0 - p0) * concentration
    out: FloatArray = (betaln(a + kk, b + n - kk) - betaln(a, b)
                       - kk * math.log(p0) - (n - kk) * math.log1p(-p0))
    return out


def bernoulli_cs(k: int, n: int, alpha: float, *, center: float | None = None,
                 n_opt: float = N_OPT, reference: float | None = None) -> Interval:
    """Exact CS for a share after ``k`` successes in ``n`` trials: the shares ``p``
    against which the beta-binomial mixture stays below ``1/alpha``. Its prior is
    centred on ``center`` (default 0.5), which must be fixed before the data: pass the
    threshold the share will be compared with, where the CS is then tightest.
    ``reference`` asks for the always-valid p-value of ``p = reference``.

    >>> iv = bernoulli_cs(0, 200, 0.05, center=0.01)
    >>> iv.lower, iv.upper < 0.03
    (0.0, True)
    """
    if n <= 0:
        return Interval(0.0, 1.0, None if reference is None else 1.0)
    c0 = 0.5 if center is None else min(max(center, 1e-6), 1.0 - 1e-6)
    conc = max(best_rho(n_opt, alpha), 1.0)
    bound = math.log(1.0 / alpha)

    from scipy.special import betaln

    a, b = c0 * conc, (1.0 - c0) * conc
    mix = float(betaln(a + k, b + n - k) - betaln(a, b)) - bound

    def excess(p: float) -> float:  # < 0 inside the CS; convex, lowest at k / n
        lik = (k * math.log(p) if k else 0.0) + ((n - k) * math.log1p(-p) if n > k else 0.0)
        return mix - lik

    lo, hi = _ends(excess, k / n)
    p = None
    if reference is not None:
        if reference <= 0.0:
            p = 0.0 if k > 0 else 1.0
        elif reference >= 1.0:
            p = 0.0 if k < n else 1.0
        else:
            p = round(min(1.0, math.exp(-(excess(reference) + bound))), 12)
    return Interval(lo, hi, p)


def _ends(excess: Callable[[float], float], mle: float) -> tuple[float, float]:
    """Where a convex function that is negative at ``mle`` crosses zero on [0, 1]."""
    from scipy.optimize import brentq

    eps = 1e-12
    lo = 0.0 if mle <= eps or excess(eps) < 0 else \
        float(brentq(excess, eps, mle, xtol=1e-10))
    hi = 1.0 if mle >= 1 - eps or excess(1 - eps) < 0 else \
        float(brentq(excess, mle, 1 - eps, xtol=1e-10))
    return lo, hi


# -- quantiles ------------------------------------------------------------------------------

def _accepted_counts(n: int, q: float, conc: float, bound: float) -> tuple[int, int] | None:
    """The first and last ``k`` in ``0..n`` with ``bernoulli_log_e(k, n, q) < bound``.

    The log-e is convex in ``k`` (``lgamma(a + k) + lgamma(b + n - k)`` plus a line), so
    the accepted counts are one run around its minimum, near ``q n``: two bisections find
    its ends from there (~2 log2 n evaluations instead of n + 1, the same ends).
    """
    def inside(k: int) -> bool:
        return bool(bernoulli_log_e(k, n, q, conc) < bound)

    mid = min(max(round(q * n), 0), n)
    if not inside(mid):  # the run does not hold q n: look at every k
        ok = np.nonzero(bernoulli_log_e(np.arange(n + 1), n, q, conc) < bound)[0]
        return (int(ok[0]), int(ok[-1])) if ok.size else None
    lo, hi = 0, mid  # the first accepted k is in [lo, hi]
    while lo < hi:
        m = (lo + hi) // 2
        lo, hi = (lo, m) if inside(m) else (m + 1, hi)
    first = lo
    lo, hi = mid, n  # the last accepted k is in [lo, hi]
    while lo < hi:
        m = (lo + hi + 1) // 2
        lo, hi = (m, hi) if inside(m) else (lo, m - 1)
    return first, lo


def quantile_cs(x: FloatArray, q: float, alpha: float, n_opt: float = N_OPT) -> Interval:
    """CS for the ``q``-quantile of the distribution ``x`` is drawn from.

    At the true quantile, the number of observations at or below it is Binomial(n, q)
    at every n; the beta-binomial mixture (centred on ``q``) gives the counts ``k`` it
    does not reject, ``k_lo..k_hi``, for all n at once with probability ``1 - alpha``;
    the quantile then lies between the ``k_lo``-th and the ``(k_hi + 1)``-th order
    statistics (Howard & Ramdas 2022). An end beyond the data is infinite: a p99 needs
    a few hundred observations before it has an upper bound.

    >>> iv = quantile_cs(np.arange(1.0, 101.0), 0.99, 0.05)
    >>> iv.upper
    inf
    """
    n = int(x.size)
    if n == 0:
        return Interval(-math.inf, math.inf)
    conc = max(best_rho(n_opt, alpha), 1.0)
    ends = _accepted_counts(n, q, conc, math.log(1.0 / alpha))
    if ends is None:  # cannot happen for sane inputs; the widest answer is the safe one
        return Interval(-math.inf, math.inf)
    k_lo, k_hi = ends
    want = [i for i in (k_lo - 1, k_hi) if 0 <= i < n]
    part = np.partition(x, want) if want else x
    lower = float(part[k_lo - 1]) if k_lo >= 1 else -math.inf
    upper = float(part[k_hi]) if k_hi < n else math.inf
    return Interval(lower, upper)
