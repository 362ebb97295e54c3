"""Output and performance aggregates of one window.

Outputs: null/empty outputs, class counts, the confidence and numeric-output sketches,
output length. Performance (once labels arrive): confusion counts for classes, absolute
and squared error sums for numbers. A corrected label is retracted (``sign=-1``) and the
new one added, so a window always reflects each prediction's latest label.

>>> p = PerformanceAgg()
>>> for y, pred in [(1, 1), (0, 1), (1, 1), (0, 0)]:
...     p.add(y, pred, regression=False)
>>> p.labelled, p.accuracy(), p.per_class("1")
(4, 0.75, (0.6666666666666666, 1.0, 0.8))
>>> p.add(0, 1, regression=False, sign=-1); p.add(1, 1, regression=False)  # a correction
>>> p.labelled, p.accuracy()
(4, 1.0)
>>> canon(1.0), canon(True), canon("a")
('1', 'True', 'a')
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import orjson

from rampup.monitor.sketch import QuantileSketch
from rampup.monitor.stats import OTHER, Moments, TopCounts

CLASS_CAPACITY = 64
CONFUSION_CAPACITY = 1024
SEP = "\x1f"


def canon(v: Any) -> str:
    """A class label as text, so ``1``, ``1.0`` and ``"1"`` compare equal."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_empty(v: Any) -> bool:
    return v is None or (isinstance(v, str | list | dict) and len(v) == 0) or (
        isinstance(v, float) and math.isnan(v))


class OutputAgg:
    __slots__ = ("classes", "confidence", "length", "n", "null", "pending", "values")

    def __init__(self) -> None:
        self.n = 0
        self.null = 0
        self.pending = 0  # answered "pending_human": not a model output
        self.classes = TopCounts(CLASS_CAPACITY)
        self.confidence = QuantileSketch()
        self.values = QuantileSketch()
        self.length = Moments()

    def update(self, outputs: list[Any], confidences: list[float | None],
               output_kind: str) -> None:
        """``outputs``: the response items (``{"prediction": ...}``) of successful records."""
        preds = []
        for item in outputs:
            if type(item) is dict:
                if item.get("status") == "pending_human":
                    self.pending += 1
                    continue
                preds.append(item.get("prediction"))
            else:
                preds.append(item)
        self.n += len(preds)
        present = [p for p in preds if p is not None and not is_empty(p)]
        self.null += len(preds) - len(present)
        if output_kind == "class":
            try:
                kinds = Counter(present)  # few distinct classes: canonicalise each once
            except TypeError:  # unhashable "classes" (lists, objects)
                kinds = Counter(canon(p) for p in present)
        elif output_kind == "free":
            kinds = Counter(p for p in present if isinstance(p, str | bool | int))
        else:
            kinds = Counter()
        if kinds:
            classes: dict[str, int] = {}
            for value, n in kinds.items():
                key = canon(value)
                classes[key] = classes.get(key, 0) + n
            self.classes.add_counts(classes)
        if output_kind != "class":
            numbers = [float(p) for p in present if type(p) is float or type(p) is int]
            if numbers:
                self.values.update_many(numbers)
        lengths = [float(len(p)) for p in present if isinstance(p, str | list)]
        if lengths:
            self.length.update_many(np.asarray(lengths, dtype=np.float64))
        conf = [c for c in confidences if c is not None]
        if conf:
            self.confidence.update_many(conf)

    def merge(self, other: OutputAgg) -> OutputAgg:
        self.n += other.n
        self.null += other.null
        self.pending += other.pending
        self.classes.merge(other.classes)
        self.confidence.merge(other.confidence)
        self.values.merge(other.values)
        self.length.merge(other.length)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "null": self.null, "pending": self.pending,
                "classes": self.classes.to_dict(), "confidence": self.confidence.to_dict(),
                "values": self.values.to_dict(), "length": self.length.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutputAgg:
        o = cls()
        o.n, o.null, o.pending = int(d["n"]), int(d["null"]), int(d["pending"])
        o.classes = TopCounts.from_dict(d["classes"])
        o.confidence = QuantileSketch.from_dict(d["confidence"])
        o.values = QuantileSketch.from_dict(d["values"])
        o.length = Moments.from_dict(d["length"])
        return o


class PerformanceAgg:
    """Labelled predictions: confusion cells ``true<SEP>pred``, regression error sums and,
    for task outputs, ``task``: metric -> [numerator, denominator] sums (word edits and
    reference words for ``wer`` ...; see :mod:`rampup.tasks.family`)."""

    __slots__ = ("abs_sum", "cells", "labelled", "reg_n", "sq_sum", "task")

    def __init__(self) -> None:
        self.labelled = 0
        self.cells: dict[str, int] = {}
        self.reg_n = 0
        self.abs_sum = 0.0
        self.sq_sum = 0.0
        self.task: dict[str, list[float]] = {}

    def add_task(self, parts: dict[str, tuple[float, float]], sign: int = 1) -> None:
        """A labelled task prediction: its per-row parts of each task metric."""
        self.labelled += sign
        for metric, (num, den) in parts.items():
            acc = self.task.setdefault(metric, [0.0, 0.0])
            acc[0] += sign * num
            acc[1] += sign * den

    def task_metric(self, metric: str) -> float | None:
        acc = self.task.get(metric)
        return acc[0] / acc[1] if acc and acc[1] > 0 else None

    def add(self, label: Any, prediction: Any, *, regression: bool, sign: int = 1) -> None:
        self.labelled += sign
        if regression:
            err = float(prediction) - float(label)
            self.reg_n += sign
            self.abs_sum += sign * abs(err)
            self.sq_sum += sign * err * err
            return
        cell = f"{canon(label)}{SEP}{canon(prediction)}"
        if cell not in self.cells and len(self.cells) >= CONFUSION_CAPACITY:
            cell = f"{OTHER}{SEP}{OTHER}"
        n = self.cells.get(cell, 0) + sign
        if n:
            self.cells[cell] = n
        else:
            self.cells.pop(cell, None)

    def add_unscored(self, sign: int = 1) -> None:
        """A label for a prediction without an output (an error, or a human decision)."""
        self.labelled += sign

    def merge(self, other: PerformanceAgg) -> PerformanceAgg:
        self.labelled += other.labelled
        for cell, n in other.cells.items():
            self.cells[cell] = self.cells.get(cell, 0) + n
        self.reg_n += other.reg_n
        self.abs_sum += other.abs_sum
        self.sq_sum += other.sq_sum
        for metric, (num, den) in other.task.items():
            acc = self.task.setdefault(metric, [0.0, 0.0])
            acc[0] += num
            acc[1] += den
        return self

    def _pairs(self) -> list[tuple[str, str, int]]:
        return [(*cell.split(SEP, 1), n) for cell, n in self.cells.items()]  # type: ignore[misc]

    @property
    def classified(self) -> int:
        return sum(self.cells.values())

    def accuracy(self) -> float | None:
        total = self.classified
        if not total:
            return None
        return sum(n for t, p, n in self._pairs() if t == p and t != OTHER) / total

    def classes(self) -> list[str]:
        seen = {t for t, _, _ in self._pairs()} | {p for _, p, _ in self._pairs()}
        return sorted(seen - {OTHER})

    def per_class(self, c: str) -> tuple[float | None, float | None, float | None]:
        """(precision, recall, F1) of class ``c``; None where undefined."""
        tp = sum(n for t, p, n in self._pairs() if t == c and p == c)
        predicted = sum(n for _, p, n in self._pairs() if p == c)
        actual = sum(n for t, _, n in self._pairs() if t == c)
        precision = tp / predicted if predicted else None
        recall = tp / actual if actual else None
        if precision is None or recall is None:
            f1 = None
        else:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def macro(self) -> tuple[float | None, float | None, float | None]:
        """Macro averages over the classes seen in labels or predictions (undefined → 0)."""
        classes = self.classes()
        if not classes:
            return None, None, None
        rows = [self.per_class(c) for c in classes]
        return tuple(sum(r[i] or 0.0 for r in rows) / len(rows)  # type: ignore[return-value]
                     for i in range(3))

    def mae(self) -> float | None:
        return self.abs_sum / self.reg_n if self.reg_n else None

    def rmse(self) -> float | None:
        return math.sqrt(max(self.sq_sum, 0.0) / self.reg_n) if self.reg_n else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"labelled": self.labelled, "cells": self.cells,
                             "reg_n": self.reg_n, "abs_sum": self.abs_sum,
                             "sq_sum": self.sq_sum}
        if self.task:
            d["task"] = {k: list(v) for k, v in self.task.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerformanceAgg:
        p = cls()
        p.labelled, p.reg_n = int(d["labelled"]), int(d["reg_n"])
        p.cells = {str(k): int(v) for k, v in d["cells"].items()}
        p.abs_sum, p.sq_sum = float(d["abs_sum"]), float(d["sq_sum"])
        p.task = {str(k): [float(v[0]), float(v[1])] for k, v in d.get("task", {}).items()}
        return p
