"""Always-valid decisions on ``score_divergence`` (Jensen-Shannon distance of score
histograms), for which no closed-form confidence sequence exists.

The scores arrive in time order, so the first ``n_e = min_n * 2^e`` scores of each side
are fixed data: whenever the window is looked at, the test on prefix ``e`` gives the same
answer. Prefix ``e`` is tested at level ``alpha_e = alpha * 6 / (pi^2 (e + 1)^2)``
(``sum alpha_e = alpha``), so a union bound keeps each kind of error at ``alpha`` over
all looks and all sample sizes — a group-sequential design whose looks are the
doubling sample sizes instead of ticks. A violation is a permutation test (exact
multivariate hypergeometric draws of the pooled histogram); a pass is a bootstrap upper
confidence bound on the distance at most the threshold.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> same = prefix_decision(rng.beta(5, 2, 3000), rng.beta(5, 2, 3000), 0.2, 0.05, 100, 0)
>>> same.verdict, same.n
('pass', 800)
>>> far = prefix_decision(rng.beta(2, 5, 800), rng.beta(5, 2, 800), 0.2, 0.05, 100, 0)
>>> far.verdict, far.p_value < 0.01
('fail', True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from rampup.rollout.agreement import js_distance, score_histogram

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PrefixDecision:
    verdict: Literal["pass", "fail", "wait"]
    n: int  # the prefix size that decided (or the largest one tested)
    p_value: float | None  # Bonferroni-adjusted, always valid (for a violation)
    upper: float | None  # the distance's upper bound on that prefix


def spend(alpha: float, e: int) -> float:
    """The level of prefix ``e``: ``alpha * 6 / (pi^2 (e + 1)^2)``."""
    return alpha * 6.0 / (math.pi ** 2 * (e + 1) ** 2)


def prefix_decision(a: FloatArray, b: FloatArray, threshold: float, alpha: float,
                    min_n: int, seed: int) -> PrefixDecision:
    """Is ``JS(a, b) <= threshold``? Every doubling prefix both sides have is tested."""
    best_p: float | None = None
    last = PrefixDecision("wait", 0, None, None)
    e = 0
    while min_n * 2 ** e <= min(a.size, b.size):
        n = min_n * 2 ** e
        level = spend(alpha, e)
        ha = tuple(int(x) for x in score_histogram(a[:n]))
        hb = tuple(int(x) for x in score_histogram(b[:n]))
        p, observed, upper = _epoch(ha, hb, threshold, level, seed + e)
        if observed is None:
            break
        adjusted = min(1.0, p * alpha / level)
        best_p = adjusted if best_p is None else min(best_p, adjusted)
        if p < level and observed > threshold:
            return PrefixDecision("fail", n, best_p, None)
        if upper <= threshold:
            return PrefixDecision("pass", n, best_p, upper)
        last = PrefixDecision("wait", n, best_p, upper)
        e += 1
    return last


@functools.lru_cache(maxsize=4096)
def _epoch(ha: tuple[int, ...], hb: tuple[int, ...], threshold: float, level: float,
           seed: int) -> tuple[float, float | None, float]:
    """(permutation p, distance, bootstrap upper bound) of one prefix. A prefix's data
    never change, so a window judged every tick computes each prefix once (cached)."""
    a, b = np.asarray(ha, dtype=np.int64), np.asarray(hb, dtype=np.int64)
    observed = js_distance(a, b)
    if observed is None:
        return 1.0, None, math.inf
    rng = np.random.default_rng(seed)
    draws = max(1000, math.ceil(20.0 / level))
    # a test that cannot change the verdict is skipped: no failing below the threshold,
    # no passing above it
    p = permutation_p(a, b, observed, draws, rng) if observed > threshold else 1.0
    upper = bootstrap_upper(a, b, level, draws, rng) if observed <= threshold else math.inf
    return p, observed, upper


def _js_rows(pa: FloatArray, pb: FloatArray) -> FloatArray:
    m = (pa + pb) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_a = np.where(pa > 0, pa * np.log2(pa / m), 0.0).sum(axis=1)
        kl_b = np.where(pb > 0, pb * np.log2(pb / m), 0.0).sum(axis=1)
    out: FloatArray = np.sqrt(np.maximum(0.0, (kl_a + kl_b) / 2.0))
    return out


def permutation_p(ha: IntArray, hb: IntArray, observed: float, draws: int,
                  rng: np.random.Generator) -> float:
    """How often relabelling the pooled scores gives a distance at least as large.

    Each permutation's histogram of ``a`` is an exact multivariate hypergeometric draw
    from the pooled counts, so no scores need shuffling.
    """
    pooled = ha + hb
    na = int(ha.sum())
    hits = rng.multivariate_hypergeometric(pooled, na, size=draws)
    dist = _js_rows(hits / na, (pooled - hits) / (int(pooled.sum()) - na))
    return (1 + int(np.sum(dist >= observed - 1e-12))) / (1 + draws)


def bootstrap_upper(ha: IntArray, hb: IntArray, level: float, draws: int,
                    rng: np.random.Generator) -> float:
    """The ``1 - level`` quantile of the distance over multinomial resamples of both
    histograms (percentile bootstrap; the histogram distance is biased upwards in small
    samples, which only makes this bound more cautious)."""
    na, nb = int(ha.sum()), int(hb.sum())
    ra = rng.multinomial(na, ha / na, size=draws) / na
    rb = rng.multinomial(nb, hb / nb, size=draws) / nb
    return float(np.quantile(_js_rows(ra, rb), 1.0 - level))
