"""Rollout checks on task metrics: ``wer <= baseline + 0.01``, ``ndcg_at_10 >= 0.4``,
``map_50 >= baseline - 0.02``.

The window holds each labelled prediction with its label; the metric's family
(:func:`rampup.tasks.family.family_of_metric`) turns them into per-row numerators and
denominators, and the metric is their ratio of sums (corpus WER, MRR ...). Like every
check (:mod:`rampup.rollout.judge`), it passes or fails only when an always-valid
interval for ``metric - threshold`` is on one side: the normal-mixture confidence
sequence of :mod:`rampup.rollout.sequential` around the ratio estimator, its variance by
the delta method, ``var(R) = sum((num - R den)^2) / (sum den)^2`` (per window, candidate
and baseline independent). Detection mAP pools a window's images; its interval is a
bootstrap over images (``POOLED_RESAMPLES`` draws, seeded by the judge's seed) at
``alpha / 10`` — an approximation without the always-valid guarantee.

>>> import numpy as np
>>> from rampup.rollout.window import WindowStats
>>> refs = np.array(["call mom"] * 60, dtype=object)
>>> good = WindowStats("v1", labelled=60, labelled_outputs=refs.copy(), labels=refs)
>>> bad = WindowStats("v2", labelled=60, labels=refs,
...                   labelled_outputs=np.array(["call tom"] * 60, dtype=object))
>>> from rampup.rollout.judge import evaluate
>>> r = evaluate("wer <= baseline + 0.01", bad, good)
>>> r.verdict, r.value, r.baseline_value
('fail', 0.5, 0.0)
>>> evaluate("wer <= baseline + 0.01", good, good).verdict
'pass'
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from rampup.rollout.sequential import Interval, difference_cs
from rampup.tasks.family import family_of_metric, ratio

if TYPE_CHECKING:
    from rampup.rollout.checks import Check
    from rampup.rollout.verdicts import CheckResult, Verdict
    from rampup.rollout.window import WindowStats

FloatArray = npt.NDArray[np.float64]
POOLED_RESAMPLES = 200


def _ratio_var(num: FloatArray, den: FloatArray) -> float:
    d = float(den.sum())
    if d <= 0:
        return math.inf
    r = float(num.sum()) / d
    return float(((num - r * den) ** 2).sum()) / d ** 2


def _bootstrap(w: WindowStats, metric: str, rng: np.random.Generator) -> FloatArray:
    fam = family_of_metric(metric)
    labels, outs = list(w.labels), list(w.labelled_outputs)
    n = len(labels)
    vals = [fam.pooled_value(labels, outs, rng.integers(0, n, n))
            for _ in range(POOLED_RESAMPLES)]
    return np.asarray(vals, dtype=np.float64)


class CheckJudge(Protocol):
    """What a task check needs from the judge judging it (:class:`rampup.rollout.judge.
    _Judge`): the check, its settings and the shared shapes of a result."""

    c: Check
    alpha: float
    min_labelled: int
    seed: int

    def result(self, verdict: Verdict, reason: str, *, value: float | None = None,
               baseline_value: float | None = None, threshold: float | None = None,
               p_value: float | None = None, n: int = 0, n_baseline: int | None = None,
               margin: Interval | None = None) -> CheckResult: ...

    def wait_for_data(self, have: int, need: int, what: str, who: str = "candidate",
                      **kw: Any) -> CheckResult: ...

    def decide(self, value: float, threshold: float, margin: Interval,
               **kw: Any) -> CheckResult: ...


def judge_task(j: CheckJudge, cand: WindowStats, base: WindowStats | None) -> CheckResult:
    """Judge a check on a task metric (see the module docstring)."""
    c = j.c
    m = c.metric
    fam = family_of_metric(m)
    need = j.min_labelled
    nb = base.labelled if base is not None else None
    if cand.labelled < need:
        return j.wait_for_data(cand.labelled, need, "labelled predictions", n_baseline=nb)
    pooled = m in fam.pooled
    if pooled:
        value = fam.pooled_value(list(cand.labels), list(cand.labelled_outputs))
        var = None
    else:
        parts = cand.task_parts(m)
        assert parts is not None
        value, var = ratio(*parts), _ratio_var(*parts)
    kw: dict[str, Any] = {"n": cand.labelled, "n_baseline": nb}
    if math.isnan(value):
        return j.result("wait", f"{m} is undefined on these labels (no reference words, "
                                "relevant items or objects)", **kw)
    b_value = b_var = None
    if c.relative:
        if base is None:
            return j.result("wait", "no baseline window to compare with", value=value, **kw)
        if base.labelled < need:
            return j.wait_for_data(base.labelled, need, "labelled predictions", "baseline",
                                   value=value, **kw)
        if pooled:
            b_value = fam.pooled_value(list(base.labels), list(base.labelled_outputs))
        else:
            b_parts = base.task_parts(m)
            assert b_parts is not None
            b_value, b_var = ratio(*b_parts), _ratio_var(*b_parts)
        kw["baseline_value"] = b_value
    t = c.resolve(b_value)
    if pooled:
        rng = np.random.default_rng(j.seed)
        diffs = _bootstrap(cand, m, rng)
        if c.relative and base is not None:
            diffs = diffs - c.factor * _bootstrap(base, m, rng) - c.offset
        else:
            diffs = diffs - t
        diffs = diffs[np.isfinite(diffs)]
        if not diffs.size:
            return j.result("wait", f"{m}: no finite bootstrap resample yet", value=value,
                            threshold=t, **kw)
        # an approximation, not always valid: a percentile interval at alpha / 10
        level = j.alpha / 10.0
        margin = Interval(float(np.quantile(diffs, level / 2)),
                          float(np.quantile(diffs, 1 - level / 2)))
    else:
        assert var is not None
        n = cand.labelled
        if c.relative and base is not None and b_value is not None and b_var is not None:
            margin = difference_cs(value, var * n, n, b_value, b_var * base.labelled,
                                   base.labelled, j.alpha, factor=c.factor, offset=c.offset)
        else:
            margin = difference_cs(value, var * n, n, t, 0.0, 1, j.alpha)
    return j.decide(value, t, margin, **kw)
