"""Evaluation of a model on labelled data: the classification and regression reports.

Both return plain JSON-ready dicts (stored as the experiment record and rendered by
:mod:`rampup.analysis.report`). The count-based metrics come from
:mod:`rampup.analysis.confusion`, the score-based ones from :mod:`rampup.analysis.scores`,
regression errors from :mod:`rampup.analysis.regression`; all are re-exported here.

>>> r = classification_report([0] * 8 + [1] * 2, [0] * 10)
>>> r["accuracy"], r["majority_baseline"]["accuracy"]
(0.8, 0.8)
>>> r["warnings"][1][:72]
'accuracy 0.8 is no better than always predicting the majority class 0 (0'
>>> r["warnings"][2]
'class 1 is never predicted correctly (recall 0 on 2 examples)'
>>> reg = regression_report([1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 2.5, 4.0], n_buckets=2)
>>> reg["mae"], [b["count"] for b in reg["residuals_by_bucket"]]
(0.25, [2, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.analysis.confusion import (
    METRICS,
    ConfusionCounts,
    check_metric,
    encode,
    encode_pair,
    metric_values,
    per_class,
    positive_index,
    py_value,
    sorted_classes,
)
from rampup.analysis.regression import REGRESSION_METRICS, RegressionStats, as_float
from rampup.analysis.scores import (
    average_precision,
    average_precision_ovr,
    calibration,
    check_scores,
    roc_auc,
    roc_auc_ovr,
)

__all__ = [
    "METRICS",
    "REGRESSION_METRICS",
    "ConfusionCounts",
    "RegressionStats",
    "check_metric",
    "classification_report",
    "encode",
    "encode_pair",
    "higher_is_better",
    "metric_values",
    "per_class",
    "positive_index",
    "py_value",
    "regression_report",
    "sorted_classes",
]

BASELINE_MARGIN = 0.03
"""Accuracy within this many points of the majority-class baseline gets a warning."""
SMALL_SAMPLE = 30


_LOWER_IS_BETTER = {"error_rate", "false_positive_rate", "false_negative_rate", "mae", "rmse",
                    "wer", "cer", "miss_rate_50",
                    "mse"}
_NEUTRAL = {"selection_rate", "bias"}


def higher_is_better(name: str) -> bool | None:
    """Direction of a metric: True (accuracy, recall, AUC ...), False (error rates, MAE,
    RMSE), None when neither is better (selection rate, bias).

    >>> higher_is_better("recall[fraud]"), higher_is_better("mae"), higher_is_better("bias")
    (True, False, None)
    """
    base = name.split("[", 1)[0]
    if base in _NEUTRAL:
        return None
    return base not in _LOWER_IS_BETTER


def _f(x: float) -> str:
    return f"{x:.3g}"


def _warnings(cc: ConfusionCounts, majority: Any, majority_acc: float) -> list[str]:
    out: list[str] = []
    acc = cc.accuracy
    if cc.n < SMALL_SAMPLE:
        out.append(f"only {cc.n} examples: every metric here is noisy")
    if acc <= majority_acc:
        out.append(f"accuracy {_f(acc)} is no better than always predicting the majority "
                   f"class {majority} ({_f(majority_acc)}): it says little here; read "
                   "per-class recall and macro F1")
    elif acc - majority_acc < BASELINE_MARGIN:
        out.append(f"accuracy {_f(acc)} is within {BASELINE_MARGIN * 100:.0f} points of always "
                   f"predicting the majority class {majority} ({_f(majority_acc)}): read "
                   "per-class recall and macro F1, not accuracy")
    recall = per_class(cc.matrix, "recall")
    for c, s, r in zip(cc.classes, cc.support.tolist(), recall.tolist(), strict=True):
        if s > 0 and r == 0:
            out.append(f"class {c} is never predicted correctly (recall 0 on {s} examples)")
    return out


def classification_report(
    y_true: Any, y_pred: Any, scores: npt.ArrayLike | None = None,
    classes: Sequence[Any] | None = None, *, pos_label: Any = None, n_bins: int = 10,
) -> dict[str, Any]:
    """Confusion matrix, per-class and averaged metrics, the majority-class baseline and
    warnings; with ``scores`` also ROC AUC, PR AUC (average precision) and calibration.

    ``scores``: binary data — the positive-class score ``(n,)`` or both columns
    ``(n, 2)``; multiclass — one column per class in ``classes`` order (AUCs are macro
    one-vs-rest; calibration is of the predicted class's score against correctness).
    """
    t, p, cl = encode_pair(y_true, y_pred, classes)
    cc = ConfusionCounts.from_codes(t, p, cl)
    pos = positive_index(cl, pos_label)
    support = cc.support
    maj = int(np.argmax(support)) if cc.n else 0
    majority_acc = float(support[maj] / cc.n) if cc.n else 0.0
    values = {m: per_class(cc.matrix, m).tolist() for m in ("precision", "recall", "f1")}
    report: dict[str, Any] = {
        "kind": "classification",
        "n": cc.n,
        "classes": list(cl),
        "positive_class": cl[pos] if pos is not None else None,
        "confusion_matrix": cc.matrix.tolist(),
        "accuracy": cc.accuracy,
        "balanced_accuracy": cc.metric("balanced_accuracy"),
        "per_class": [{"class": c, "precision": values["precision"][i],
                       "recall": values["recall"][i], "f1": values["f1"][i],
                       "support": int(support[i]), "predicted": int(cc.predicted[i])}
                      for i, c in enumerate(cl)],
        "averages": {avg: {m: cc.metric(f"{m}_{avg}") for m in ("precision", "recall", "f1")}
                     for avg in ("macro", "micro", "weighted")},
        "majority_baseline": {"class": cl[maj] if cl else None, "accuracy": majority_acc},
        "roc_auc": None,
        "pr_auc": None,
        "calibration": None,
        "warnings": _warnings(cc, cl[maj] if cl else None, majority_acc) if cc.n else [
            "no examples"],
    }
    if pos is not None:
        report["positive"] = {m: cc.metric(m, pos_label=cl[pos]) for m in (
            "precision", "recall", "f1", "false_positive_rate", "false_negative_rate")}
    if scores is not None and cc.n:
        report.update(_score_metrics(t, p, cl, pos, scores, n_bins))
    return report


def _score_metrics(t: npt.NDArray[np.int64], p: npt.NDArray[np.int64], cl: tuple[Any, ...],
                   pos: int | None, scores: npt.ArrayLike, n_bins: int) -> dict[str, Any]:
    m = check_scores(scores, len(t), len(cl))
    if m.ndim == 1 or (pos is not None and len(cl) == 2):
        s = m if m.ndim == 1 else m[:, pos]
        is_pos = t == (pos if pos is not None else len(cl) - 1)
        return {"roc_auc": roc_auc(is_pos, s), "pr_auc": average_precision(is_pos, s),
                "calibration": {"of": "positive-class score", **calibration(is_pos, s, n_bins)}}
    confidence = m[np.arange(len(p)), p]
    return {"roc_auc": roc_auc_ovr(t, m), "pr_auc": average_precision_ovr(t, m),
            "calibration": {"of": "predicted-class score",
                            **calibration(t == p, confidence, n_bins)}}


def regression_report(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, *,
                      n_buckets: int = 5) -> dict[str, Any]:
    """MAE, RMSE, R², bias, the predict-the-mean baseline, and residuals (prediction -
    truth) by quantile bucket of the true value."""
    t = as_float(y_true, "labels")
    p = as_float(y_pred, "predictions")
    st = RegressionStats.from_arrays(t, p)
    report: dict[str, Any] = {"kind": "regression", "n": st.n, "mae": st.mae, "rmse": st.rmse,
                              "mse": st.mse, "r2": st.r2, "bias": st.bias,
                              "residuals_by_bucket": [], "warnings": []}
    if not st.n:
        report["warnings"].append("no examples")
        return report
    base = RegressionStats.from_arrays(t, np.full(len(t), st.mean_true))
    report["mean_baseline"] = {"prediction": st.mean_true, "mae": base.mae, "rmse": base.rmse}
    if st.r2 < 0:
        report["warnings"].append(f"R² is {_f(st.r2)}: the model does worse than always "
                                  f"predicting the mean ({_f(st.mean_true)})")
    edges = np.unique(np.quantile(t, np.linspace(0, 1, n_buckets + 1)))
    ids = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max(len(edges) - 2, 0))
    for j in range(max(len(edges) - 1, 1)):
        sel = ids == j
        b = RegressionStats.from_arrays(t[sel], p[sel])
        report["residuals_by_bucket"].append({
            "lower": float(edges[j]), "upper": float(edges[min(j + 1, len(edges) - 1)]),
            "count": b.n, "bias": b.bias, "mae": b.mae, "rmse": b.rmse})
    return report

