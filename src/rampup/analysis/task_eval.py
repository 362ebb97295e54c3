"""Evaluation of transcription, ranking and detection outputs: overall metrics, metrics per
slice with bootstrap intervals, and the per-row error measure for tag-based analysis.

The metrics come from a :class:`~rampup.tasks.family.TaskFamily`. Ratio metrics (WER,
MRR, recall@k ...) of a slice are sums of per-row parts, and a bootstrap resample is a
vector of row weights, so every interval is one matrix product; detection mAP pools
the images of a resample and is recomputed per resample (at most ``POOLED_RESAMPLES``).

>>> from rampup.tasks import family
>>> fam = family("transcription")
>>> refs = ["call mom", "play jazz", "stop", "call dad"]
>>> hyps = ["call tom", "play jazz", "", "call dad"]
>>> r, table = task_evaluation(fam, refs, hyps, [], bootstrap=0)
>>> r["wer"], table.overall.values["wer"]
(0.2857142857142857, 0.2857142857142857)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.analysis.bootstrap import check_ci, percentile_interval, rng_from
from rampup.analysis.groupings import Grouping
from rampup.analysis.slices import SliceRow, SliceTable
from rampup.tasks.family import Parts, TaskFamily

POOLED_RESAMPLES = 100
SMALL_SAMPLE = 30


def row_errors(fam: TaskFamily, labels: Sequence[Any], predictions: Sequence[Any],
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row: the amount of error and its weight under the family's error measure
    (word edits and reference words for WER; 1 - AP@k and 1 for ranking; objects missed
    and objects for detection). The error rate of any set of rows is
    ``sum(amount) / sum(weight)``."""
    num, den = fam.parts(labels, predictions)[fam.error_metric]
    return num, den


def _intervals(fam: TaskFamily, labels: Sequence[Any], predictions: Sequence[Any],
               parts: Parts, rows: npt.NDArray[np.int64], bootstrap: int, ci: float,
               rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    if bootstrap <= 0 or len(rows) < 2:
        return {}
    draws = rng.multinomial(len(rows), np.full(len(rows), 1.0 / len(rows)), size=bootstrap)
    out: dict[str, tuple[float, float]] = {}
    for m in fam.metrics:
        if m in fam.pooled:
            samples = []
            for w in draws[:POOLED_RESAMPLES]:
                picked = np.repeat(rows, w)
                samples.append(fam.compute(labels, predictions, parts, rows=picked)[m])
            vals = np.asarray(samples, dtype=np.float64)
        else:
            num, den = parts[m]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = (draws @ num[rows]) / (draws @ den[rows])
        vals = vals[np.isfinite(vals)]
        if vals.size:
            lo, hi = percentile_interval(vals, ci)
            out[m] = (float(lo), float(hi))
    return out


def task_slices(fam: TaskFamily, labels: Sequence[Any], predictions: Sequence[Any],
                groupings: Sequence[Grouping], *, parts: Parts | None = None,
                bootstrap: int = 200, ci: float = 0.95, seed: int = 0) -> SliceTable:
    """The family's metrics overall and per slice of each grouping."""
    check_ci(ci)
    p = parts if parts is not None else fam.parts(labels, predictions)
    rng = rng_from(seed)
    n = len(labels)

    def row(grouping: str, label: str, rows: npt.NDArray[np.int64]) -> SliceRow:
        values = fam.compute(labels, predictions, p, rows=rows) if len(rows) else {
            m: float("nan") for m in fam.metrics}
        return SliceRow(grouping, label, len(rows), values,
                        _intervals(fam, labels, predictions, p, rows, bootstrap, ci, rng))

    overall = row("all", "all", np.arange(n))
    rows = [row(g.name, lab, np.flatnonzero(g.mask(i)))
            for g in groupings for i, lab in enumerate(g.labels)]
    return SliceTable(fam.metrics, overall, tuple(rows), ci=ci,
                      n_resamples=max(bootstrap, 0))


def task_evaluation(fam: TaskFamily, labels: Sequence[Any], predictions: Sequence[Any],
                    groupings: Sequence[Grouping], *, bootstrap: int = 200, ci: float = 0.95,
                    seed: int = 0) -> tuple[dict[str, Any], SliceTable]:
    """The JSON-ready result (``kind`` is the task, one key per metric) and the slices."""
    parts = fam.parts(labels, predictions)
    table = task_slices(fam, labels, predictions, groupings, parts=parts,
                        bootstrap=bootstrap, ci=ci, seed=seed)
    metrics = dict(table.overall.values)
    warnings = []
    n = len(labels)
    if n < SMALL_SAMPLE:
        warnings.append(f"only {n} examples: every metric here is noisy")
    scored = int(np.count_nonzero(parts[fam.error_metric][1]))
    if scored < n:
        what = {"transcription": "an empty reference", "ranking": "no relevant item",
                "detection": "no object"}[fam.name]
        warnings.append(f"{n - scored} of {n} examples have {what}: they add nothing to "
                        "the ratio metrics")
    result: dict[str, Any] = {"kind": fam.name, "task": fam.name, "n": n, **metrics,
                              "metrics": metrics, "warnings": warnings}
    if fam.name == "ranking":
        result["k"] = fam.k
        result["definitions"] = ("AP@k is normalised by min(k, number of relevant items); "
                                 "queries with no relevant item are left out")
    elif fam.name == "detection":
        result["definitions"] = ("mAP at IoU 0.5, all-point interpolation, COCO greedy "
                                 "matching by score; recall/precision at score >= "
                                 f"{fam.score_threshold}")
    else:
        result["definitions"] = ("corpus WER/CER: edits summed over utterances / reference "
                                 "words (characters); case and punctuation ignored")
    return result, table
