"""Task metric families: one interface for transcription, ranking and detection.

A family turns labels and predictions of its task into **per-row ratio parts**: for each
metric a numerator and a denominator per row, so the metric of any set of rows is
``sum(numerator) / sum(denominator)``. Corpus WER (word edits / reference words), MRR
(reciprocal ranks / queries with a relevant item) and detection recall (objects found /
objects) all have this form, which is what lets slices, tags, bootstrap resamples,
monitoring windows and rollout checks share one code path: sums merge.

One metric is not a ratio of sums — detection mAP, whose precision-recall curve pools
all images — and :meth:`TaskFamily.compute` recomputes it from the rows of a subset.

Each family names an **error measure** (a ratio metric where lower is better, e.g.
``wer``; for ranking ``1 - AP@k``; for detection the share of objects missed) that
tag-based error analysis uses in place of "wrong class".

>>> fam = family("ranking", k=2)
>>> fam.metrics
('mrr', 'recall_at_2', 'ndcg_at_2', 'map_at_2')
>>> fam.compute([["a"], ["b"]], [["a", "b"], ["b", "a"]])["mrr"]
1.0
>>> fam.higher_is_better("map_at_2"), family("transcription").higher_is_better("wer")
(True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
TASKS = ("transcription", "ranking", "detection")
Parts = dict[str, tuple[FloatArray, FloatArray]]


def parse_value(value: Any) -> Any:
    """A label or prediction as data: JSON text (as a CSV cell holds a list) is decoded,
    anything else is returned as it is.

    >>> parse_value('["a", "b"]'), parse_value("hello")
    (['a', 'b'], 'hello')
    """
    if isinstance(value, str | bytes) and value[:1] in ("[", "{", b"[", b"{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def ratio(num: FloatArray, den: FloatArray) -> float:
    """``sum(num) / sum(den)``; NaN when there is no denominator."""
    d = float(np.sum(den))
    return float(np.sum(num)) / d if d > 0 else float("nan")


@dataclass(frozen=True)
class TaskFamily:
    """The metrics of one task. ``k``: the ranking cut-off; ``score_threshold``: the
    score from which a detection counts as made (per-image recall and precision)."""

    name: str
    k: int = 10
    score_threshold: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValidationError(f"unknown task {self.name!r}",
                                  fix=f"use one of: {', '.join(TASKS)}")

    @property
    def metrics(self) -> tuple[str, ...]:
        if self.name == "transcription":
            return ("wer", "cer")
        if self.name == "ranking":
            return ("mrr", f"recall_at_{self.k}", f"ndcg_at_{self.k}", f"map_at_{self.k}")
        return ("map_50", "recall_50", "precision_50")

    @property
    def error_metric(self) -> str:
        """The per-row error measure used by tag-based error analysis."""
        return {"transcription": "wer", "ranking": f"map_at_{self.k}_loss",
                "detection": "miss_rate_50"}[self.name]

    @property
    def pooled(self) -> tuple[str, ...]:
        """Metrics that are not ratios of per-row sums (recomputed per subset)."""
        return ("map_50",) if self.name == "detection" else ()

    def higher_is_better(self, metric: str) -> bool:
        return metric not in ("wer", "cer") and not metric.endswith(("_loss", "miss_rate_50"))

    def parts(self, labels: Sequence[Any], predictions: Sequence[Any]) -> Parts:
        """Per-row numerators and denominators of every ratio metric and of the error
        measure."""
        labels = [parse_value(v) for v in labels]
        predictions = [parse_value(v) for v in predictions]
        if self.name == "transcription":
            from rampup.tasks.transcription import transcript_stats

            t = transcript_stats(labels, predictions, **self.options)
            return {"wer": (t.wer_edits, t.words), "cer": (t.cer_edits, t.chars)}
        if self.name == "ranking":
            from rampup.tasks.ranking import ranking_stats

            r = ranking_stats(labels, predictions, k=self.k)
            v = r.valid.astype(np.float64)
            k = self.k
            return {"mrr": (r.rr, v), f"recall_at_{k}": (r.recall, v),
                    f"ndcg_at_{k}": (r.ndcg, v), f"map_at_{k}": (r.ap, v),
                    f"map_at_{k}_loss": (v - r.ap * v, v)}
        from rampup.tasks.detection import detection_stats

        d = detection_stats(labels, predictions, score_threshold=self.score_threshold)
        return {"recall_50": (d.found, d.objects), "precision_50": (d.correct, d.detections),
                "miss_rate_50": (d.objects - d.found, d.objects)}

    def compute(self, labels: Sequence[Any], predictions: Sequence[Any],
                parts: Parts | None = None, rows: npt.ArrayLike | None = None
                ) -> dict[str, float]:
        """Every metric over the rows ``rows`` (all by default); ``parts`` reuses
        :meth:`parts` already computed for all rows."""
        p = parts if parts is not None else self.parts(labels, predictions)
        idx = None if rows is None else np.asarray(rows)
        out = {}
        for m in self.metrics:
            if m in self.pooled:
                continue
            num, den = p[m]
            out[m] = ratio(num, den) if idx is None else ratio(num[idx], den[idx])
        if self.pooled:
            out = {"map_50": self.pooled_value(labels, predictions, idx), **out}
        return out

    def pooled_value(self, labels: Sequence[Any], predictions: Sequence[Any],
                     rows: npt.ArrayLike | None = None) -> float:
        """The pooled metric (detection mAP) over ``rows`` (indices, repeats allowed)."""
        from rampup.tasks.detection import detection_map

        ls = [parse_value(v) for v in labels]
        ps = [parse_value(v) for v in predictions]
        if rows is not None:
            sel = np.arange(len(ls))[np.asarray(rows)]
            ls, ps = [ls[i] for i in sel], [ps[i] for i in sel]
        return detection_map(ls, ps)


def family(name: str, **kw: Any) -> TaskFamily:
    """The metric family of task ``name`` (``transcription``, ``ranking``, ``detection``)."""
    return TaskFamily(name, **kw)


def family_of_metric(metric: str) -> TaskFamily:
    """The family that defines ``metric`` (``wer``, ``ndcg_at_5`` (k = 5), ``map_50`` ...).

    >>> family_of_metric("ndcg_at_5").k, family_of_metric("cer").name
    (5, 'transcription')
    """
    if metric in ("wer", "cer"):
        return TaskFamily("transcription")
    if metric in ("map_50", "recall_50", "precision_50", "miss_rate_50"):
        return TaskFamily("detection")
    if metric == "mrr":
        return TaskFamily("ranking")
    head, sep, k = metric.rpartition("_at_")
    if sep and head in ("recall", "ndcg", "map") and k.isdigit() and int(k) > 0:
        return TaskFamily("ranking", k=int(k))
    raise ValidationError(f"{metric!r} is not a task metric",
                          fix="use wer, cer, mrr, recall_at_K, ndcg_at_K, map_at_K, map_50, "
                              "recall_50 or precision_50")


def task_metric_names(k: int = 10) -> dict[str, str]:
    """Every task metric name (ranking ones at cut-off ``k``) -> its task."""
    out: dict[str, str] = {}
    for t in TASKS:
        for m in TaskFamily(t, k=k).metrics:
            out[m] = t
    return out
