"""Evaluate a registered version on labelled data, or compare two; keep the result.

The Python API behind ``rampup evaluate`` and ``rampup compare``::

    from rampup.analysis.evaluate import evaluate, compare_versions
    ev = evaluate(registry, "loan@v2", "holdout.parquet", label_column="default",
                  slices=["city", "age:4"])
    ev.result["accuracy"], ev.slices.rows[0].intervals
    Path("report.html").write_text(render(ev.report, "html"))
    cmp = compare_versions(registry, "loan@v1", "loan@v2", "holdout.parquet",
                           label_column="default")

``store=True`` keeps the result with the version (``store.evaluations.add_evaluation``: kind
``evaluation``, or ``comparison`` kept with the challenger), named after the data.
:func:`evaluate_predictions` is the same evaluation for predictions you already have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rampup.analysis.compare import Comparison, compare
from rampup.analysis.data import (
    Dataset,
    Predictions,
    Progress,
    align_labels,
    column_predictions,
    load_dataset,
    model_predictions,
)
from rampup.analysis.groupings import Grouping, from_frame
from rampup.analysis.metrics import classification_report, regression_report
from rampup.analysis.report import Report, jsonable
from rampup.analysis.sections import (
    classification_sections,
    comparison_sections,
    regression_sections,
    slice_sections,
    task_sections,
)
from rampup.analysis.slices import SliceTable, slice_metrics
from rampup.analysis.task_eval import task_evaluation
from rampup.errors import ValidationError
from rampup.tasks.family import TASKS, family

if TYPE_CHECKING:
    from rampup.registry.registry import Registry
    from rampup.store import VersionRecord

CLASS_METRICS = ("accuracy", "precision", "recall", "f1")
REGRESSION_METRICS = ("mae", "rmse", "r2")
Slices = Sequence[str | Grouping]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """``result``: the full JSON-ready result; ``report``: it as a Report; ``record_id``:
    the stored evaluation's id (None when not stored)."""

    target: str
    data: str
    result: dict[str, Any]
    slices: SliceTable | None
    report: Report
    record_id: int | None = None

    def summary(self) -> dict[str, Any]:
        """The headline numbers (stored as the record's summary)."""
        r = self.result
        out: dict[str, Any] = {"data": self.data, "n": r["n"], "kind": r["kind"]}
        if r["kind"] == "classification":
            out.update(accuracy=r["accuracy"], balanced_accuracy=r["balanced_accuracy"],
                       f1_macro=r["averages"]["macro"]["f1"], roc_auc=r["roc_auc"],
                       pr_auc=r["pr_auc"],
                       majority_baseline=r["majority_baseline"]["accuracy"])
            if r.get("positive"):
                out.update({f"{m}_positive": v for m, v in r["positive"].items()})
        elif r["kind"] == "regression":
            out.update(mae=r["mae"], rmse=r["rmse"], r2=r["r2"], bias=r["bias"])
        else:
            out.update(r["metrics"])
        out["warnings"] = len(r["warnings"])
        return jsonable(out)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class VersionComparison:
    champion: str
    challenger: str
    data: str
    comparison: Comparison
    report: Report
    record_id: int | None = None

    def summary(self) -> dict[str, Any]:
        c = self.comparison
        return jsonable({  # type: ignore[no-any-return]
            "data": self.data, "n": c.n, "champion": self.champion,
            "challenger": self.challenger, "agreement": c.agreement,
            "mcnemar_p": c.mcnemar.p_value if c.mcnemar else None,
            "deltas": {d.metric: d.delta for d in c.deltas},
            "better": {d.metric: d.better for d in c.deltas}})


def parse_target(target: str) -> tuple[str, str | None]:
    """``"model@version"`` → (model, version); ``"model"`` → (model, None).

    >>> parse_target("loan@v2"), parse_target("loan")
    (('loan', 'v2'), ('loan', None))
    """
    model, sep, version = target.partition("@")
    if not model or (sep and not version):
        raise ValidationError(f"{target!r} is not MODEL@VERSION", fix="write e.g. loan@v2")
    return model, version or None


def resolve_version(registry: Registry, target: str) -> VersionRecord:
    """The version named by ``target``; a bare model name means its live version (the
    largest route of the current deployment), else its latest."""
    model, version = parse_target(target)
    if version is not None:
        return registry.get(model, version)
    dep = registry.store.deployments.current_deployment(model)
    routes = (dep.policy.get("routes") or {}) if dep is not None else {}
    if routes:
        return registry.get(model, max(routes, key=lambda v: float(routes[v])))
    return registry.latest(model)


def _groupings(dataset: Dataset, slices: Slices) -> list[Grouping]:
    specs = [s for s in slices if isinstance(s, str)]
    built = iter(from_frame(dataset.frame, specs))
    return [next(built) if isinstance(s, str) else s for s in slices]


def evaluate_predictions(
    dataset: Dataset, predictions: Predictions, *, slices: Slices = (),
    metrics: Sequence[str] | None = None, bootstrap: int = 200, ci: float = 0.95,
    seed: int = 0, pos_label: Any = None, title: str | None = None, k: int = 10,
) -> Evaluation:
    """Evaluate predictions of every row of ``dataset`` (pure: nothing is stored).
    Predictions of a task (``predictions.kind`` transcription, ranking, detection) are
    scored with its metric family (``k``: the ranking cut-off)."""
    groupings = _groupings(dataset, slices)
    labels = dataset.labels
    whole = groupings or [Grouping("all", ("all",), codes=np.zeros(len(labels), np.int64))]
    if predictions.kind in TASKS:
        fam = family(predictions.kind, k=k)
        result, table = task_evaluation(fam, labels.tolist(), list(predictions.values),
                                        groupings, bootstrap=bootstrap, ci=ci, seed=seed)
        if metrics:
            unknown = [m for m in metrics if m not in fam.metrics]
            if unknown:
                raise ValidationError(f"{', '.join(unknown)} is not a {fam.name} metric",
                                      fix=f"use: {', '.join(fam.metrics)}")
    elif predictions.kind == "number":
        result = regression_report(labels, predictions.values)
        table = slice_metrics(labels, predictions.values, whole,
                              tuple(metrics or REGRESSION_METRICS), bootstrap=bootstrap,
                              ci=ci, seed=seed)
    else:
        labels = align_labels(labels, predictions.classes)
        classes = _classes(labels, predictions)
        scores = predictions.scores if classes == predictions.classes or (
            predictions.scores is not None and predictions.scores.ndim == 1) else None
        result = classification_report(labels, predictions.values, scores, classes,
                                       pos_label=pos_label)
        mets = tuple(metrics or CLASS_METRICS)
        if result.get("roc_auc") is not None and metrics is None:
            mets += ("roc_auc",)
        table = slice_metrics(labels, predictions.values, whole, mets, scores=scores,
                              classes=classes, pos_label=pos_label, bootstrap=bootstrap,
                              ci=ci, seed=seed)
    result["slices"] = table.to_dict() if groupings else None
    result["overall_intervals"] = {m: list(v) for m, v in table.overall.intervals.items()}
    result["label_column"] = dataset.label_column
    result["dropped_unlabelled"] = dataset.dropped
    report = Report(title or f"Evaluation of {predictions.source} on {dataset.name}",
                    meta={"predictions": predictions.source, "data": dataset.name,
                          "label column": dataset.label_column, "rows": len(labels)},
                    warnings=list(result["warnings"]), data=jsonable(result))
    if dataset.dropped:
        report.warnings.append(f"{dataset.dropped} row(s) without a label were left out")
    if predictions.kind in TASKS:
        task_sections(report, result, table.overall)
    elif predictions.kind == "number":
        regression_sections(report, result, table.overall)
    else:
        classification_sections(report, result, table.overall)
    if groupings:
        slice_sections(report, table)
    return Evaluation(predictions.source, dataset.name, jsonable(result),
                      table if groupings else None, report)


def _classes(labels: pd.Series, predictions: Predictions) -> tuple[Any, ...] | None:
    """The model's classes, extended by any label it never predicts (sorted as usual)."""
    if predictions.classes is None:
        return None
    known = set(predictions.classes)
    extra = [u for u in pd.unique(labels) if u not in known]
    if not extra:
        return predictions.classes
    from rampup.analysis.metrics import sorted_classes

    return sorted_classes([*predictions.classes, *extra])


def _looks_continuous(values: pd.Series) -> bool:
    """Float values that are not all whole numbers: a regression's predictions."""
    if not pd.api.types.is_float_dtype(values.dtype):
        return False
    v = values.dropna().to_numpy()
    return bool(len(v)) and not bool(np.all(v == np.round(v)))


def _predict(registry: Registry, record: VersionRecord, dataset: Dataset,
             progress: Progress | None) -> Predictions:
    label = f"{record.model}@{record.version}"
    return model_predictions(registry.load(record), dataset, label, progress=progress)


def evaluate(
    registry: Registry, target: str, data: str | Path | pd.DataFrame, *, label_column: str,
    slices: Slices = (), metrics: Sequence[str] | None = None,
    prediction_column: str | None = None, score_columns: Sequence[str] | None = None,
    regression: bool | None = None, bootstrap: int = 200, ci: float = 0.95, seed: int = 0,
    pos_label: Any = None, task: str | None = None, k: int = 10,
    store: bool = True, actor: str = "api", data_name: str | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Run ``target`` (``model@version``) on ``data`` and evaluate it against
    ``label_column``; with ``prediction_column`` the predictions are read from the data
    instead of computed (``score_columns``: one per class in class order, or the
    positive-class score; ``regression``: whether the column holds numbers to score as a
    regression, by default the version's output kind, else guessed from the values;
    ``task``: score the column as transcripts, rankings or detections, by default the
    version's output task; ``k``: the ranking cut-off).
    ``store`` keeps the result with the version."""
    dataset = load_dataset(data, label_column, name=data_name)
    record = None
    if prediction_column is None or store:
        record = resolve_version(registry, target)
    if prediction_column is not None:
        if task is None and record is not None:
            task = record.output.get("task")
        if regression is None and task is None:
            regression = (record.output.get("kind") == "number" if record is not None
                          else _looks_continuous(dataset.frame[prediction_column]))
        preds = column_predictions(dataset, prediction_column, score_columns=score_columns,
                                   regression=bool(regression), task=task)
        preds = Predictions(f"{target} ({prediction_column})", preds.kind, preds.values,
                            preds.scores)
    else:
        assert record is not None
        preds = _predict(registry, record, dataset, progress)
    ev = evaluate_predictions(dataset, preds, slices=slices, metrics=metrics,
                              bootstrap=bootstrap, ci=ci, seed=seed, pos_label=pos_label, k=k)
    if not store or record is None:
        return ev
    saved = registry.store.evaluations.add_evaluation(record.model, record.version, "evaluation",
                                                      summary=ev.summary(), result=ev.result,
                                                      name=dataset.name, actor=actor)
    return Evaluation(ev.target, ev.data, ev.result, ev.slices, ev.report, saved.id)


def compare_versions(
    registry: Registry, champion: str, challenger: str, data: str | Path | pd.DataFrame, *,
    label_column: str, slices: Slices = (), metrics: Sequence[str] | None = None,
    bootstrap: int = 500, ci: float = 0.95, seed: int = 0, pos_label: Any = None,
    id_column: str | None = None, max_examples: int = 20, store: bool = True,
    actor: str = "api", data_name: str | None = None, progress: Progress | None = None,
) -> VersionComparison:
    """Run both versions on the same rows and compare them (see :func:`compare`); the
    result is kept with the challenger."""
    dataset = load_dataset(data, label_column, name=data_name)
    records = [resolve_version(registry, t) for t in (champion, challenger)]
    names = tuple(f"{r.model}@{r.version}" for r in records)
    if names[0] == names[1]:
        raise ValidationError(f"both sides are {names[0]}", fix="compare two different versions")
    preds = [_predict(registry, r, dataset, progress) for r in records]
    if id_column is not None and id_column not in dataset.frame.columns:
        raise ValidationError(f"id column {id_column!r} is not in {dataset.name}",
                              fix=f"use one of: {', '.join(map(str, dataset.frame.columns))}")
    ids = dataset.frame[id_column].to_numpy() if id_column else None
    regression = all(p.kind == "number" for p in preds)
    labels = dataset.labels if regression else align_labels(dataset.labels, preds[1].classes)
    classes = None
    if not regression and preds[0].classes is not None and preds[1].classes is not None:
        from rampup.analysis.metrics import sorted_classes

        classes = sorted_classes([*preds[0].classes, *preds[1].classes, *pd.unique(labels)])
    same_scores = classes is not None and preds[0].classes == preds[1].classes == classes
    result = compare(
        labels, preds[0].values, preds[1].values,
        scores_champion=preds[0].scores if same_scores else None,
        scores_challenger=preds[1].scores if same_scores else None,
        groups=_groupings(dataset, slices) or None, metrics=metrics, classes=classes,
        pos_label=pos_label, regression=regression, names=(names[0], names[1]),
        bootstrap=bootstrap, ci=ci, seed=seed, ids=ids, max_examples=max_examples)
    report = Report(f"Comparison of {names[0]} (champion) and {names[1]} (challenger) on "
                    f"{dataset.name}",
                    meta={"champion": names[0], "challenger": names[1], "data": dataset.name,
                          "label column": label_column, "rows": result.n},
                    data=jsonable(result.to_dict()))
    if dataset.dropped:
        report.warnings.append(f"{dataset.dropped} row(s) without a label were left out")
    comparison_sections(report, result)
    out = VersionComparison(names[0], names[1], dataset.name, result, report)
    if not store:
        return out
    saved = registry.store.evaluations.add_evaluation(
        records[1].model, records[1].version, "comparison", summary=out.summary(),
        result=jsonable(result.to_dict()), name=dataset.name, actor=actor)
    return VersionComparison(names[0], names[1], dataset.name, result, report, saved.id)
