"""The training data of a run: the reference data plus labelled rows from the prediction log.

Log rows: only role ``answer`` (each request once, not its shadow copies), only rows with
a label (feedback; review decisions arrive as labels too), the latest label of each, one
row per prediction id (a request's record), inside the window. An optional recency
weighting gives each log row ``sample_weight = 0.5 ** (age / half_life)``; reference
rows weigh 1 without weighting and as much as the window's oldest row with it.

The training file holds the feature columns, the label column, ``sample_weight`` and
``_source`` (``reference`` or ``log``); the holdout file the features and the label. The
holdout is a seeded random fraction of the log rows (recent reality), or of all rows
when the log has fewer than :data:`MIN_LOG_HOLDOUT` of them, or a fixed test set.

>>> rows = [{"id": "a", "ts": 10.0, "label": 1, "inputs": '{"x": 1.5}', "outputs": "{}"},
...         {"id": "a", "ts": 11.0, "label": 0, "inputs": '{"x": 1.5}', "outputs": "{}"},
...         {"id": "b", "ts": 12.0, "label": None, "inputs": '{"x": 2.0}', "outputs": "{}"}]
>>> frame, dropped = log_frame(rows, ["x"], "y")
>>> frame[["x", "y", "_ts"]].values.tolist(), dropped
([[1.5, 0, 11.0]], 1)
>>> recency_weights(np.array([100.0, 90.0]), now=100.0, half_life=10.0).tolist()
[1.0, 0.5]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rampup.errors import ValidationError
from rampup.predlog.export import feature_column, to_columns
from rampup.store import Database

WEIGHT = "sample_weight"
SOURCE = "_source"
MIN_LOG_HOLDOUT = 20


@dataclass(frozen=True)
class DatasetInfo:
    """What was assembled; kept with the run."""

    path: str
    holdout_path: str
    sha256: str
    rows: dict[str, int]
    label_counts: dict[str, int]
    since: float | None
    until: float
    weighted: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def log_frame(rows: Iterable[Mapping[str, Any]], features: Sequence[str],
              label_column: str) -> tuple[pd.DataFrame, int]:
    """Labelled log rows as a frame (features, label, ``_ts``), the latest row of each
    prediction id; returns the frame and the number of duplicate rows dropped."""
    latest: dict[str, Mapping[str, Any]] = {}
    seen = 0
    for row in rows:
        if row.get("label") is None:
            continue
        seen += 1
        key = str(row["id"])
        if key not in latest or float(row["ts"]) >= float(latest[key]["ts"]):
            latest[key] = row
    kept = list(latest.values())
    meta, cols = to_columns(kept)
    out = {f: cols.get(feature_column(f), [None] * len(kept)) for f in features}
    frame = pd.DataFrame(out, columns=list(features))
    frame[label_column] = pd.Series(meta["label"], dtype=object)
    frame["_ts"] = np.asarray(meta["ts"], dtype=np.float64)
    return frame, seen - len(kept)


def recency_weights(ts: np.ndarray[Any, Any], now: float,
                    half_life: float | None) -> np.ndarray[Any, Any]:
    if half_life is None:
        return np.ones(len(ts))
    return np.asarray(0.5 ** (np.maximum(now - ts, 0.0) / half_life), dtype=np.float64)


def _align_labels(labels: pd.Series, like: pd.Series | None, label_column: str) -> pd.Series:
    """Labels from feedback (JSON values) in the reference label's type."""
    if like is None or labels.empty:
        return labels.infer_objects()
    try:
        return labels.astype(like.dtype)
    except (ValueError, TypeError):
        raise ValidationError(
            f"feedback labels ({labels.head(3).tolist()}) do not have the type of the "
            f"reference data's {label_column!r} ({like.dtype})", field=label_column,
            fix="send labels with the same values as the training data's label") from None


def split_holdout(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame,
                                                                             pd.DataFrame]:
    """(train, holdout): the holdout drawn from log rows when there are enough.

    >>> f = pd.DataFrame({"x": range(100), "_source": ["log"] * 50 + ["reference"] * 50})
    >>> train, hold = split_holdout(f, 0.2, seed=0)
    >>> len(train), len(hold), set(hold["_source"])
    (90, 10, {'log'})
    """
    is_log = (frame[SOURCE] == "log").to_numpy()
    pool = np.flatnonzero(is_log) if is_log.sum() >= MIN_LOG_HOLDOUT else np.arange(len(frame))
    rng = np.random.default_rng(seed)
    n = max(1, round(len(pool) * fraction)) if len(pool) else 0
    picked = np.zeros(len(frame), bool)
    picked[rng.choice(pool, size=n, replace=False)] = True
    return frame[~picked].reset_index(drop=True), frame[picked].reset_index(drop=True)


def assemble(store: Database, model: str, out_dir: Path, *, features: Sequence[str],
             label_column: str, reference: pd.DataFrame | None, since: float | None,
             now: float, half_life: float | None = None, holdout: float = 0.2,
             test_set: pd.DataFrame | None = None, seed: int = 0,
             progress: Callable[[int], None] | None = None,
             log_rows: bool = True) -> DatasetInfo:
    """Write ``train.parquet`` and ``holdout.parquet`` into ``out_dir`` (``log_rows``
    false: from the reference data only)."""
    rows: list[dict[str, Any]] = []
    stream = store.predictions.iter_predictions(
        model, since=since, until=now, roles=("answer",), with_labels=True,
        chunk_size=5000) if log_rows else iter(())
    for chunk in stream:
        rows += [r for r in chunk if r.get("label") is not None]
        if progress is not None:
            progress(len(rows))
    log, duplicates = log_frame(rows, features, label_column)
    ref_labels = None
    parts = []
    if reference is not None:
        missing = [c for c in [*features, label_column] if c not in reference.columns]
        if missing:
            raise ValidationError(f"the reference data lacks column(s) {', '.join(missing)}",
                                  fix="point retrain.reference at the model's training data")
        ref = reference[[*features, label_column]].copy()
        ref_labels = ref[label_column]
        oldest = float(log["_ts"].min()) if len(log) else now
        ref[WEIGHT] = recency_weights(np.array([since if since is not None else oldest]),
                                      now, half_life)[0] if half_life else 1.0
        ref[SOURCE] = "reference"
        parts.append(ref)
    log[label_column] = _align_labels(log[label_column], ref_labels, label_column)
    log[WEIGHT] = recency_weights(log["_ts"].to_numpy(), now, half_life)
    log[SOURCE] = "log"
    parts.append(log.drop(columns="_ts"))
    frame = pd.concat([p for p in parts if len(p)] or [parts[-1]], ignore_index=True)
    if frame.empty:
        raise ValidationError(f"no training data for {model}: no reference data and no "
                              "labelled predictions in the window",
                              fix="set retrain.reference, widen retrain.since, or send labels")
    if test_set is not None:
        train, hold = frame, test_set[[*features, label_column]].reset_index(drop=True)
    else:
        train, hold = split_holdout(frame, holdout, seed)
        hold = hold[[*features, label_column]]
    out_dir.mkdir(parents=True, exist_ok=True)
    path, hold_path = out_dir / "train.parquet", out_dir / "holdout.parquet"
    train.to_parquet(path, index=False)
    hold.to_parquet(hold_path, index=False)
    counts = train[label_column].astype(str).value_counts().sort_index()
    return DatasetInfo(
        path=str(path), holdout_path=str(hold_path), sha256=file_sha256(path),
        rows={"reference": 0 if reference is None else len(reference),
              "log_labelled": len(log), "duplicates_dropped": duplicates,
              "train": len(train), "holdout": len(hold)},
        label_counts={str(k): int(v) for k, v in counts.items()}, since=since, until=now,
        weighted=half_life is not None)
