"""Metrics of scores (probabilities): ROC AUC, average precision, calibration.

Pure NumPy, checked against scikit-learn in the tests. Binary functions take a boolean
"is positive" array and the positive-class score; multiclass functions take class codes
and an ``(n, k)`` score matrix whose columns follow the class order, and average the
one-vs-rest values over the classes that have both positive and negative examples.

>>> y = np.array([False, False, True, True]); s = np.array([0.1, 0.4, 0.35, 0.8])
>>> roc_auc(y, s), round(average_precision(y, s), 4)
(0.75, 0.8333)
>>> cal = calibration(y, s, n_bins=2)
>>> [(b["count"], b["mean_score"], b["observed"]) for b in cal["bins"]]
[(3, 0.2833333333333333, 0.3333333333333333), (1, 0.8, 1.0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def roc_auc(positive: npt.ArrayLike, score: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None without both classes."""
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(positive: npt.ArrayLike, score: npt.ArrayLike) -> float | None:
    """PR AUC as average precision (scikit-learn's step sum); None without positives."""
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    if not y.any():
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tps = np.cumsum(y)[last].astype(np.float64)
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _one_vs_rest(codes: npt.ArrayLike, scores: npt.ArrayLike, fn: Any) -> float | None:
    t = np.asarray(codes, dtype=np.int64)
    m = np.asarray(scores, dtype=np.float64)
    values = [fn(t == j, m[:, j]) for j in range(m.shape[1])
              if 0 < int((t == j).sum()) < len(t)]
    return float(np.mean(values)) if values else None


def roc_auc_ovr(codes: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Macro one-vs-rest ROC AUC of an ``(n, k)`` score matrix."""
    return _one_vs_rest(codes, scores, roc_auc)


def average_precision_ovr(codes: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Macro one-vs-rest average precision of an ``(n, k)`` score matrix."""
    return _one_vs_rest(codes, scores, average_precision)


def calibration(observed: npt.ArrayLike, score: npt.ArrayLike, n_bins: int = 10,
                ) -> dict[str, Any]:
    """Reliability curve in ``n_bins`` equal-width bins of [0, 1], and the expected
    calibration error (ECE: bin-size-weighted mean |observed rate - mean score|).

    ``observed`` is the event the score predicts: "is the positive class" for a binary
    score, "the prediction is right" for a top-class confidence. Bin edges follow
    scikit-learn's ``calibration_curve(strategy="uniform")``; empty bins are kept with
    ``count`` 0 and no values.
    """
    y = np.asarray(observed, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    if n_bins < 1:
        raise ValidationError("n_bins must be at least 1", fix="use e.g. 10 bins")
    if len(s) and (np.nanmin(s) < 0 or np.nanmax(s) > 1 or np.isnan(s).any()):
        raise ValidationError("scores must be probabilities in [0, 1] for calibration",
                              fix="pass predicted probabilities, not raw decision scores")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], s)
    total = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=s, minlength=n_bins)
    hits = np.bincount(ids, weights=y, minlength=n_bins)
    bins = []
    ece = 0.0
    for j in range(n_bins):
        n = int(total[j])
        mean = float(sums[j] / n) if n else None
        rate = float(hits[j] / n) if n else None
        if n:
            ece += abs(float(hits[j] - sums[j]))
        bins.append({"lower": float(edges[j]), "upper": float(edges[j + 1]), "count": n,
                     "mean_score": mean, "observed": rate})
    return {"bins": bins, "ece": ece / len(s) if len(s) else None}


def check_scores(scores: npt.ArrayLike, n: int, k: int) -> FloatArray:
    """Scores as float ``(n,)`` (binary, positive class) or ``(n, k)``; shape errors explained."""
    m = np.asarray(scores, dtype=np.float64)
    if m.ndim == 1 and len(m) == n and k <= 2:
        return m
    if m.ndim == 2 and m.shape == (n, k):
        return m
    raise ValidationError(
        f"scores of shape {m.shape} do not fit {n} examples and {k} classes",
        fix="pass the positive-class score (n,) for binary data, or one column per "
            "class (n, k) in class order")


def _grouped(positive: npt.ArrayLike, score: npt.ArrayLike, weights: npt.ArrayLike,
             descending: bool) -> tuple[FloatArray, FloatArray]:
    """Per tie group of the sorted scores: weighted positives and negatives ``(B, groups)``."""
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(-s if descending else s, kind="mergesort")
    starts = np.r_[0, np.flatnonzero(np.diff(s[order])) + 1]
    w = w[:, order]
    pos = np.add.reduceat(np.where(y[order], w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(y[order], 0.0, w), starts, axis=1)
    return pos, neg


def roc_auc_weighted(positive: npt.ArrayLike, score: npt.ArrayLike,
                     weights: npt.ArrayLike) -> FloatArray:
    """ROC AUC for each row of a ``(B, n)`` weight matrix (bootstrap multiplicities), with
    one sort for all of them; NaN where a resample lacks a class."""
    if len(np.asarray(score)) == 0:
        return np.full(np.asarray(weights).shape[0], np.nan)
    pos, neg = _grouped(positive, score, weights, descending=False)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(1)
    den = pos.sum(1) * neg.sum(1)
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def average_precision_weighted(positive: npt.ArrayLike, score: npt.ArrayLike,
                               weights: npt.ArrayLike) -> FloatArray:
    """Average precision for each row of a ``(B, n)`` weight matrix; NaN without positives."""
    if len(np.asarray(score)) == 0:
        return np.full(np.asarray(weights).shape[0], np.nan)
    pos, neg = _grouped(positive, score, weights, descending=True)
    tps = np.cumsum(pos, axis=1)
    seen = tps + np.cumsum(neg, axis=1)
    precision = np.zeros_like(tps)
    np.divide(tps, seen, out=precision, where=seen > 0)
    total = tps[:, -1:]
    recall = np.zeros_like(tps)
    np.divide(tps, total, out=recall, where=total > 0)
    gain = np.diff(recall, axis=1, prepend=0.0)
    return np.where(total[:, 0] > 0, (gain * precision).sum(1), np.nan)


def _at(cum: FloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
    """``cum[:, idx]`` with index -1 meaning "before the first column" (zero)."""
    out = cum[:, np.maximum(idx, 0)]
    out[:, idx < 0] = 0.0
    return out


def grouped_score_metric(name: str, positive: npt.ArrayLike, score: npt.ArrayLike,
                         codes: npt.ArrayLike, n_groups: int, weights: npt.ArrayLike, *,
                         presorted: bool = False) -> FloatArray:
    """ROC AUC (``roc_auc``) or average precision (``pr_auc``) of every group of a
    partition at once, for each row of a ``(B, n)`` weight matrix → ``(B, n_groups)``.

    One sort by (group, score) serves all groups and resamples; within-group running
    sums are global cumulative sums minus each group's start. NaN where a group lacks a
    class (AUC) or positives (AP), or has no rows. ``presorted``: the weight columns
    are for the rows in that sorted order — for bootstrap multiplicities, which are
    exchangeable, this skips a gather of the whole matrix.
    """
    y = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    c = np.asarray(codes, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.full((w.shape[0], n_groups), np.nan)
    if not len(s):
        return out
    key = -s if name == "pr_auc" else s
    order = np.lexsort((key, c))
    ks, cs = key[order], c[order]
    if not presorted:
        w = w[:, order]
    new_group = np.r_[True, np.diff(cs) != 0]
    new_tie = new_group | np.r_[True, np.diff(ks) != 0]
    gstarts = np.flatnonzero(new_group)
    row_group = np.cumsum(new_group) - 1
    pos = w * y[order]
    neg = w - pos
    cpos, cneg = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    tie_first = np.flatnonzero(new_tie)
    tie_id = np.cumsum(new_tie) - 1
    first = tie_first[tie_id]  # first row of each row's tie group
    last = np.r_[tie_first[1:], len(s)][tie_id] - 1  # last row of it
    total_pos = np.add.reduceat(pos, gstarts, axis=1)
    if name == "roc_auc":
        neg_before = _at(cneg, first - 1)  # negatives ranked strictly below, globally
        neg_tied = cneg[:, last] - neg_before
        neg_before -= _at(cneg, gstarts - 1)[:, row_group]  # ... within the row's group
        num = np.add.reduceat(pos * (neg_before + 0.5 * neg_tied), gstarts, axis=1)
        den = total_pos * np.add.reduceat(neg, gstarts, axis=1)
    else:
        base_pos = _at(cpos, gstarts - 1)[:, row_group]
        tp_in = cpos[:, last] - base_pos  # true positives down to the end of the tie
        seen_in = tp_in + cneg[:, last] - _at(cneg, gstarts - 1)[:, row_group]
        precision = np.zeros_like(tp_in)
        np.divide(tp_in, seen_in, out=precision, where=seen_in > 0)
        num = np.add.reduceat(pos * precision, gstarts, axis=1)
        den = total_pos
    values = np.full(num.shape, np.nan)
    np.divide(num, den, out=values, where=den > 0)
    out[:, cs[gstarts]] = values
    return out
