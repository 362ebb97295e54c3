"""Rollout checks on task metrics: ``wer <= baseline + 0.01``, ``ndcg_at_10 >= 0.4``,
``map_50 >= baseline - 0.02``.

The window holds each labelled prediction with its label; the metric's family
(:func:`rampup.tasks.family.family_of_metric`) turns them into per-row numerators and
denominators, and the metric is their ratio of sums (corpus WER, MRR ...). A violation
is judged with a one-sided z-test on the ratio estimator, its variance by the delta
method, ``var(R) = sum((num - R den)^2) / (sum den)^2`` (per window, candidate and
baseline independent). Detection mAP pools a window's images; its violation is judged
by a bootstrap over images (``POOLED_RESAMPLES`` draws, seeded by the judge's seed).

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
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rampup.tasks.family import family_of_metric, ratio

if TYPE_CHECKING:
    from rampup.rollout.judge import CheckResult, _Judge
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


def judge_task(j: _Judge, cand: WindowStats, base: WindowStats | None) -> CheckResult:
    """Judge a check on a task metric (see the module docstring)."""
    from scipy.stats import norm

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
    upper = c.direction == "upper"

    def p_value() -> float | None:
        if pooled:
            rng = np.random.default_rng(j.seed)
            diffs = _bootstrap(cand, m, rng)
            if c.relative and base is not None:
                diffs = diffs - c.factor * _bootstrap(base, m, rng) - c.offset
            else:
                diffs = diffs - t
            diffs = diffs[np.isfinite(diffs)]
            if not diffs.size:
                return None
            # share of resamples on the allowed side: a bootstrap p-value of the violation
            return float(np.mean(diffs <= 0) if upper else np.mean(diffs >= 0))
        assert var is not None
        total = var + (c.factor ** 2 * b_var if b_var is not None else 0.0)
        diff = value - t
        if total <= 0:
            return 0.0 if (diff > 0 if upper else diff < 0) else 1.0
        z = diff / math.sqrt(total)
        return float(norm.sf(z) if upper else norm.cdf(z))

    return j.decide(value, t, p_value, **kw)
