"""The statistical judge: does a candidate meet a check over a window?

Three outcomes. ``pass``: the point estimate meets the threshold. ``fail``: it does not,
and the violation is statistically significant at ``alpha``. ``wait``: too little data
for the metric (never a pass), or a violation that is not significant yet. Tests:

- error rate, accuracy: one-sided two-proportion z-test against ``factor * baseline +
  offset`` (relative; the larger of the Farrington-Manning and Agresti-Caffo variances;
  for a plain ``baseline`` Fisher's exact test, which holds its level when errors are
  rare) or an exact binomial test against the threshold (absolute);
- latency, relative: Mann-Whitney U, candidate greater than the baseline's latencies
  scaled the way the threshold is (``1.2 * baseline`` compares with 1.2 x each baseline
  latency); for quantiles also a quantile test (Fisher's exact test on the shares above
  the pooled quantile) that catches tail-only slowdowns, the two Bonferroni-combined;
- latency, absolute: a binomial test of the share over the threshold against the
  quantile's nominal share (p99 <= 300: do more than 1% exceed 300 ms?); a one-sample
  t-test for the mean;
- agreement: exact binomial test; mean_abs_diff: one-sample t-test;
  score_divergence: a permutation test of the score histograms (exact draws from the
  multivariate hypergeometric), since small samples inflate the distance.

>>> import numpy as np
>>> from rampup.rollout.window import WindowStats
>>> cand = WindowStats("v2", requests=400, errors=80, latencies_ms=np.full(400, 10.0))
>>> base = WindowStats("v1", requests=4000, errors=40, latencies_ms=np.full(4000, 10.0))
>>> r = evaluate("error_rate <= 1.5 * baseline", cand, base)
>>> r.verdict, r.value, r.baseline_value, r.threshold, r.p_value < 1e-9
('fail', 0.2, 0.01, 0.015, True)
>>> evaluate("error_rate <= 0.5", cand, base).verdict
'pass'
>>> r = evaluate("error_rate <= 0.01", WindowStats("v2", requests=20, errors=0), None)
>>> r.verdict, r.reason
('wait', 'not enough data: 20 of 100 predictions for the candidate')
>>> judge_all(["error_rate <= 0.5", "requests >= 1000"], cand, base).verdict
'wait'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rampup.rollout.agreement import js_distance, score_histogram
from rampup.rollout.checks import LATENCY_QUANTILES, Check, parse_check
from rampup.rollout.window import PairedStats, WindowStats

Verdict = Literal["pass", "fail", "wait"]
FloatArray = npt.NDArray[np.float64]
PERMUTATIONS = 1000


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check with what it was based on (kept with the rollout)."""

    check_text: str
    verdict: Verdict
    value: float | None
    baseline_value: float | None
    threshold: float | None
    p_value: float | None
    n: int
    n_baseline: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check_text, "verdict": self.verdict, "value": self.value,
                "baseline_value": self.baseline_value, "threshold": self.threshold,
                "p_value": self.p_value, "n": self.n, "n_baseline": self.n_baseline,
                "reason": self.reason}


@dataclass(frozen=True)
class StepVerdict:
    """All checks of a step: any fail fails, else any wait waits, else it passes."""

    verdict: Verdict
    results: tuple[CheckResult, ...]

    @property
    def reasons(self) -> list[str]:
        """``check: reason`` for each check that did not pass."""
        return [f"{r.check_text}: {r.reason}" for r in self.results if r.verdict != "pass"]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "results": [r.to_dict() for r in self.results]}


def judge_all(checks: Sequence[Check | str], candidate: WindowStats,
              baseline: WindowStats | None, paired: PairedStats | None = None, *,
              alpha: float = 0.05, min_requests: int = 100, min_labelled: int = 50,
              seed: int = 0) -> StepVerdict:
    results = tuple(evaluate(c, candidate, baseline, paired, alpha=alpha,
                             min_requests=min_requests, min_labelled=min_labelled, seed=seed)
                    for c in checks)
    verdicts = {r.verdict for r in results}
    verdict: Verdict = "fail" if "fail" in verdicts else "wait" if "wait" in verdicts \
        else "pass"
    return StepVerdict(verdict, results)


def evaluate(check: Check | str, candidate: WindowStats, baseline: WindowStats | None,
             paired: PairedStats | None = None, *, alpha: float = 0.05,
             min_requests: int = 100, min_labelled: int = 50, seed: int = 0) -> CheckResult:
    """Judge one check; ``seed`` fixes the permutation test of ``score_divergence``."""
    c = parse_check(check) if isinstance(check, str) else check
    j = _Judge(c, candidate, baseline, paired, alpha, min_requests, min_labelled, seed)
    m = c.metric
    if m == "requests":
        return j.requests()
    if m in ("error_rate", "accuracy"):
        return j.proportion()
    if m in LATENCY_QUANTILES or m == "latency_mean":
        return j.latency()
    if m == "agreement":
        return j.agreement()
    if m == "mean_abs_diff":
        return j.mean_abs_diff()
    return j.divergence()


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class _Judge:
    c: Check
    cand: WindowStats
    base: WindowStats | None
    paired: PairedStats | None
    alpha: float
    min_requests: int
    min_labelled: int
    seed: int

    # -- shared shape --------------------------------------------------------------------

    def result(self, verdict: Verdict, reason: str, *, value: float | None = None,
               baseline_value: float | None = None, threshold: float | None = None,
               p_value: float | None = None, n: int = 0,
               n_baseline: int | None = None) -> CheckResult:
        return CheckResult(self.c.text, verdict, value, baseline_value, threshold, p_value,
                           n, n_baseline, reason)

    def wait_for_data(self, have: int, need: int, what: str, who: str = "candidate",
                      **kw: Any) -> CheckResult:
        kw.setdefault("n", have)
        return self.result("wait", f"not enough data: {have} of {need} {what} for the {who}",
                           **kw)

    def decide(self, value: float, threshold: float, p_value: Callable[[], float | None],
               **kw: Any) -> CheckResult:
        """Pass on the point estimate; fail only on a significant violation."""
        kw.update(value=value, threshold=threshold)
        c = self.c
        if c.satisfied(value, threshold):
            return self.result("pass", f"{c.metric} {_fmt(value)} {c.op} {_fmt(threshold)}",
                               **kw)
        p = p_value()
        shown = f"{c.metric} {_fmt(value)} is not {c.op} {_fmt(threshold)}"
        if p is None:
            return self.result("wait", f"violation not significant yet: {shown} (no test "
                                       f"for this form; it can only wait)", **kw)
        p = min(1.0, max(0.0, float(p)))
        if p < self.alpha:
            return self.result("fail", f"{shown} (p = {p:.3g} < {self.alpha:g})",
                               p_value=p, **kw)
        return self.result("wait", f"violation not significant yet: {shown} "
                                   f"(p = {p:.3g} >= {self.alpha:g})", p_value=p, **kw)

    # -- metrics -------------------------------------------------------------------------

    def requests(self) -> CheckResult:
        c, n = self.c, self.cand.requests
        n_b = None if self.base is None else self.base.requests
        if c.relative and n_b is None:
            return self.result("wait", "no baseline window to compare with", n=n)
        t = c.resolve(None if n_b is None else float(n_b))
        kw: dict[str, Any] = {"value": float(n), "threshold": t, "n": n, "n_baseline": n_b,
                              "baseline_value": None if n_b is None else float(n_b)}
        if c.satisfied(n, t):
            return self.result("pass", f"{n} predictions {c.op} {_fmt(t)}", **kw)
        if c.direction == "lower":
            return self.result("wait", f"not enough data: {n} predictions, the check "
                                       f"needs {c.op} {_fmt(t)}", **kw)
        return self.result("fail", f"{n} predictions is not {c.op} {_fmt(t)}", **kw)

    def proportion(self) -> CheckResult:
        c, cand, base = self.c, self.cand, self.base
        if c.metric == "error_rate":
            k, n, need, what = cand.errors, cand.requests, self.min_requests, "predictions"
            kb, nb = (base.errors, base.requests) if base is not None else (0, 0)
        else:
            k, n, need, what = cand.correct, cand.labelled, self.min_labelled, \
                "labelled predictions"
            kb, nb = (base.correct, base.labelled) if base is not None else (0, 0)
        p_b = kb / nb if nb else None
        kw: dict[str, Any] = {"n_baseline": nb if base is not None else None,
                              "baseline_value": p_b}
        if n < need:
            return self.wait_for_data(n, need, what, **kw)
        value = k / n
        if not c.relative:
            t = c.resolve(None)
            return self.decide(value, t, lambda: _binom_p(k, n, t, c.direction), n=n, **kw)
        if base is None:
            return self.result("wait", "no baseline window to compare with", value=value,
                               n=n)
        if nb < need:
            return self.wait_for_data(nb, need, what, "baseline", value=value, n=n, **kw)
        assert p_b is not None
        t = c.resolve(p_b)
        return self.decide(value, t, lambda: _two_proportion_p(
            k, n, kb, nb, c.factor, c.offset, c.direction), n=n, **kw)

    def latency(self) -> CheckResult:
        c, cand, base = self.c, self.cand, self.base
        q = LATENCY_QUANTILES.get(c.metric)

        def stat(w: WindowStats) -> float | None:
            return w.latency(q) if q is not None else w.latency_mean

        x = cand.latencies_ms
        n = int(x.size)
        y = base.latencies_ms if base is not None else np.empty(0)
        kw: dict[str, Any] = {"n_baseline": int(y.size) if base is not None else None,
                              "baseline_value": stat(base) if base is not None else None}
        if n < self.min_requests:
            return self.wait_for_data(n, self.min_requests, "latencies", **kw)
        value = stat(cand)
        assert value is not None
        upper = c.direction == "upper"
        if not c.relative:
            t = c.resolve(None)
            return self.decide(value, t, lambda: _absolute_latency_p(x, t, q, upper),
                               n=n, **kw)
        if base is None:
            return self.result("wait", "no baseline window to compare with", value=value,
                               n=n)
        if y.size < self.min_requests:
            return self.wait_for_data(int(y.size), self.min_requests, "latencies",
                                      "baseline", value=value, n=n, **kw)
        t = c.resolve(kw["baseline_value"])
        scaled = c.factor * y + c.offset
        return self.decide(value, t, lambda: _relative_latency_p(x, scaled, q, upper),
                           n=n, **kw)

    def agreement(self) -> CheckResult:
        c, pr = self.c, self.paired
        if pr is None:
            return self.result("wait", "agreement needs the candidate in shadow next to "
                                       "the primary; no paired requests in this window")
        need = self.min_labelled if pr.human else self.min_requests
        acc = pr.agreement()
        n, k = acc.n, acc.agreed
        if n < need:
            what = "human decisions paired with shadow predictions" if pr.human else \
                "paired requests"
            return self.wait_for_data(n, need, what)
        t = c.resolve(None)
        return self.decide(k / n, t, lambda: _binom_p(k, n, t, c.direction), n=n)

    def mean_abs_diff(self) -> CheckResult:
        c, pr = self.c, self.paired
        if pr is None:
            return self.result("wait", "mean_abs_diff needs the candidate in shadow next to "
                                       "the primary; no paired requests in this window")
        d = pr.abs_diffs()
        if d.size < self.min_requests:
            return self.wait_for_data(int(d.size), self.min_requests,
                                      "paired numeric outputs")
        t = c.resolve(None)
        return self.decide(float(d.mean()), t,
                           lambda: _mean_p(d, t, c.direction == "upper"), n=int(d.size))

    def divergence(self) -> CheckResult:
        c, pr = self.c, self.paired
        if pr is not None and pr.n:
            a, b = pr.candidate_scores, pr.primary_scores
            who = "primary"
        elif self.base is not None:
            a, b = self.cand.scores, self.base.scores
            who = "baseline"
        else:
            return self.result("wait", "score_divergence needs the primary's scores (shadow "
                                       "pairs) or a baseline window")
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        kw: dict[str, Any] = {"n_baseline": int(b.size)}
        if a.size < self.min_requests:
            return self.wait_for_data(int(a.size), self.min_requests, "scores", **kw)
        if b.size < self.min_requests:
            return self.wait_for_data(int(b.size), self.min_requests, "scores", who,
                                      n=int(a.size), **kw)
        ha, hb = score_histogram(a), score_histogram(b)
        value = js_distance(ha, hb)
        assert value is not None
        t = c.resolve(None)
        test = (lambda: _permutation_p(ha, hb, value, self.seed)) if c.direction == "upper" \
            else (lambda: None)
        return self.decide(value, t, test, n=int(a.size), **kw)


# -- tests (each returns the p-value of "the violation is real") ---------------------------

def _binom_p(k: int, n: int, t: float, direction: str) -> float:
    """Exact one-sided binomial test of H1: p > t (upper) or p < t (lower)."""
    from scipy.stats import binomtest

    if direction == "upper":
        if t >= 1.0:
            return 1.0
        if t <= 0.0:
            return 0.0 if k > 0 else 1.0
        return float(binomtest(k, n, t, alternative="greater").pvalue)
    if t <= 0.0:
        return 1.0
    if t >= 1.0:
        return 0.0 if k < n else 1.0
    return float(binomtest(k, n, t, alternative="less").pvalue)


def _two_proportion_p(k: int, n: int, kb: int, nb: int, factor: float, offset: float,
                      direction: str) -> float:
    """One-sided z-test of H1: p_c > factor * p_b + offset (upper) or < (lower)."""
    from scipy.stats import fisher_exact, norm

    if factor == 1.0 and offset == 0.0:
        # H0 is p_c == p_b: the exact test conditional on the pooled count; the z-test
        # fails too often when errors are rare (a 1% rate in 200 requests is 2 errors).
        table = [[k, n - k], [kb, nb - kb]]
        alt = "greater" if direction == "upper" else "less"
        return float(fisher_exact(table, alternative=alt).pvalue)
    diff = k / n - factor * (kb / nb) - offset
    # A margin: the variance is taken at the most likely rates on the boundary of H0,
    # p_c = factor * p_b + offset (Farrington-Manning), which holds the test's level.
    # Both approximations drift above alpha in different corners (rare events, ratios),
    # so the larger p-value decides: a false rollback costs more than a slower one.
    pb = _restricted_mle(k, n, kb, nb, factor, offset)
    if pb is None:
        return 0.0 if (diff > 0 if direction == "upper" else diff < 0) else 1.0
    pc = factor * pb + offset
    var_fm = pc * (1 - pc) / n + factor ** 2 * pb * (1 - pb) / nb
    # Agresti-Caffo: add one success and one failure to each group.
    ac, bc = (k + 1) / (n + 2), (kb + 1) / (nb + 2)
    var_ac = ac * (1 - ac) / (n + 2) + factor ** 2 * bc * (1 - bc) / (nb + 2)
    z = diff / math.sqrt(max(var_fm, var_ac, 1e-300))
    return float(norm.sf(z) if direction == "upper" else norm.cdf(z))


def _restricted_mle(k: int, n: int, kb: int, nb: int, factor: float,
                    offset: float) -> float | None:
    """The baseline rate maximising the likelihood subject to p_c = factor * p_b + offset;
    None when no rates in (0, 1) satisfy the constraint."""
    from scipy.optimize import minimize_scalar

    eps = 1e-9
    lo = max(eps, (eps - offset) / factor)
    hi = min(1.0 - eps, (1.0 - eps - offset) / factor)
    if lo >= hi:
        return None

    def nll(pb: float) -> float:
        pc = factor * pb + offset
        return -(k * math.log(pc) + (n - k) * math.log1p(-pc)
                 + kb * math.log(pb) + (nb - kb) * math.log1p(-pb))

    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-10})
    return float(res.x)


def _absolute_latency_p(x: FloatArray, t: float, q: float | None, upper: bool) -> float:
    from scipy.stats import binomtest

    if q is None:
        return _mean_p(x, t, upper)
    over = int(np.sum(x > t)) if upper else int(np.sum(x < t))
    nominal = 1.0 - q if upper else q  # the share allowed past the threshold
    return float(binomtest(over, int(x.size), nominal, alternative="greater").pvalue)


def _relative_latency_p(x: FloatArray, y: FloatArray, q: float | None,
                        upper: bool) -> float:
    """Is the candidate ``x`` slower than the scaled baseline ``y`` (faster when lower)?"""
    from scipy.stats import fisher_exact, mannwhitneyu

    if not upper:  # mirror the problem: "faster than" becomes "slower than"
        x, y, q = -x, -y, None if q is None else 1.0 - q
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    p_shift = float(mannwhitneyu(x, y, alternative="greater").pvalue)
    if q is None:
        return p_shift
    cut = float(np.quantile(np.concatenate([x, y]), q))
    a, b = int(np.sum(x > cut)), int(np.sum(y > cut))
    table = [[a, int(x.size) - a], [b, int(y.size) - b]]
    p_tail = float(fisher_exact(table, alternative="greater").pvalue)
    return min(1.0, 2.0 * min(p_shift, p_tail))


def _mean_p(x: FloatArray, t: float, upper: bool) -> float:
    """One-sample t-test of H1: mean > t (upper) or mean < t."""
    from scipy.stats import ttest_1samp

    mean = float(x.mean())
    if float(x.std()) == 0.0:
        return 0.0 if (mean > t if upper else mean < t) else 1.0
    alt = "greater" if upper else "less"
    return float(ttest_1samp(x, t, alternative=alt).pvalue)


def _permutation_p(ha: npt.NDArray[np.int64], hb: npt.NDArray[np.int64], observed: float,
                   seed: int) -> float:
    """How often relabelling the pooled scores gives a distance at least as large.

    Each permutation's histogram of ``a`` is an exact multivariate hypergeometric draw
    from the pooled counts, so no scores need shuffling.
    """
    rng = np.random.default_rng(seed)
    pooled = ha + hb
    na = int(ha.sum())
    draws = rng.multivariate_hypergeometric(pooled, na, size=PERMUTATIONS)
    pa = draws / na
    pb = (pooled - draws) / (int(pooled.sum()) - na)
    m = (pa + pb) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_a = np.where(pa > 0, pa * np.log2(pa / m), 0.0).sum(axis=1)
        kl_b = np.where(pb > 0, pb * np.log2(pb / m), 0.0).sum(axis=1)
    dist = np.sqrt(np.maximum(0.0, (kl_a + kl_b) / 2.0))
    hits = int(np.sum(dist >= observed - 1e-12))
    return (1 + hits) / (1 + PERMUTATIONS)
