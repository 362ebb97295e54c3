"""Champion vs challenger on the same rows: metric deltas with paired-bootstrap
intervals, McNemar's test, per-slice deltas and the examples where they disagree.

Classification deltas resample the joint counts of (truth, champion's prediction,
challenger's prediction), overall and per slice: one multinomial draw moves both
models together, which is exactly a paired row bootstrap. Score metrics and
regression metrics resample rows with shared weights.

>>> y = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
>>> a = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0]
>>> b = [1, 1, 0, 1, 0, 0, 0, 0, 1, 0]
>>> c = compare(y, a, b, metrics=("accuracy",), bootstrap=200, seed=0)
>>> d = c.deltas[0]
>>> d.champion, d.challenger, round(d.delta, 3)
(0.7, 0.9, 0.2)
>>> c.mcnemar.only_champion, c.mcnemar.only_challenger, c.mcnemar.method, c.mcnemar.p_value
(0, 2, 'exact', 0.5)
>>> c.disagreements["outcome"].tolist()
['challenger right', 'challenger right']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from rampup.analysis.bootstrap import (
    check_ci,
    percentile_interval,
    resample_counts,
    rng_from,
    weight_chunks,
)
from rampup.analysis.confusion import check_metric, encode, metric_values, positive_index
from rampup.analysis.groupings import Grouping, as_groupings
from rampup.analysis.metrics import higher_is_better, sorted_classes
from rampup.analysis.regression import REGRESSION_METRICS, as_float
from rampup.analysis.scores import check_scores
from rampup.analysis.slices import (
    SCORE_METRICS,
    atom_counts,
    score_values,
    to_slices,
    weighted_regression,
)
from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer rows than this have one model right."""


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on the rows exactly one model gets right."""

    only_champion: int
    only_challenger: int
    statistic: float
    p_value: float
    method: str  # "exact" (binomial) or "chi2" (with continuity correction)


def mcnemar(only_champion: int, only_challenger: int, *, exact: bool | None = None,
            correction: bool = True) -> McNemar:
    """McNemar's test from the two discordant counts.

    Exact: two-sided binomial test of ``min(b, c)`` in ``b + c`` trials at 1/2 (the
    statistic is ``min(b, c)``, as in statsmodels). Chi-square: ``(|b - c| - 1)² / (b + c)``
    with one degree of freedom (without ``correction``, no ``- 1``). ``exact=None``
    chooses exact below :data:`EXACT_BELOW` discordant rows.

    >>> m = mcnemar(10, 25, exact=False)
    >>> round(m.statistic, 4), round(m.p_value, 4)
    (5.6, 0.018)
    """
    b, c = int(only_champion), int(only_challenger)
    n = b + c
    if exact is None:
        exact = n < EXACT_BELOW
    if n == 0:
        return McNemar(b, c, 0.0, 1.0, "exact" if exact else "chi2")
    if exact:
        p = float(stats.binomtest(min(b, c), n, 0.5).pvalue)
        return McNemar(b, c, float(min(b, c)), min(p, 1.0), "exact")
    diff = abs(b - c) - (1 if correction else 0)
    stat = max(diff, 0) ** 2 / n
    return McNemar(b, c, float(stat), float(stats.chi2.sf(stat, 1)), "chi2")


@dataclass(frozen=True)
class Delta:
    """One metric for both models, ``delta = challenger - champion`` and its interval."""

    metric: str
    champion: float
    challenger: float
    delta: float
    lo: float = float("nan")
    hi: float = float("nan")

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return bool(self.lo > 0 or self.hi < 0)

    @property
    def better(self) -> str | None:
        """``"challenger"``/``"champion"`` when the difference is significant and the metric
        has a direction; else None."""
        up = higher_is_better(self.metric)
        if not self.significant or up is None:
            return None
        return "challenger" if (self.delta > 0) == up else "champion"


@dataclass(frozen=True)
class SliceDelta:
    grouping: str
    slice: str
    n: int
    deltas: tuple[Delta, ...]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Result of :func:`compare`. ``outcomes`` counts rows by who got them right
    (classification) or who was closer (regression)."""

    names: tuple[str, str]
    kind: str
    n: int
    deltas: tuple[Delta, ...]
    slices: tuple[SliceDelta, ...] = ()
    mcnemar: McNemar | None = None
    agreement: float | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    disagreements: pd.DataFrame = field(default_factory=pd.DataFrame)
    ci: float = 0.95
    n_resamples: int = 0

    def delta(self, metric: str) -> Delta:
        for d in self.deltas:
            if d.metric == metric:
                return d
        raise ValidationError(f"metric {metric!r} was not compared",
                              fix=f"use one of: {', '.join(d.metric for d in self.deltas)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names), "kind": self.kind, "n": self.n, "ci": self.ci,
            "n_resamples": self.n_resamples,
            "deltas": [{**asdict(d), "significant": d.significant, "better": d.better}
                       for d in self.deltas],
            "slices": [{"grouping": s.grouping, "slice": s.slice, "n": s.n,
                        "deltas": [asdict(d) for d in s.deltas]} for s in self.slices],
            "mcnemar": asdict(self.mcnemar) if self.mcnemar else None,
            "agreement": self.agreement, "outcomes": dict(self.outcomes),
            "disagreements": self.disagreements.astype(object).where(
                self.disagreements.notna(), None).to_dict(orient="records"),
        }


def _interval(a: FloatArray, b: FloatArray, ci: float, n: int) -> tuple[FloatArray, FloatArray]:
    if n == 0:
        nan = np.full(a.shape[1:], np.nan)
        return nan, nan
    return percentile_interval(b - a, ci)


def compare(
    y_true: Any, pred_champion: Any, pred_challenger: Any, *,
    scores_champion: npt.ArrayLike | None = None, scores_challenger: npt.ArrayLike | None = None,
    groups: Any = None, metrics: Sequence[str] | None = None,
    classes: Sequence[Any] | None = None, pos_label: Any = None, regression: bool = False,
    names: tuple[str, str] = ("champion", "challenger"), bootstrap: int = 500,
    ci: float = 0.95, seed: int | np.random.Generator = 0, ids: Any = None,
    max_examples: int = 20,
) -> Comparison:
    """Compare two models' predictions of the same rows (see the module docstring).

    ``metrics`` default: accuracy, precision, recall, f1 (+ roc_auc, pr_auc with both
    models' scores); with ``regression``: mae, rmse, r2. ``ids`` names the rows in
    ``disagreements`` (default: row position); each outcome lists up to
    ``max_examples`` rows.
    """
    check_ci(ci)
    rng = rng_from(seed)
    n = len(y_true)
    if len(pred_champion) != n or len(pred_challenger) != n:
        raise ValidationError(f"{n} labels but {len(pred_champion)} and "
                              f"{len(pred_challenger)} predictions",
                              fix="predict the same rows with both models")
    row_ids = np.arange(n) if ids is None else np.asarray(ids)
    groupings = as_groupings(groups, n) if groups is not None else []
    if regression:
        mets = tuple(metrics or ("mae", "rmse", "r2"))
        for m in mets:
            if m not in REGRESSION_METRICS:
                raise ValidationError(f"{m!r} is not a regression metric",
                                      fix=f"use one of: {', '.join(REGRESSION_METRICS)}")
        return _compare_regression(y_true, pred_champion, pred_challenger, groupings, mets,
                                   names, bootstrap, ci, rng, row_ids, max_examples)
    both_scores = scores_champion is not None and scores_challenger is not None
    mets = tuple(metrics or ("accuracy", "precision", "recall", "f1",
                             *(SCORE_METRICS if both_scores else ())))
    if classes is None:
        classes = sorted_classes([*pd.unique(np.asarray(y_true, dtype=object)),
                                  *pd.unique(np.asarray(pred_champion, dtype=object)),
                                  *pd.unique(np.asarray(pred_challenger, dtype=object))])
    cl = tuple(classes)
    t = encode(y_true, cl, "labels")
    a = encode(pred_champion, cl, "champion's predictions")
    b = encode(pred_challenger, cl, "challenger's predictions")
    count_metrics = [m for m in mets if m not in SCORE_METRICS]
    for m in count_metrics:
        check_metric(m, cl)
    k = len(cl)
    joint = (t * k + a) * k + b
    paired = _Paired(cl, pos_label, bootstrap, ci, rng)
    deltas = paired.deltas(np.bincount(joint, minlength=k ** 3)[None, :], None, count_metrics)[0]
    if len(count_metrics) < len(mets):
        if not both_scores:
            raise ValidationError("roc_auc and pr_auc need both models' scores",
                                  fix="pass scores_champion and scores_challenger")
        sa = check_scores(scores_champion, n, k)  # type: ignore[arg-type]
        sb = check_scores(scores_challenger, n, k)  # type: ignore[arg-type]
        pos = positive_index(cl, pos_label)
        deltas += [_score_delta(m, t, sa, sb, pos, bootstrap, ci, rng)
                   for m in mets if m in SCORE_METRICS]
    slices = []
    for g in groupings:
        atoms, member = atom_counts(g, joint, k ** 3)
        for label, size, ds in zip(g.labels, to_slices(atoms, member).sum(-1).tolist(),
                                   paired.deltas(atoms, member, count_metrics), strict=True):
            slices.append(SliceDelta(g.name, label, int(size), tuple(ds)))
    right_a, right_b = t == a, t == b
    outcomes = {"both right": int((right_a & right_b).sum()),
                "champion right": int((right_a & ~right_b).sum()),
                "challenger right": int((~right_a & right_b).sum()),
                "both wrong": int((~right_a & ~right_b).sum())}
    kinds = np.where(right_a & ~right_b, "champion right",
                     np.where(~right_a & right_b, "challenger right", "both wrong"))
    differ = np.flatnonzero(a != b)
    picked = np.concatenate([differ[kinds[differ] == o][:max_examples] for o in (
        "champion right", "challenger right", "both wrong")]).astype(np.int64)
    examples = pd.DataFrame({
        "id": row_ids[picked], "label": [cl[i] for i in t[picked]],
        names[0]: [cl[i] for i in a[picked]], names[1]: [cl[i] for i in b[picked]],
        "outcome": kinds[picked]})
    return Comparison(names, "classification", n, tuple(deltas), tuple(slices),
                      mcnemar(outcomes["champion right"], outcomes["challenger right"]),
                      float((a == b).mean()) if n else None, outcomes, examples, ci, bootstrap)


@dataclass
class _Paired:
    classes: tuple[Any, ...]
    pos_label: Any
    bootstrap: int
    ci: float
    rng: np.random.Generator

    def _values(self, joint: IntArray, name: str) -> tuple[FloatArray, FloatArray]:
        k = len(self.classes)
        j = joint.reshape(*joint.shape[:-1], k, k, k)
        kw: dict[str, Any] = {"pos_label": self.pos_label, "zero_division": np.nan}
        return (metric_values(j.sum(-1), name, self.classes, **kw),
                metric_values(j.sum(-2), name, self.classes, **kw))

    def deltas(self, atoms: IntArray, member: IntArray | None,
               metrics: Sequence[str]) -> list[list[Delta]]:
        """One list of Deltas per slice of ``atoms`` (joint counts)."""
        counts = to_slices(atoms, member)
        samples = None
        if self.bootstrap:
            samples = to_slices(resample_counts(atoms, self.bootstrap, self.rng), member)
        out: list[list[Delta]] = [[] for _ in range(counts.shape[0])]
        for m in metrics:
            va, vb = self._values(counts, m)
            lo = hi = np.full(len(va), np.nan)
            if samples is not None:
                sa, sb = self._values(samples, m)
                lo, hi = percentile_interval(sb - sa, self.ci)
            for i in range(len(va)):
                out[i].append(Delta(m, float(va[i]), float(vb[i]), float(vb[i] - va[i]),
                                    float(lo[i]), float(hi[i])))
        return out


def _score_delta(name: str, t: IntArray, sa: FloatArray, sb: FloatArray, pos: int | None,
                 bootstrap: int, ci: float, rng: np.random.Generator) -> Delta:
    ones = np.ones((1, len(t)))
    va = float(score_values(name, t, sa, pos, ones)[0])
    vb = float(score_values(name, t, sb, pos, ones)[0])
    lo = hi = float("nan")
    if bootstrap and len(t):
        diffs = np.concatenate([score_values(name, t, sb, pos, w) - score_values(
            name, t, sa, pos, w) for w in weight_chunks(len(t), bootstrap, rng)])
        low, high = percentile_interval(diffs, ci)
        lo, hi = float(low), float(high)
    return Delta(name, va, vb, vb - va, lo, hi)


def _regression_deltas(t: FloatArray, pa: FloatArray, pb: FloatArray, metrics: Sequence[str],
                       bootstrap: int, ci: float, rng: np.random.Generator) -> list[Delta]:
    ones = np.ones((1, len(t)))
    out = []
    draws = list(weight_chunks(len(t), bootstrap, rng)) if bootstrap and len(t) else []
    for m in metrics:
        va = float(weighted_regression(t, pa - t, ones, m)[0]) if len(t) else float("nan")
        vb = float(weighted_regression(t, pb - t, ones, m)[0]) if len(t) else float("nan")
        lo = hi = float("nan")
        if draws:
            diffs = np.concatenate([weighted_regression(t, pb - t, w.astype(np.float64), m)
                                    - weighted_regression(t, pa - t, w.astype(np.float64), m)
                                    for w in draws])
            low, high = percentile_interval(diffs, ci)
            lo, hi = float(low), float(high)
        out.append(Delta(m, va, vb, vb - va, lo, hi))
    return out


def _compare_regression(y_true: Any, pred_a: Any, pred_b: Any, groupings: list[Grouping],
                        metrics: tuple[str, ...], names: tuple[str, str], bootstrap: int,
                        ci: float, rng: np.random.Generator, row_ids: npt.NDArray[Any],
                        max_examples: int) -> Comparison:
    t = as_float(y_true, "labels")
    pa = as_float(pred_a, "champion's predictions")
    pb = as_float(pred_b, "challenger's predictions")
    deltas = _regression_deltas(t, pa, pb, metrics, bootstrap, ci, rng)
    slices = []
    for g in groupings:
        for i, label in enumerate(g.labels):
            m = g.mask(i)
            slices.append(SliceDelta(g.name, label, int(m.sum()), tuple(_regression_deltas(
                t[m], pa[m], pb[m], metrics, bootstrap, ci, rng))))
    ea, eb = np.abs(pa - t), np.abs(pb - t)
    outcomes = {"champion closer": int((ea < eb).sum()), "challenger closer": int((eb < ea).sum()),
                "tied": int((ea == eb).sum())}
    order = np.argsort(-np.abs(ea - eb), kind="stable")[:max_examples]
    order = order[ea[order] != eb[order]]
    examples = pd.DataFrame({"id": row_ids[order], "label": t[order], names[0]: pa[order],
                             names[1]: pb[order],
                             "outcome": np.where(ea[order] < eb[order], "champion closer",
                                                 "challenger closer")})
    return Comparison(names, "regression", len(t), tuple(deltas), tuple(slices), None, None,
                      outcomes, examples, ci, bootstrap)
