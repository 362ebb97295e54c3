"""How far a candidate agrees with the primary on the same requests (shadow mode).

:class:`Agreement` is an online, mergeable accumulator: ``update`` with aligned batches of
primary and candidate outputs (and scores and labels when known), ``merge`` windows or
replicas, ``result`` for the numbers. When the primary is the built-in ``human`` version
its outputs are the human decisions, so per-class agreement is human-vs-model agreement.

>>> a = Agreement()
>>> a.update(["yes", "no", "no", "yes"], ["yes", "no", "yes", "yes"],
...          primary_scores=[0.9, 0.8, 0.6, 0.7], candidate_scores=[0.9, 0.7, 0.5, 0.8],
...          labels=["yes", "no", "no", None])
>>> r = a.result()
>>> r.n, r.agreement, r.per_class
(4, 0.75, {'no': 0.5, 'yes': 1.0})
>>> r.matrix
{'no': {'no': 1, 'yes': 1}, 'yes': {'yes': 2}}
>>> r.labelled, r.primary_accuracy, round(r.candidate_accuracy or 0, 3)
(3, 1.0, 0.667)
>>> Agreement().update([1.5, 2.0], [1.0, 2.5]) is None
True
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

BINS = 20

FloatArray = npt.NDArray[np.float64]


def canonical(value: Any) -> str:
    """A class label as a string, so ``1``, ``1.0`` and ``"1"`` compare equal.

    >>> [canonical(v) for v in (1, 1.0, "1", True, 0.25, None, {"b": 1})]
    ['1', '1', '1', 'true', '0.25', 'null', '{"b":1}']
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY,
                        default=str).decode()


def as_number(value: Any) -> float | None:
    """A numeric output as a float; None for labels, booleans and missing values.

    >>> as_number(2), as_number("2.5"), as_number("yes"), as_number(True), as_number(None)
    (2.0, 2.5, None, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value)
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def score_histogram(scores: Iterable[float | None]) -> npt.NDArray[np.int64]:
    """Counts of scores in ``BINS`` equal bins over [0, 1] (values clipped, None/NaN skipped).

    >>> h = score_histogram([0.0, 0.04, 0.5, 1.0, 1.7, None])
    >>> h[:3].tolist(), int(h[10]), int(h[-1]), int(h.sum())
    ([2, 0, 0], 1, 2, 5)
    """
    arr = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64)
    arr = np.clip(arr[~np.isnan(arr)], 0.0, 1.0)
    counts, _ = np.histogram(arr, bins=BINS, range=(0.0, 1.0))
    return counts.astype(np.int64)


def js_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> float | None:
    """Jensen-Shannon distance (base 2, so in [0, 1]) of two histograms; None if one is empty.

    >>> js_distance([1, 0], [0, 1]), js_distance([3, 1], [6, 2]), js_distance([0, 0], [1, 1])
    (1.0, 0.0, None)
    """
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    if a.sum() <= 0 or b.sum() <= 0:
        return None
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2.0

    def kl(x: FloatArray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return math.sqrt(max(0.0, (kl(a) + kl(b)) / 2.0))


@dataclass(frozen=True)
class AgreementResult:
    """``matrix[primary][candidate]`` counts; ``per_class`` is agreement by primary class
    (human-vs-model agreement per class when the primary is a human). Accuracies are over
    the pairs with a label; ``per_class_accuracy`` maps the true class to (primary,
    candidate) accuracy."""

    n: int
    agreement: float | None
    matrix: dict[str, dict[str, int]]
    per_class: dict[str, float]
    n_numeric: int
    mean_abs_diff: float | None
    n_scores: tuple[int, int]
    score_divergence: float | None
    labelled: int
    primary_accuracy: float | None
    candidate_accuracy: float | None
    per_class_accuracy: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "agreement": self.agreement, "matrix": self.matrix,
            "per_class": self.per_class, "n_numeric": self.n_numeric,
            "mean_abs_diff": self.mean_abs_diff, "n_scores": list(self.n_scores),
            "score_divergence": self.score_divergence, "labelled": self.labelled,
            "primary_accuracy": self.primary_accuracy,
            "candidate_accuracy": self.candidate_accuracy,
            "per_class_accuracy": {k: list(v) for k, v in self.per_class_accuracy.items()},
        }


class Agreement:
    """Mergeable accumulator of candidate-vs-primary agreement."""

    __slots__ = ("abs_diff_sum", "candidate_hist", "labelled", "matrix", "n_numeric",
                 "primary_hist", "right")

    def __init__(self) -> None:
        self.matrix: Counter[tuple[str, str]] = Counter()
        self.n_numeric = 0
        self.abs_diff_sum = 0.0
        self.primary_hist = np.zeros(BINS, dtype=np.int64)
        self.candidate_hist = np.zeros(BINS, dtype=np.int64)
        self.labelled = 0
        # (true class, which) -> right answers, which in ("primary", "candidate", "n")
        self.right: Counter[tuple[str, str]] = Counter()

    def update(self, primary_preds: Sequence[Any], candidate_preds: Sequence[Any],
               primary_scores: Sequence[float | None] | None = None,
               candidate_scores: Sequence[float | None] | None = None,
               labels: Sequence[Any] | None = None) -> None:
        """Add aligned outputs of the same requests (labels: None where unknown)."""
        if len(primary_preds) != len(candidate_preds) or (
                labels is not None and len(labels) != len(primary_preds)):
            raise ValueError("primary, candidate and label sequences must have equal length")
        for i, (p, c) in enumerate(zip(primary_preds, candidate_preds, strict=True)):
            pc, cc = canonical(p), canonical(c)
            self.matrix[pc, cc] += 1
            pn, cn = as_number(p), as_number(c)
            if pn is not None and cn is not None:
                self.n_numeric += 1
                self.abs_diff_sum += abs(pn - cn)
            label = None if labels is None else labels[i]
            if label is not None:
                lc = canonical(label)
                self.labelled += 1
                self.right[lc, "n"] += 1
                self.right[lc, "primary"] += pc == lc
                self.right[lc, "candidate"] += cc == lc
        if primary_scores is not None:
            self.primary_hist += score_histogram(primary_scores)
        if candidate_scores is not None:
            self.candidate_hist += score_histogram(candidate_scores)

    def merge(self, other: Agreement) -> Agreement:
        out = Agreement()
        out.matrix = self.matrix + other.matrix
        out.n_numeric = self.n_numeric + other.n_numeric
        out.abs_diff_sum = self.abs_diff_sum + other.abs_diff_sum
        out.primary_hist = self.primary_hist + other.primary_hist
        out.candidate_hist = self.candidate_hist + other.candidate_hist
        out.labelled = self.labelled + other.labelled
        out.right = self.right + other.right
        return out

    __add__ = merge

    @property
    def n(self) -> int:
        return sum(self.matrix.values())

    @property
    def agreed(self) -> int:
        return sum(k for (p, c), k in self.matrix.items() if p == c)

    def result(self) -> AgreementResult:
        n = self.n
        matrix: dict[str, dict[str, int]] = {}
        for (p, c), k in sorted(self.matrix.items()):
            matrix.setdefault(p, {})[c] = k
        per_class = {p: row.get(p, 0) / sum(row.values()) for p, row in matrix.items()}
        classes = sorted({cls for cls, _ in self.right})
        per_class_acc = {
            cls: (self.right[cls, "primary"] / self.right[cls, "n"],
                  self.right[cls, "candidate"] / self.right[cls, "n"]) for cls in classes}
        lab = self.labelled
        primary_right = sum(self.right[c, "primary"] for c in classes)
        candidate_right = sum(self.right[c, "candidate"] for c in classes)
        return AgreementResult(
            n=n,
            agreement=self.agreed / n if n else None,
            matrix=matrix,
            per_class=per_class,
            n_numeric=self.n_numeric,
            mean_abs_diff=self.abs_diff_sum / self.n_numeric if self.n_numeric else None,
            n_scores=(int(self.primary_hist.sum()), int(self.candidate_hist.sum())),
            score_divergence=js_distance(self.primary_hist, self.candidate_hist),
            labelled=lab,
            primary_accuracy=primary_right / lab if lab else None,
            candidate_accuracy=candidate_right / lab if lab else None,
            per_class_accuracy=per_class_acc,
        )
