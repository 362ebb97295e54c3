"""Baselines a model is measured against: human level, an older version, a trivial model.

A :class:`Baseline` is an error rate overall and per tag, with the sample size behind
each, so :func:`rampup.analysis.error_analysis.analyse_errors` can compute the gap per tag
(``baseline_rates=baseline.error_rates``). Three ways to build one:

- :func:`human_baseline`: annotators' accuracy against the adjudicated or majority label
  (:func:`rampup.analysis.labels.human_level`), per tag;
- :func:`baseline_from_predictions`: another system's predictions on the same examples
  (e.g. the version in production);
- :func:`majority_baseline`: always predicting the most frequent training label.

Baselines are kept per model in the store as evaluations of kind ``baseline``, named,
under the version they apply to or ``"*"`` for every version (:func:`save_baseline`,
:func:`load_baselines`).

>>> tags = {"night": np.array([True, True, False, False])}
>>> b = majority_baseline("majority", np.array(["ok", "ok", "ok", "fraud"]), tags)
>>> b.source, b.error_rates
("always 'ok'", {'overall': 0.25, 'night': 0.0})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rampup.analysis.error_analysis import Tags, errors_of, tag_matrix
from rampup.analysis.labels import Ratings, human_level
from rampup.errors import NotFoundError, ValidationError
from rampup.store import Database, EvaluationRecord

Arr = np.ndarray[Any, Any]
KINDS = ("human", "version", "trivial")
MODEL_WIDE = "*"
"""The version under which a baseline for every version of a model is stored."""


@dataclass(frozen=True)
class Baseline:
    name: str
    kind: str  # one of KINDS
    error_rates: dict[str, float]  # "overall" and one entry per tag
    counts: dict[str, int] = field(default_factory=dict)  # examples behind each rate
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(f"baseline kind {self.kind!r} is not known",
                                  fix=f"use one of {', '.join(KINDS)}")

    @property
    def overall(self) -> float | None:
        return self.error_rates.get("overall")

    def to_result(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "error_rates": dict(self.error_rates),
                "counts": dict(self.counts), "source": self.source}

    @classmethod
    def from_record(cls, record: EvaluationRecord) -> Baseline:
        r = record.result
        return cls(name=record.name, kind=str(r.get("kind", "version")),
                   error_rates={str(k): float(v) for k, v in r.get("error_rates", {}).items()},
                   counts={str(k): int(v) for k, v in r.get("counts", {}).items()},
                   source=str(r.get("source", "")))


def baseline_from_errors(name: str, kind: str, errors: Arr, tags: Tags | None = None, *,
                         source: str = "") -> Baseline:
    """Overall and per-tag error rates of a boolean error vector (tags with no examples
    are left out)."""
    e = np.asarray(errors, dtype=bool)
    names, t = tag_matrix(tags or {}, len(e))
    n_tag = t.sum(axis=0)
    err_tag = e.astype(np.int64) @ t
    rates = {"overall": float(e.mean())} if len(e) else {}
    counts = {"overall": len(e)} if len(e) else {}
    for j, tag in enumerate(names):
        if n_tag[j]:
            rates[tag] = float(err_tag[j] / n_tag[j])
            counts[tag] = int(n_tag[j])
    return Baseline(name, kind, rates, counts, source)


def baseline_from_predictions(name: str, y_true: Any, y_pred: Any, tags: Tags | None = None,
                              *, kind: str = "version", source: str = "",
                              tolerance: float | None = None) -> Baseline:
    """Another system's errors on the same examples (``tolerance``: for regression)."""
    return baseline_from_errors(name, kind, errors_of(y_true, y_pred, tolerance=tolerance),
                                tags, source=source)


def majority_baseline(name: str, y_true: Any, tags: Tags | None = None, *,
                      train_labels: Any = None) -> Baseline:
    """Always predicting the most frequent label of ``train_labels`` (default: ``y_true``)."""
    train = pd.Series(np.asarray(y_true if train_labels is None else train_labels,
                                 dtype=object)).dropna()
    if train.empty:
        raise ValidationError("no labels to find the majority class in",
                              fix="pass labelled data")
    counts = train.value_counts(sort=False)
    top = counts.index[int(np.argmax(counts.to_numpy()))]
    y = np.asarray(y_true, dtype=object)
    return baseline_from_errors(name, "trivial", y != top, tags, source=f"always {top!r}")


def human_baseline(name: str, ratings: Ratings, *, reference: Mapping[Any, Any] | None = None,
                   tags: Tags | None = None) -> Baseline:
    """Human-level performance from several annotators' labels (tags: masks over the
    long-format rating rows)."""
    h = human_level(ratings, reference=reference, tags=tags)
    rates = {k: v for k, v in h.error_rates().items() if not np.isnan(v)}
    counts = {"overall": h.n, **{k: n for k, (_, n) in h.per_tag.items()}}
    return Baseline(name, "human", rates, {k: counts[k] for k in rates},
                    source=f"{len(ratings.annotator_ids)} annotators on "
                           f"{ratings.n_items} items ("
                           + ("adjudicated labels)" if reference is not None
                              else "leave-one-out majority)"))


def save_baseline(store: Database, model: str, baseline: Baseline, *, version: str = MODEL_WIDE,
                  actor: str = "cli") -> EvaluationRecord:
    """Keep ``baseline`` for ``model`` (for one version, or every version by default)."""
    return store.evaluations.add_evaluation(
        model, version, "baseline", name=baseline.name, actor=actor,
        summary={"kind": baseline.kind, "overall_error_rate": baseline.overall,
                 "source": baseline.source},
        result=baseline.to_result())


def load_baselines(store: Database, model: str, version: str | None = None) -> list[Baseline]:
    """The latest baseline of each name for ``model``: for ``version`` when one was stored
    for it, else the model-wide one. Sorted by name."""
    found: dict[str, tuple[int, Baseline]] = {}
    for rec in store.evaluations.list_evaluations(model, kind="baseline",
                                                  limit=1000):  # newest first
        if rec.version not in (MODEL_WIDE, version):
            continue
        rank = 0 if rec.version == version and version != MODEL_WIDE else 1
        if rec.name not in found or rank < found[rec.name][0]:
            found[rec.name] = (rank, Baseline.from_record(rec))
    return [b for _, (_, b) in sorted(found.items())]


def load_baseline(store: Database, model: str, name: str, version: str | None = None) -> Baseline:
    for b in load_baselines(store, model, version):
        if b.name == name:
            return b
    known = ", ".join(b.name for b in load_baselines(store, model, version)) or "none yet"
    raise NotFoundError(f"model {model!r} has no baseline named {name!r} (known: {known})",
                        fix="register one (e.g. 'rampup labels FILE --baseline-for MODEL') "
                            "or pick a known name")
