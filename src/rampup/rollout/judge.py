"""The statistical judge: does a candidate meet a check over a window?

The controller asks at every tick (2 s) over the step's growing window, hundreds of times
per step, so every check is judged on a **confidence sequence** (CS,
:mod:`rampup.rollout.sequential`): an interval for ``metric - threshold`` (the *margin*)
that covers the truth at every look at once with probability ``1 - alpha``. Three
outcomes, each with its meaning under continuous monitoring:

- ``pass``: the whole CS is on the satisfied side (``<=``: margin upper bound <= 0). A
  check that is in truth violated passes at *any* tick with probability <= ``alpha``.
  Never on a point estimate alone.
- ``fail``: the whole CS is on the violated side (``<=``: margin lower bound > 0). A
  check that in truth holds fails at any tick with probability <= ``alpha``.
- ``wait``: too little data for the metric (``not enough data``), or a CS that still
  contains the threshold (``not conclusive yet``). A candidate exactly at its threshold
  (``error_rate <= baseline`` for an identical version) waits for ever: give checks a
  margin (``baseline + 0.01``, ``1.2 * baseline``) or a ``max_duration_s``.

Methods (``alpha`` two-sided; relative checks put ``alpha / 2`` on each version where
two intervals are combined):

- error rate, accuracy, agreement against a number: the exact beta-binomial mixture CS
  (Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon 2021, Ann. Statist.);
- error rate, accuracy against a baseline; latency means; mean_abs_diff: the
  normal-mixture boundary with plug-in variances, i.e. the asymptotic CS of
  Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2021), on the difference
  ``candidate - (factor * baseline + offset)`` (shares smoothed as (k+1)/(n+2) for the
  variance, so rare errors do not look certain);
- latency quantiles: the quantile CS of Howard & Ramdas (2022, "Sequential estimation of
  quantiles with applications to A/B-testing and best-arm identification"): against a
  number directly; against a baseline, the candidate's CS against the threshold that
  the baseline's CS allows (``1.2 * [lower, upper]``), each at ``alpha / 2``;
- score_divergence: tests on doubling prefixes with alpha spending
  (:mod:`rampup.rollout.divergence`).

``p_value`` is the always-valid p-value of "the metric equals its threshold" where the
method has one (None otherwise): it may be looked at every tick too.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.rollout.checks import LATENCY_QUANTILES, TASK_METRICS, Check, parse_check
from rampup.rollout.divergence import prefix_decision
from rampup.rollout.sequential import (
    Interval,
    bernoulli_cs,
    difference_cs,
    mean_cs,
    quantile_cs,
)
from rampup.rollout.verdicts import CheckResult, Verdict
from rampup.rollout.window import PairedStats, WindowStats

FloatArray = npt.NDArray[np.float64]


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
    """Judge every check of a step (each at ``alpha``; see the module docstring)."""
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
    """Judge one check; ``seed`` fixes the resampling of ``score_divergence``."""
    c = parse_check(check) if isinstance(check, str) else check
    # An empty window has nothing to judge: a plan's minimum of 0 still waits for one
    # observation (it would otherwise divide by zero on every tick).
    j = _Judge(c, candidate, baseline, paired, alpha, max(1, min_requests),
               max(1, min_labelled), seed)
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
    if m in TASK_METRICS or "_at_" in m:
        from rampup.rollout.task_checks import judge_task

        return judge_task(j, candidate, baseline)
    return j.divergence()


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _var(k: int, n: int) -> float:
    """A share's per-observation variance, smoothed so 0 of n is not certainty."""
    p = (k + 1) / (n + 2)
    return p * (1.0 - p)


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
               p_value: float | None = None, n: int = 0, n_baseline: int | None = None,
               margin: Interval | None = None) -> CheckResult:
        return CheckResult(self.c.text, verdict, value, baseline_value, threshold, p_value,
                           n, n_baseline, reason,
                           None if margin is None else margin.lower,
                           None if margin is None else margin.upper)

    def wait_for_data(self, have: int, need: int, what: str, who: str = "candidate",
                      **kw: Any) -> CheckResult:
        kw.setdefault("n", have)
        return self.result("wait", f"not enough data: {have} of {need} {what} for the {who}",
                           **kw)

    def decide(self, value: float, threshold: float, margin: Interval,
               **kw: Any) -> CheckResult:
        """Pass or fail only when the whole margin interval says so; else wait."""
        c = self.c
        kw.update(value=value, threshold=threshold, margin=margin)
        conf = f"{1 - self.alpha:.0%}"
        lo, hi = margin.lower, margin.upper
        shown = f"[{_fmt(lo + threshold)}, {_fmt(hi + threshold)}]"  # of the metric
        p = margin.p_value
        if p is not None:
            kw["p_value"] = p
        p_text = "" if p is None else f", always-valid p = {p:.3g}"
        if c.direction == "upper":
            failed, passed = lo > 0, (hi <= 0 if c.op == "<=" else hi < 0)
        else:
            failed, passed = hi < 0, (lo >= 0 if c.op == ">=" else lo > 0)
        if failed:
            return self.result("fail", f"{c.metric} {_fmt(value)} is not {c.op} "
                                       f"{_fmt(threshold)} with {conf} confidence (its "
                                       f"always-valid interval {shown}{p_text})", **kw)
        if passed:
            return self.result("pass", f"{c.metric} {_fmt(value)} {c.op} {_fmt(threshold)} "
                                       f"with {conf} confidence (interval {shown})", **kw)
        return self.result("wait", f"not conclusive yet: {c.metric} {_fmt(value)}, its "
                                   f"{conf} always-valid interval {shown} still includes "
                                   f"the threshold {_fmt(threshold)}{p_text}", **kw)

    # -- metrics -------------------------------------------------------------------------

    def requests(self) -> CheckResult:
        c, n = self.c, self.cand.requests
        n_b = None if self.base is None else self.base.requests
        if c.relative and n_b is None:
            return self.result("wait", "no baseline window to compare with", n=n)
        t = c.resolve(None if n_b is None else float(n_b))
        kw: dict[str, Any] = {"value": float(n), "threshold": t, "n": n, "n_baseline": n_b,
                              "baseline_value": None if n_b is None else float(n_b)}
        if c.satisfied(n, t):  # a count, not an estimate: no interval needed
            return self.result("pass", f"{n} predictions {c.op} {_fmt(t)}", **kw)
        if c.direction == "lower":
            return self.result("wait", f"not enough data: {n} predictions, the check "
                                       f"needs {c.op} {_fmt(t)}", **kw)
        return self.result("fail", f"{n} predictions is not {c.op} {_fmt(t)}", **kw)

    def share(self, k: int, n: int, t: float) -> Interval:
        """The margin interval of a share against a number (exact mixture CS)."""
        iv = bernoulli_cs(k, n, self.alpha, center=t, reference=t)
        return Interval(iv.lower - t, iv.upper - t, iv.p_value)

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
            return self.decide(value, t, self.share(k, n, t), n=n, **kw)
        if base is None:
            return self.result("wait", "no baseline window to compare with", value=value,
                               n=n)
        if nb < need:
            return self.wait_for_data(nb, need, what, "baseline", value=value, n=n, **kw)
        assert p_b is not None
        t = c.resolve(p_b)
        margin = difference_cs(value, _var(k, n), n, p_b, _var(kb, nb), nb, self.alpha,
                               factor=c.factor, offset=c.offset)
        return self.decide(value, t, margin, n=n, **kw)

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
        if not c.relative:
            t = c.resolve(None)
            if q is None:
                iv = mean_cs(x, self.alpha, reference=t)
            else:
                iv = quantile_cs(x, q, self.alpha)
                over = int(np.sum(x > t))  # the p-value: is the share over t 1 - q?
                iv = Interval(iv.lower, iv.upper,
                              bernoulli_cs(over, n, self.alpha, center=1 - q,
                                           reference=1 - q).p_value)
            return self.decide(value, t, Interval(iv.lower - t, iv.upper - t, iv.p_value),
                               n=n, **kw)
        if base is None:
            return self.result("wait", "no baseline window to compare with", value=value,
                               n=n)
        if y.size < self.min_requests:
            return self.wait_for_data(int(y.size), self.min_requests, "latencies",
                                      "baseline", value=value, n=n, **kw)
        t = c.resolve(kw["baseline_value"])
        if q is None:
            margin = difference_cs(float(x.mean()), float(x.var(ddof=1)), n,
                                   float(y.mean()), float(y.var(ddof=1)), int(y.size),
                                   self.alpha, factor=c.factor, offset=c.offset)
        else:
            half = self.alpha / 2.0
            cx, cy = quantile_cs(x, q, half), quantile_cs(y, q, half)
            margin = Interval(cx.lower - (c.factor * cy.upper + c.offset),
                              cx.upper - (c.factor * cy.lower + c.offset))
        return self.decide(value, t, margin, n=n, **kw)

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
        return self.decide(k / n, t, self.share(k, n, t), n=n)

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
        iv = mean_cs(d, self.alpha, reference=t)
        return self.decide(float(d.mean()), t,
                           Interval(iv.lower - t, iv.upper - t, iv.p_value), n=int(d.size))

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
        from rampup.rollout.agreement import js_distance, score_histogram

        value = js_distance(score_histogram(a), score_histogram(b))
        assert value is not None
        t = c.resolve(None)
        kw.update(value=value, threshold=t, n=int(a.size))
        if c.direction == "lower":
            return self.result("wait", f"{c.metric} {_fmt(value)}: no always-valid test "
                                       f"of 'at least this different' exists here; it can "
                                       f"only wait", **kw)
        d = prefix_decision(a, b, t, self.alpha, self.min_requests, self.seed)
        kw["p_value"] = d.p_value
        conf = f"{1 - self.alpha:.0%}"
        if d.verdict == "fail":
            return self.result("fail", f"{c.metric} {_fmt(value)} is not {c.op} {_fmt(t)} "
                                       f"with {conf} confidence (first {d.n} scores, "
                                       f"always-valid p = {d.p_value:.3g})", **kw)
        if d.verdict == "pass":
            return self.result("pass", f"{c.metric} {c.op} {_fmt(t)} with {conf} confidence "
                                       f"(upper bound {_fmt(d.upper or 0.0)} on the first "
                                       f"{d.n} scores)", **kw)
        return self.result("wait", f"not conclusive yet: {c.metric} {_fmt(value)} against "
                                   f"{_fmt(t)} (tested on doubling prefixes of the scores)",
                           **kw)
