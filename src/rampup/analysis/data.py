"""Evaluation data: a labelled table, and predictions for it from a column or a model.

The I/O edge of the evaluation: read a CSV/Parquet file (or take a DataFrame), find the
label column, and get predictions either from a column of the table (predictions made
elsewhere, e.g. exported by ``rampup predict-batch``) or by running a registered
version on the table's feature columns, validated against the version's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rampup.errors import ValidationError
from rampup.registry.predictor import PredictionBatch, Predictor

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) as predictions progress."""
CHUNK_ROWS = 10_000


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled table: ``frame`` (every column), ``labels`` and where it came from."""

    frame: pd.DataFrame
    label_column: str
    name: str
    dropped: int = 0  # rows without a label, left out

    @property
    def labels(self) -> pd.Series:
        return self.frame[self.label_column]


@dataclass(frozen=True, eq=False)
class Predictions:
    """One model's outputs for every row: ``values`` and, for classifiers with
    probabilities, ``scores`` ``(n, k)`` in ``classes`` order."""

    source: str
    kind: str  # "class" | "number" | a task of rampup.tasks (transcription, ranking ...)
    values: npt.NDArray[Any]
    scores: npt.NDArray[np.float64] | None = None
    classes: tuple[Any, ...] | None = None


def load_dataset(data: str | Path | pd.DataFrame, label_column: str, *,
                 name: str | None = None) -> Dataset:
    """Read the table and check the label column; rows without a label are dropped
    (and counted in ``dropped``)."""
    if isinstance(data, pd.DataFrame):
        frame, shown = data, name or "data frame"
    else:
        from rampup.registry.profile import read_table

        frame, shown = read_table(data), name or Path(data).name
    if label_column not in frame.columns:
        raise ValidationError(f"label column {label_column!r} is not in {shown}",
                              fix=f"use one of: {', '.join(map(str, frame.columns))}")
    has_label = frame[label_column].notna()
    dropped = int((~has_label).sum())
    if dropped:
        frame = frame[has_label]
    if frame.empty:
        raise ValidationError(f"{shown} has no labelled rows",
                              fix="evaluate on data with labels")
    return Dataset(frame.reset_index(drop=True), label_column, shown, dropped)


def align_labels(labels: pd.Series, classes: Sequence[Any] | None) -> pd.Series:
    """Labels as the model's class values when they differ only in type (e.g. ``"1"`` in a
    CSV for class ``1``); otherwise unchanged.

    >>> align_labels(pd.Series(["1", "0"]), (0, 1)).tolist()
    [1, 0]
    """
    if not classes:
        return labels
    known = set(classes)
    uniques = pd.unique(labels)
    if all(u in known for u in uniques):
        return labels
    by_text = {str(c): c for c in classes}
    if all(str(u) in by_text for u in uniques):
        return labels.map(lambda v: by_text[str(v)])
    return labels


def column_predictions(dataset: Dataset, column: str, *,
                       score_columns: Sequence[str] | None = None,
                       regression: bool = False, task: str | None = None) -> Predictions:
    """Predictions already in the table: ``column``, and optionally one score column per
    class (or a single positive-class score column)."""
    frame = dataset.frame
    for c in [column, *(score_columns or [])]:
        if c not in frame.columns:
            raise ValidationError(f"column {c!r} is not in {dataset.name}",
                                  fix=f"use one of: {', '.join(map(str, frame.columns))}")
    values = frame[column]
    if task == "transcription":  # an empty transcript reads back from CSV as missing
        values = values.astype(object).where(values.notna(), "")
    if values.isna().any():
        raise ValidationError(f"prediction column {column!r} has {int(values.isna().sum())} "
                              "missing value(s)", fix="evaluate only rows with a prediction")
    scores = None
    if score_columns:
        scores = frame[list(score_columns)].to_numpy(dtype=np.float64)
        if scores.shape[1] == 1:
            scores = scores[:, 0]
    if task is not None:
        return Predictions(column, task, values.to_numpy(dtype=object))
    return Predictions(column, "number" if regression else "class",
                       values.to_numpy(), scores)


def model_predictions(predictor: Predictor, dataset: Dataset, source: str, *,
                      chunk_rows: int = CHUNK_ROWS,
                      progress: Progress | None = None) -> Predictions:
    """Run ``predictor`` on every row (validated against its input schema, in chunks)."""
    from rampup.batch.validate import validate_frame

    frame = dataset.frame.drop(columns=[dataset.label_column])
    checked = validate_frame(frame, predictor.input_schema)
    if checked.problems:
        shown = "; ".join(f"row {r} {f}: {why}" for r, f, why in checked.problems[:3])
        raise ValidationError(
            f"{int((~checked.good).sum())} row(s) of {dataset.name} do not fit the input "
            f"schema of {source} ({shown})",
            fix="fix or drop those rows; every row must be predicted to evaluate")
    batch, n = checked.batch, checked.batch.n
    parts: list[PredictionBatch] = []
    for start in range(0, n, chunk_rows):
        out = predictor.predict(batch.slice(start, min(start + chunk_rows, n)))
        if len(out) != min(chunk_rows, n - start):
            raise ValidationError(f"{source} returned {len(out)} predictions for "
                                  f"{min(chunk_rows, n - start)} rows",
                                  fix="the model must return one output per row")
        parts.append(out)
        if progress is not None:
            progress(min(start + chunk_rows, n), n)
    output = predictor.output
    values = np.array([v for p in parts for v in p.predictions], dtype=object)
    if output.kind == "number":
        return Predictions(source, "number", values.astype(np.float64))
    if output.task is not None:
        return Predictions(source, output.task, values)
    if output.kind != "class":
        raise ValidationError(f"{source} returns free-form outputs, which cannot be scored "
                              "against labels", fix="evaluate a classifier or a regressor")
    classes = tuple(output.classes) if output.classes is not None else None
    scores = None
    if classes is not None and all(p.probabilities is not None for p in parts):
        keys = [str(c) for c in classes]
        scores = np.array([[probs.get(key, 0.0) for key in keys]
                           for p in parts for probs in (p.probabilities or [])],
                          dtype=np.float64).reshape(n, len(keys))
    return Predictions(source, "class", values, scores, classes)
