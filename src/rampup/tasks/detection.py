"""Detection metrics: mAP at IoU 0.5 with all-point interpolation.

A label is the list of ground-truth objects of one image, ``{"box": [x1, y1, x2, y2],
"class": c}``; a prediction the list of detections, each with a ``score`` too. Boxes are
corners in pixels; area is ``(x2 - x1) * (y2 - y1)`` (no +1, as COCO).

Per class, detections of all images are taken by descending score and each is matched,
as in COCO, to the unmatched ground truth of its class in its image with the highest
IoU, if that IoU is at least 0.5 (else it is a false positive). AP is the area under the
precision-recall curve with **all-point interpolation** (precision at each recall taken
as the highest precision at any recall at least as large, summed over every recall step,
as PASCAL VOC 2010+; COCO's own evaluator samples 101 recall points instead). mAP is the
mean AP over the classes with at least one ground-truth object; a class with objects but
no detections has AP 0; detections of classes with no objects are false positives of no
class AP and do not lower mAP.

Per image, ``recall_50`` (objects found at IoU 0.5) and ``precision_50`` (detections at
score >= ``score_threshold`` that found one) are sums, so slices, monitoring windows and
rollout checks read them as ratios of sums.

>>> gt = [[{"box": [0, 0, 10, 10], "class": "car"}]]
>>> det = [[{"box": [0, 0, 10, 9], "class": "car", "score": 0.9},
...         {"box": [20, 20, 30, 30], "class": "car", "score": 0.8}]]
>>> detection_map(gt, det)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IOU = 0.5


@dataclass(frozen=True)
class Box:
    cls: str
    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0


def _boxes(value: Any, what: str, scored: bool) -> list[Box]:
    if isinstance(value, dict):
        value = value.get("detections", value.get("objects", value.get("boxes")))
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{what} {value!r} is not a list of boxes",
                              fix='give a list of {"box": [x1, y1, x2, y2], "class": ...}')
    out = []
    for i, b in enumerate(value):
        if not isinstance(b, dict) or "box" not in b or "class" not in b:
            raise ValidationError(f"{what} item {i} is not a box with a class",
                                  fix='write {"box": [x1, y1, x2, y2], "class": "car"'
                                      + (', "score": 0.9}' if scored else "}"))
        try:
            x1, y1, x2, y2 = (float(v) for v in b["box"])
            score = float(b.get("score", 1.0))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{what} item {i} has box {b['box']!r}",
                                  fix="give four numbers: x1, y1, x2, y2") from exc
        if x2 < x1 or y2 < y1:
            raise ValidationError(f"{what} item {i} has box {b['box']!r} with x2 < x1 or "
                                  "y2 < y1", fix="give corners as [x1, y1, x2, y2]")
        out.append(Box(str(b["class"]), x1, y1, x2, y2, score))
    return out


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes.

    >>> iou(Box("c", 0, 0, 2, 2), Box("c", 1, 0, 3, 2))
    0.3333333333333333
    """
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def _match(gts: list[Box], dets: list[Box], threshold: float) -> list[bool]:
    """Greedy COCO matching in one image: each detection (by descending score) takes the
    unmatched same-class object of highest IoU >= threshold. True = true positive."""
    used = [False] * len(gts)
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    tp = [False] * len(dets)
    for i in order:
        d = dets[i]
        best, best_j = threshold, -1
        for j, g in enumerate(gts):
            if used[j] or g.cls != d.cls:
                continue
            v = iou(d, g)
            if v >= best:
                best, best_j = v, j
        if best_j >= 0:
            used[best_j] = True
            tp[i] = True
    return tp


def average_precision(scores: Sequence[float], tp: Sequence[bool], n_gt: int) -> float:
    """All-point interpolated AP of detections (``scores``, true positive or not) against
    ``n_gt`` objects.

    >>> average_precision([0.9, 0.8, 0.7], [True, False, True], 2)
    0.8333333333333333
    """
    if n_gt == 0:
        return float("nan")
    if not len(scores):
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=np.float64)[order]
    ctp = np.cumsum(hits)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(hits) + 1)
    env = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * env).sum())


def detection_ap(labels: Sequence[Any], predictions: Sequence[Any], *, threshold: float = IOU
                 ) -> dict[str, float]:
    """AP at IoU ``threshold`` per class with at least one object."""
    if len(labels) != len(predictions):
        raise ValidationError(f"{len(labels)} labels but {len(predictions)} detections",
                              fix="give one list of detections per image")
    per_class: dict[str, tuple[list[float], list[bool], int]] = {}
    for label, pred in zip(labels, predictions, strict=True):
        gts = _boxes(label, "ground truth", scored=False)
        dets = _boxes(pred, "detection", scored=True)
        tp = _match(gts, dets, threshold)
        for g in gts:
            per_class.setdefault(g.cls, ([], [], 0))
            s, t, n = per_class[g.cls]
            per_class[g.cls] = (s, t, n + 1)
        for d, hit in zip(dets, tp, strict=True):
            s, t, _ = per_class.setdefault(d.cls, ([], [], 0))
            s.append(d.score)
            t.append(hit)
    return {c: average_precision(s, t, n) for c, (s, t, n) in sorted(per_class.items())
            if n > 0}


def detection_map(labels: Sequence[Any], predictions: Sequence[Any], *,
                  threshold: float = IOU) -> float:
    """mAP at IoU ``threshold`` (NaN when no image has an object)."""
    aps = detection_ap(labels, predictions, threshold=threshold)
    return float(np.mean(list(aps.values()))) if aps else float("nan")


@dataclass(frozen=True, eq=False)
class DetectionStats:
    """Per image: objects, objects found, detections kept, detections that found one."""

    objects: FloatArray
    found: FloatArray
    detections: FloatArray
    correct: FloatArray


def detection_stats(labels: Sequence[Any], predictions: Sequence[Any], *,
                    threshold: float = IOU, score_threshold: float = 0.5) -> DetectionStats:
    """Per-image counts at IoU ``threshold`` for detections scoring >= ``score_threshold``."""
    rows = []
    for label, pred in zip(labels, predictions, strict=True):
        gts = _boxes(label, "ground truth", scored=False)
        dets = [d for d in _boxes(pred, "detection", scored=True) if d.score >= score_threshold]
        tp = _match(gts, dets, threshold)
        rows.append((len(gts), sum(tp), len(dets), sum(tp)))
    a = np.asarray(rows, dtype=np.float64).reshape(len(rows), 4)
    return DetectionStats(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
