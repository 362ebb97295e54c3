"""Confusion counts and the metrics computed from them, one implementation for every use.

Every count-based metric is a vectorised function of a stack of confusion matrices
``(..., k, k)`` (rows: true class, columns: predicted class), so the same code gives
the overall value, one value per slice ``(slices, k, k)`` and one per bootstrap
resample ``(resamples, slices, k, k)``. :class:`ConfusionCounts` is the mergeable
statistic behind them: counts from two windows or replicas add up.

Metric names (:data:`METRICS`): ``accuracy``, ``error_rate``, ``balanced_accuracy``;
``precision``, ``recall``, ``f1``, ``false_positive_rate``, ``false_negative_rate``,
``true_negative_rate``, ``selection_rate`` — of the positive class when there is one
(binary data, or ``pos_label`` given), otherwise macro averages; ``precision_macro``,
``recall_micro``, ``f1_weighted`` ... (macro/micro/weighted); and per-class values
such as ``recall[fraud]``. Averages run over the classes present (in truth or
prediction), as scikit-learn does by default. An undefined ratio (0/0) is
``zero_division`` (0.0, as in scikit-learn, or NaN to leave it out of averages).

>>> cc = ConfusionCounts.from_labels(["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"])
>>> cc.matrix.tolist(), cc.classes
([[1, 1], [1, 2]], ('a', 'b'))
>>> round(cc.metric("accuracy"), 3), round(cc.metric("precision"), 3)  # positive class 'b'
(0.6, 0.667)
>>> round(cc.metric("recall[a]"), 3), round(cc.metric("f1_macro"), 3)
(0.5, 0.583)
>>> (cc + cc).n
10
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

METRICS: dict[str, str] = {
    "accuracy": "share of examples predicted correctly",
    "error_rate": "1 - accuracy",
    "balanced_accuracy": "mean recall over the classes present in the truth",
    "precision": "positive class (binary or pos_label) else macro average",
    "recall": "positive class (binary or pos_label) else macro average",
    "f1": "positive class (binary or pos_label) else macro average",
    "false_positive_rate": "FP / (FP + TN) of the positive class, else macro average",
    "false_negative_rate": "FN / (FN + TP) of the positive class, else macro average",
    "true_negative_rate": "TN / (TN + FP) of the positive class, else macro average",
    "selection_rate": "share predicted as the positive class, else macro average",
    **{f"{m}_{avg}": f"{m}, {avg} average" for m in ("precision", "recall", "f1")
       for avg in ("macro", "micro", "weighted")},
}
"""Every count-based metric name, with what it means. ``name[class]`` gives one class."""

_PER_CLASS = ("precision", "recall", "f1", "false_positive_rate", "false_negative_rate",
              "true_negative_rate", "selection_rate")
_CLASS_NAME = re.compile(r"^(\w+)\[(.+)\]$")


# -- label encoding ----------------------------------------------------------------------

def py_value(v: Any) -> Any:
    """A numpy scalar as the plain Python value (JSON-friendly); anything else unchanged."""
    return v.item() if isinstance(v, np.generic) else v


def sorted_classes(values: Iterable[Any]) -> tuple[Any, ...]:
    """Distinct values, sorted (by their text when they do not compare, e.g. 1 and 'a')."""
    distinct = list(dict.fromkeys(py_value(v) for v in values))
    try:
        return tuple(sorted(distinct))
    except TypeError:
        return tuple(sorted(distinct, key=str))


def small_int_codes(values: Any, span: int = 1 << 20) -> tuple[IntArray, list[Any]] | None:
    """Fast path for integer (or boolean) arrays with a small range: sorted distinct
    values and the code of each, with two passes of ``bincount`` instead of hashing.

    >>> codes, uniques = small_int_codes(np.array([7, 3, 7, 5]))
    >>> codes.tolist(), uniques
    ([2, 0, 2, 1], [3, 5, 7])
    """
    a = values.to_numpy() if isinstance(values, pd.Series) else values
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in "biu" or not len(a):
        return None
    lo, hi = int(a.min()), int(a.max())
    if hi - lo > span:
        return None
    shifted = a.astype(np.int64) - lo if lo or a.dtype != np.int64 else a
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    lut = np.cumsum(present, dtype=np.int64) - 1
    uniques = (np.flatnonzero(present) + lo).tolist()
    if a.dtype.kind == "b":
        uniques = [bool(u) for u in uniques]
    return lut[shifted], uniques


def _factorize(values: Any, what: str) -> tuple[IntArray, list[Any]]:
    fast = small_int_codes(values)
    if fast is not None:
        return fast
    codes, uniques = pd.factorize(values if isinstance(values, pd.Series)
                                  else np.asarray(values), use_na_sentinel=True)
    if len(codes) and codes.min() < 0:
        raise ValidationError(f"{what} has {int((codes < 0).sum())} missing value(s)",
                              fix=f"drop the rows without a {what} first")
    return codes.astype(np.int64, copy=False), [py_value(u) for u in uniques]


def _recode(codes: IntArray, uniques: list[Any], classes: Sequence[Any], what: str) -> IntArray:
    index = {c: i for i, c in enumerate(classes)}
    unknown = [u for u in uniques if u not in index]
    if unknown:
        raise ValidationError(
            f"{what} contain value(s) {', '.join(map(repr, unknown[:5]))} that are not among "
            f"the classes {', '.join(map(repr, classes))}",
            fix="pass the full class list, or check that labels and predictions use the "
                "same type (e.g. 1 and '1' differ)")
    lut = np.array([index[u] for u in uniques], dtype=np.int64)
    if not len(lut) or np.array_equal(lut, np.arange(len(lut))):
        return codes
    return lut[codes]


def encode(values: Any, classes: Sequence[Any], what: str = "labels") -> IntArray:
    """Class index of each value (hash-based, O(n)); unknown or missing values are errors.

    >>> encode(["b", "a", "b"], ("a", "b")).tolist()
    [1, 0, 1]
    """
    return _recode(*_factorize(values, what), classes, what)


def encode_pair(y_true: Any, y_pred: Any, classes: Sequence[Any] | None = None,
                ) -> tuple[IntArray, IntArray, tuple[Any, ...]]:
    """``(true codes, predicted codes, classes)``; classes default to the sorted union."""
    if len(y_true) != len(y_pred):
        raise ValidationError(f"{len(y_true)} labels but {len(y_pred)} predictions",
                              fix="pass one prediction per label")
    ct, ut = _factorize(y_true, "labels")
    cp, up = _factorize(y_pred, "predictions")
    if classes is None:
        classes = sorted_classes([*ut, *up])
    classes = tuple(py_value(c) for c in classes)
    return (_recode(ct, ut, classes, "labels"), _recode(cp, up, classes, "predictions"),
            classes)


def positive_index(classes: Sequence[Any], pos_label: Any = None) -> int | None:
    """Index of the positive class: ``pos_label``, else the second of two classes.

    >>> positive_index((0, 1)), positive_index(("a", "b", "c")), positive_index("abc", "c")
    (1, None, 2)
    """
    if pos_label is not None:
        for i, c in enumerate(classes):
            if c == pos_label or str(c) == str(pos_label):
                return i
        raise ValidationError(f"positive class {pos_label!r} is not among the classes "
                              f"{', '.join(map(repr, classes))}", fix="name one of them")
    return 1 if len(classes) == 2 else None


# -- vectorised metrics over stacks of confusion matrices -------------------------------

def _div(num: FloatArray, den: FloatArray, zero_division: float) -> FloatArray:
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.full(num.shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _mean(values: FloatArray, keep: npt.NDArray[np.bool_], weights: FloatArray | None,
          zero_division: float) -> FloatArray:
    """Mean over the last axis of the kept, non-NaN entries (weighted when asked)."""
    keep = keep & ~np.isnan(values)
    w = keep.astype(np.float64) if weights is None else np.where(keep, weights, 0.0)
    return _div((np.where(keep, values, 0.0) * w).sum(-1), w.sum(-1), zero_division)


def per_class(counts: npt.ArrayLike, name: str, zero_division: float = 0.0) -> FloatArray:
    """One value per class ``(..., k)`` of a per-class metric (one-vs-rest)."""
    c = np.asarray(counts, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    support = c.sum(-1)
    predicted = c.sum(-2)
    n = support.sum(-1, keepdims=True)
    if name == "precision":
        return _div(tp, predicted, zero_division)
    if name == "recall":
        return _div(tp, support, zero_division)
    if name == "f1":
        return _div(2 * tp, support + predicted, zero_division)
    if name == "false_negative_rate":
        return _div(support - tp, support, zero_division)
    negatives = n - support
    if name == "false_positive_rate":
        return _div(predicted - tp, negatives, zero_division)
    if name == "true_negative_rate":
        return _div(n - support - predicted + tp, negatives, zero_division)
    if name == "selection_rate":
        return _div(predicted, np.broadcast_to(n, predicted.shape), zero_division)
    raise ValidationError(f"{name!r} is not a per-class metric",
                          fix=f"use one of: {', '.join(_PER_CLASS)}")


def metric_values(counts: npt.ArrayLike, name: str, classes: Sequence[Any], *,
                  pos_label: Any = None, zero_division: float = 0.0) -> FloatArray:
    """The metric ``name`` for each confusion matrix of a stack ``(..., k, k)`` → ``(...)``.

    >>> c = np.array([[[5, 1], [2, 2]], [[0, 0], [1, 3]]])
    >>> metric_values(c, "recall", (0, 1)).tolist()
    [0.5, 0.75]
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.shape[-1] != len(classes) or c.shape[-2] != len(classes):
        raise ValidationError(f"counts of shape {c.shape} do not match {len(classes)} classes",
                              fix="pass (..., k, k) counts for k classes")
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    support = c.sum(-1)
    predicted = c.sum(-2)
    n = support.sum(-1)
    if name == "accuracy":
        return _div(tp.sum(-1), n, zero_division)
    if name == "error_rate":
        return _div(n - tp.sum(-1), n, zero_division)
    if name == "balanced_accuracy":
        return _mean(per_class(c, "recall", zero_division), support > 0, None, zero_division)
    match = _CLASS_NAME.match(name)
    if match:
        base, label = match.groups()
        idx = positive_index(classes, label)
        assert idx is not None  # a label was given, so an index or an error
        return per_class(c, base, zero_division)[..., idx]
    base, _, avg = name.rpartition("_")
    if base in ("precision", "recall", "f1") and avg in ("macro", "micro", "weighted"):
        if avg == "micro":
            present = (support + predicted) > 0
            tps = np.where(present, tp, 0).sum(-1)
            if base == "precision":
                return _div(tps, np.where(present, predicted, 0).sum(-1), zero_division)
            if base == "recall":
                return _div(tps, np.where(present, support, 0).sum(-1), zero_division)
            return _div(2 * tps, np.where(present, support + predicted, 0).sum(-1),
                        zero_division)
        values = per_class(c, base, zero_division)
        weights = support if avg == "weighted" else None
        return _mean(values, (support + predicted) > 0, weights, zero_division)
    if name in _PER_CLASS:
        values = per_class(c, name, zero_division)
        pos = positive_index(classes, pos_label)
        if pos is not None:
            return values[..., pos]
        return _mean(values, (support + predicted) > 0, None, zero_division)
    raise ValidationError(f"unknown metric {name!r}",
                          fix=f"use one of: {', '.join(METRICS)}, or NAME[class]")


def check_metric(name: str, classes: Sequence[Any]) -> None:
    """Raise ValidationError now, before any work, when ``name`` cannot be computed."""
    metric_values(np.zeros((len(classes), len(classes))), name, classes)


# -- the mergeable statistic ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ConfusionCounts:
    """A k-by-k count matrix (rows: true class, columns: predicted) and its class labels."""

    matrix: IntArray
    classes: tuple[Any, ...]

    def __post_init__(self) -> None:
        k = len(self.classes)
        if self.matrix.shape != (k, k):
            raise ValidationError(f"a confusion matrix for {k} classes must be {k}x{k}, got "
                                  f"{self.matrix.shape}", fix="pass one row and column per class")

    @classmethod
    def from_codes(cls, true_codes: npt.ArrayLike, pred_codes: npt.ArrayLike,
                   classes: Sequence[Any]) -> ConfusionCounts:
        k = len(classes)
        t = np.asarray(true_codes, dtype=np.int64)
        p = np.asarray(pred_codes, dtype=np.int64)
        flat = np.bincount(t * k + p, minlength=k * k)
        return cls(flat.reshape(k, k).astype(np.int64), tuple(classes))

    @classmethod
    def from_labels(cls, y_true: Any, y_pred: Any,
                    classes: Sequence[Any] | None = None) -> ConfusionCounts:
        t, p, cl = encode_pair(y_true, y_pred, classes)
        return cls.from_codes(t, p, cl)

    @classmethod
    def empty(cls, classes: Sequence[Any]) -> ConfusionCounts:
        k = len(classes)
        return cls(np.zeros((k, k), dtype=np.int64), tuple(classes))

    def merge(self, other: ConfusionCounts) -> ConfusionCounts:
        """Counts of the union of both datasets (classes aligned by label)."""
        if other.classes == self.classes:
            return ConfusionCounts(self.matrix + other.matrix, self.classes)
        classes = sorted_classes([*self.classes, *other.classes])
        return self._embed(classes).merge(other._embed(classes))

    __add__ = merge

    def _embed(self, classes: tuple[Any, ...]) -> ConfusionCounts:
        idx = np.array([classes.index(c) for c in self.classes], dtype=np.int64)
        out = np.zeros((len(classes), len(classes)), dtype=np.int64)
        out[np.ix_(idx, idx)] = self.matrix
        return ConfusionCounts(out, classes)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ConfusionCounts) and other.classes == self.classes
                and bool(np.array_equal(other.matrix, self.matrix)))

    __hash__ = None  # type: ignore[assignment]

    @property
    def n(self) -> int:
        return int(self.matrix.sum())

    @property
    def support(self) -> IntArray:
        """True examples per class."""
        return np.asarray(self.matrix.sum(1), dtype=np.int64)

    @property
    def predicted(self) -> IntArray:
        """Predictions per class."""
        return np.asarray(self.matrix.sum(0), dtype=np.int64)

    @property
    def accuracy(self) -> float:
        return self.metric("accuracy")

    def metric(self, name: str, *, pos_label: Any = None, zero_division: float = 0.0) -> float:
        return float(metric_values(self.matrix, name, self.classes, pos_label=pos_label,
                                   zero_division=zero_division))

    def per_class(self, name: str, zero_division: float = 0.0) -> dict[Any, float]:
        values = per_class(self.matrix, name, zero_division)
        return {c: float(v) for c, v in zip(self.classes, values, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "matrix": self.matrix.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfusionCounts:
        return cls(np.asarray(d["matrix"], dtype=np.int64).reshape(
            len(d["classes"]), len(d["classes"])), tuple(d["classes"]))
