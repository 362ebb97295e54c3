"""Metrics per slice, with sample sizes and bootstrap confidence intervals.

Classification slices come from per-slice confusion counts built by a single
``np.bincount`` over ``slice * k*k + true * k + predicted``; every count metric of
every slice is then a vectorised function of that ``(slices, k, k)`` stack (see
:mod:`rampup.analysis.confusion`), and bootstrap intervals resample the counts
(:mod:`rampup.analysis.bootstrap`), never the rows. Overlapping slices (tags,
expressions) are counted per distinct tag combination and summed. ROC/PR AUC per slice
(``scores``) and regression metrics resample rows, with one sort per slice.

>>> y = [0, 0, 1, 1, 1, 0, 1, 1]
>>> p = [0, 1, 1, 1, 0, 0, 1, 1]
>>> city = ["oslo", "oslo", "oslo", "oslo", "rome", "rome", "rome", "rome"]
>>> table = slice_metrics(y, p, city, ("accuracy", "recall"))
>>> [(r.slice, r.n, r.values["accuracy"], round(r.values["recall"], 3)) for r in table.rows]
[('oslo', 4, 0.75, 1.0), ('rome', 4, 0.75, 0.667)]
>>> table.overall.n, table.overall.values["accuracy"]
(8, 0.75)
>>> ci = slice_metrics(y, p, city, ("accuracy",), bootstrap=200, seed=1).rows[0].intervals
>>> lo, hi = ci["accuracy"]; bool(lo <= 0.75 <= hi)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rampup.analysis.bootstrap import (
    check_ci,
    percentile_interval,
    resample_counts,
    rng_from,
    weight_chunks,
)
from rampup.analysis.confusion import (
    ConfusionCounts,
    check_metric,
    encode_pair,
    metric_values,
    positive_index,
)
from rampup.analysis.groupings import (
    Grouping,
    as_groupings,
    by_bins,
    by_expressions,
    by_tags,
    by_values,
    from_frame,
)
from rampup.analysis.regression import REGRESSION_METRICS, RegressionStats, as_float
from rampup.analysis.scores import (
    average_precision_weighted,
    check_scores,
    grouped_score_metric,
    roc_auc_weighted,
)
from rampup.errors import ValidationError

__all__ = ["SCORE_METRICS", "Grouping", "SliceRow", "SliceTable", "by_bins", "by_expressions",
           "by_tags", "by_values", "from_frame", "slice_metrics"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SCORE_METRICS = ("roc_auc", "pr_auc")
_MAX_TAG_BITS = 62


@dataclass(frozen=True)
class SliceRow:
    """One slice: its grouping, label, sample size, metric values and intervals."""

    grouping: str
    slice: str
    n: int
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"grouping": self.grouping, "slice": self.slice, "n": self.n,
                "values": dict(self.values),
                "intervals": {m: [lo, hi] for m, (lo, hi) in self.intervals.items()}}


@dataclass(frozen=True, eq=False)
class SliceTable:
    """Result of :func:`slice_metrics`. ``counts[i]`` is the confusion matrix of ``rows[i]``
    (classification only); ``ci`` is the interval level, ``n_resamples`` 0 without CIs."""

    metrics: tuple[str, ...]
    overall: SliceRow
    rows: tuple[SliceRow, ...]
    classes: tuple[Any, ...] = ()
    counts: IntArray | None = None
    ci: float = 0.95
    n_resamples: int = 0

    def row(self, grouping: str, label: str) -> SliceRow:
        for r in self.rows:
            if r.grouping == grouping and r.slice == label:
                return r
        raise ValidationError(f"no slice {label!r} in grouping {grouping!r}",
                              fix="use one of: " + ", ".join(
                                  f"{r.grouping}={r.slice}" for r in self.rows[:20]))

    def confusion(self, i: int) -> ConfusionCounts:
        """The confusion counts of ``rows[i]``."""
        if self.counts is None:
            raise ValidationError("regression slices have no confusion counts",
                                  fix="use the slice's metric values")
        return ConfusionCounts(self.counts[i], self.classes)

    def to_frame(self) -> pd.DataFrame:
        """One row per slice (overall first): grouping, slice, n, each metric, its lo/hi."""
        records = []
        for r in (self.overall, *self.rows):
            rec: dict[str, Any] = {"grouping": r.grouping, "slice": r.slice, "n": r.n}
            for m in self.metrics:
                rec[m] = r.values.get(m, np.nan)
                if self.n_resamples:
                    lo, hi = r.intervals.get(m, (np.nan, np.nan))
                    rec[f"{m}_lo"], rec[f"{m}_hi"] = lo, hi
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "classes": list(self.classes), "ci": self.ci,
                "n_resamples": self.n_resamples, "overall": self.overall.to_dict(),
                "slices": [r.to_dict() for r in self.rows]}


# -- counting -------------------------------------------------------------------------------

def atom_counts(g: Grouping, cell: IntArray, kk: int) -> tuple[IntArray, IntArray | None]:
    """Counts per disjoint atom ``(atoms, kk)`` and atom → slice membership (None: the
    atoms are the slices). Overlapping slices: one atom per distinct tag combination."""
    if g.codes is not None:
        codes, s = g.codes, len(g.labels)
        if len(codes) and codes.min() < 0:  # rows in no slice do not count
            keep = codes >= 0
            codes, cell = codes[keep], cell[keep]
        flat = np.bincount(codes * kk + cell, minlength=s * kk)
        return flat.reshape(s, kk).astype(np.int64, copy=False), None
    assert g.masks is not None
    masks = g.masks
    if masks.shape[0] > _MAX_TAG_BITS:  # too many tags to pack: count each on its own
        counts = np.vstack([np.bincount(cell[m], minlength=kk) for m in masks])
        return counts.astype(np.int64, copy=False), None
    bits = (np.int64(1) << np.arange(masks.shape[0], dtype=np.int64))
    pattern = bits @ masks.astype(np.int64)
    atom, uniques = pd.factorize(pattern)
    flat = np.bincount(atom * kk + cell, minlength=len(uniques) * kk)
    member = ((np.asarray(uniques, np.int64)[:, None] & bits[None, :]) != 0).astype(np.int64)
    return flat.reshape(len(uniques), kk).astype(np.int64, copy=False), member


def to_slices(atoms: IntArray, member: IntArray | None) -> IntArray:
    """``(..., atoms, kk)`` → ``(..., slices, kk)``."""
    return atoms if member is None else np.einsum("...ak,as->...sk", atoms, member)


# -- the entry point --------------------------------------------------------------------------

def slice_metrics(
    y_true: Any, y_pred: Any, groups: Any,
    metrics: Sequence[str] = ("accuracy", "precision", "recall"), *,
    scores: npt.ArrayLike | None = None, classes: Sequence[Any] | None = None,
    pos_label: Any = None, bootstrap: int = 0, ci: float = 0.95,
    seed: int | np.random.Generator = 0, zero_division: float = np.nan,
) -> SliceTable:
    """Metrics overall and per slice, with sample sizes and (``bootstrap`` > 0) percentile
    intervals from that many resamples.

    ``groups``: a column of values, a boolean DataFrame of tags, a :class:`Grouping` or a
    list of them (see :mod:`rampup.analysis.groupings`). ``metrics``: count metrics
    (:data:`~rampup.analysis.confusion.METRICS`), ``roc_auc``/``pr_auc`` (need
    ``scores``), or regression metrics (``mae``, ``rmse``, ``mse``, ``r2``, ``bias``).
    An undefined ratio (e.g. precision of a slice with no positive prediction) is
    ``zero_division`` — NaN by default, shown as "n/a", rather than a misleading 0.
    """
    if bootstrap < 0:
        raise ValidationError("bootstrap must be 0 (no intervals) or a number of resamples",
                              fix="use e.g. bootstrap=200")
    check_ci(ci)
    metrics = tuple(metrics)
    if not metrics:
        raise ValidationError("no metrics asked for", fix="name at least one, e.g. accuracy")
    rng = rng_from(seed)
    if all(m in REGRESSION_METRICS for m in metrics):
        return _regression(y_true, y_pred, groups, metrics, bootstrap, ci, rng)
    t, p, cl = encode_pair(y_true, y_pred, classes)
    k = len(cl)
    count_metrics = [m for m in metrics if m not in SCORE_METRICS]
    for m in count_metrics:
        if m in REGRESSION_METRICS:
            raise ValidationError(f"{m} is a regression metric, but other metrics asked for "
                                  "are for classification", fix="ask for one kind at a time")
        check_metric(m, cl)
    score_matrix = None
    if len(count_metrics) < len(metrics):
        if scores is None:
            raise ValidationError("roc_auc and pr_auc need scores", fix="pass scores=...")
        score_matrix = check_scores(scores, len(t), k)
    groupings = as_groupings(groups, len(t))
    cell = t * k + p
    total = np.bincount(cell, minlength=k * k)[None, :]
    ctx = _Ctx(cl, count_metrics, pos_label, zero_division, bootstrap, ci, rng)
    overall = ctx.rows("overall", ("all",), total, None)[0]
    rows: list[SliceRow] = []
    stacks = []
    for g in groupings:
        atoms, member = atom_counts(g, cell, k * k)
        rows.extend(ctx.rows(g.name, g.labels, atoms, member))
        stacks.append(to_slices(atoms, member))
    if score_matrix is not None:
        pos = positive_index(cl, pos_label)
        parts: list[tuple[list[SliceRow], IntArray]] = [([overall], np.zeros(len(t), np.int64))]
        done = 0
        for g in groupings:
            mine = rows[done:done + len(g.labels)]
            done += len(g.labels)
            if g.codes is not None:
                parts.append((mine, g.codes))
            else:  # overlapping slices: one pass each
                parts.extend(([r], np.where(g.mask(i), 0, -1)) for i, r in enumerate(mine))
        for m in metrics:
            if m in SCORE_METRICS:
                for part_rows, codes in parts:
                    _score_rows(part_rows, m, t, score_matrix, pos, codes, bootstrap, ci, rng)
    counts = np.concatenate(stacks).reshape(-1, k, k) if stacks else np.zeros((0, k, k))
    return SliceTable(metrics, overall, tuple(rows), cl, counts.astype(np.int64), ci, bootstrap)


@dataclass
class _Ctx:
    classes: tuple[Any, ...]
    metrics: list[str]
    pos_label: Any
    zero_division: float
    bootstrap: int
    ci: float
    rng: np.random.Generator

    def values(self, counts: IntArray, name: str) -> FloatArray:
        k = len(self.classes)
        return metric_values(counts.reshape(*counts.shape[:-1], k, k), name, self.classes,
                             pos_label=self.pos_label, zero_division=self.zero_division)

    def rows(self, grouping: str, labels: Sequence[str], atoms: IntArray,
             member: IntArray | None) -> list[SliceRow]:
        counts = to_slices(atoms, member)
        sizes = counts.sum(-1)
        out = [SliceRow(grouping, label, int(sizes[i]), {}, {}) for i, label in enumerate(labels)]
        samples = None
        if self.bootstrap and self.metrics:
            samples = to_slices(resample_counts(atoms, self.bootstrap, self.rng), member)
        for m in self.metrics:
            v = self.values(counts, m)
            for i, r in enumerate(out):
                r.values[m] = float(v[i])
            if samples is not None:
                lo, hi = percentile_interval(self.values(samples, m), self.ci)
                for i, r in enumerate(out):
                    r.intervals[m] = (float(lo[i]), float(hi[i]))
        return out


def score_values(name: str, t: IntArray, scores: FloatArray, pos: int | None,
                 weights: npt.ArrayLike) -> FloatArray:
    """``roc_auc`` or ``pr_auc`` for each row of a ``(B, n)`` weight matrix: of the positive
    class (binary scores) or the macro one-vs-rest average (one score column per class)."""
    fn = roc_auc_weighted if name == "roc_auc" else average_precision_weighted
    if scores.ndim == 1 or (pos is not None and scores.shape[1] == 2):
        p = pos if pos is not None else 1
        columns = [(t == p, scores if scores.ndim == 1 else scores[:, p])]
    else:
        columns = [(t == j, scores[:, j]) for j in range(scores.shape[1])]
    per = np.vstack([fn(y, s, weights) for y, s in columns])
    ok = ~np.isnan(per)
    mean = np.full(per.shape[1], np.nan)
    np.divide(np.where(ok, per, 0).sum(0), ok.sum(0), out=mean, where=ok.sum(0) > 0)
    return mean


def _grouped(name: str, t: IntArray, scores: FloatArray, pos: int | None, codes: IntArray,
             n_groups: int, weights: npt.ArrayLike, presorted: bool = False) -> FloatArray:
    """Score metric per group ``(B, n_groups)``; multiclass: macro one-vs-rest."""
    if scores.ndim == 1 or (pos is not None and scores.shape[1] == 2):
        p = pos if pos is not None else 1
        return grouped_score_metric(name, t == p, scores if scores.ndim == 1 else scores[:, p],
                                    codes, n_groups, weights, presorted=presorted)
    per = np.stack([grouped_score_metric(name, t == j, scores[:, j], codes, n_groups, weights,
                                         presorted=presorted)
                    for j in range(scores.shape[1])])
    ok = ~np.isnan(per)
    mean = np.full(per.shape[1:], np.nan)
    np.divide(np.where(ok, per, 0).sum(0), ok.sum(0), out=mean, where=ok.sum(0) > 0)
    return mean


def _score_rows(rows: list[SliceRow], name: str, t: IntArray, scores: FloatArray,
                pos: int | None, codes: IntArray, bootstrap: int, ci: float,
                rng: np.random.Generator) -> None:
    """ROC AUC / PR AUC of the slices of a partition (``codes``; -1 = in none of them),
    with intervals from row resamples shared by all of them."""
    keep = codes >= 0
    if not keep.all():
        t, scores, codes = t[keep], scores[keep], codes[keep]
    value = _grouped(name, t, scores, pos, codes, len(rows), np.ones((1, len(t))))[0]
    for i, r in enumerate(rows):
        r.values[name] = float(value[i])
    if bootstrap:
        # multiplicities are exchangeable: draw them for the sorted rows directly
        draws = np.concatenate([_grouped(name, t, scores, pos, codes, len(rows), w, True)
                                for w in weight_chunks(len(t), bootstrap, rng)])
        lo, hi = percentile_interval(draws, ci)
        for i, r in enumerate(rows):
            r.intervals[name] = (float(lo[i]), float(hi[i]))


# -- regression -----------------------------------------------------------------------------

def weighted_regression(t: FloatArray, r: FloatArray, w: FloatArray, name: str) -> FloatArray:
    """A regression metric for each row of a ``(B, n)`` weight matrix; ``r`` = pred - truth."""
    total = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "mae":
            return np.asarray((w * np.abs(r)).sum(1) / total, dtype=np.float64)
        if name == "bias":
            return np.asarray((w * r).sum(1) / total, dtype=np.float64)
        sse = (w * r * r).sum(1)
        if name in ("mse", "rmse"):
            mse = sse / total
            return np.asarray(np.sqrt(mse) if name == "rmse" else mse, dtype=np.float64)
        mean = (w * t).sum(1) / total
        sst = (w * (t[None, :] - mean[:, None]) ** 2).sum(1)
        out: FloatArray = np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1.0),
                                   np.where(sse == 0, 1.0, 0.0))
        return out


def _regression(y_true: Any, y_pred: Any, groups: Any, metrics: tuple[str, ...],
                bootstrap: int, ci: float, rng: np.random.Generator) -> SliceTable:
    t = as_float(y_true, "labels")
    p = as_float(y_pred, "predictions")
    if len(t) != len(p):
        raise ValidationError(f"{len(t)} labels but {len(p)} predictions",
                              fix="pass one prediction per label")
    groupings = as_groupings(groups, len(t))

    def row(grouping: str, label: str, mask: npt.NDArray[np.bool_] | None) -> SliceRow:
        tt, pp = (t, p) if mask is None else (t[mask], p[mask])
        st = RegressionStats.from_arrays(tt, pp)
        out = SliceRow(grouping, label, st.n, {m: st.metric(m) for m in metrics}, {})
        if bootstrap and st.n:
            parts = [np.vstack([weighted_regression(tt, pp - tt, w.astype(np.float64), m)
                                for m in metrics]) for w in weight_chunks(st.n, bootstrap, rng)]
            draws = np.concatenate(parts, axis=1)
            lo, hi = percentile_interval(draws, ci, axis=1)
            out.intervals.update({m: (float(lo[j]), float(hi[j]))
                                  for j, m in enumerate(metrics)})
        return out

    rows = tuple(row(g.name, label, g.mask(i)) for g in groupings
                 for i, label in enumerate(g.labels))
    return SliceTable(metrics, row("overall", "all", None), rows, ci=ci, n_resamples=bootstrap)
