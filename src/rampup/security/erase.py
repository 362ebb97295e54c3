"""Erasure: forget one subject (a request key) everywhere rampup kept it.

Every table that holds the subject's rows (predictions, their feedback, review items and
labels, dead letters), the stored bytes of their image/audio inputs (when
``RAMPUP_INPUT_BYTES_DIR`` keeps them and no other prediction holds the same content)
and every retraining dataset file that holds their logged rows (rewritten without
them). The request key is looked up as sent and as the privacy rules would have stored
it (hashed). The erasure is recorded as a ``forget`` event with an erasure id and
counts only: the event names no personal data.
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rampup.errors import NotFoundError, ValidationError
from rampup.security.privacy import load_privacy

if TYPE_CHECKING:
    from rampup.project import ProjectFile
    from rampup.store import Database

META = frozenset({"sample_weight", "_source"})


def _norm(v: Any) -> Any:
    """Values from JSON and from Parquet compare alike (1 == 1.0, NaN == null)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return float(v)
    if hasattr(v, "item"):  # a NumPy scalar
        return _norm(v.item())
    return str(v)


def _dataset_files(store: Database, models: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for model in models:
        for run in store.retrain.list_retrain_runs(model, limit=100_000):
            info = run.get("dataset") or {}
            for key in ("path", "holdout_path"):
                if info.get(key):
                    out.append((model, str(info[key])))
    return out


def _erase_file(location: str, erase: Callable[[Path], int]) -> int:
    """``erase`` on a dataset file (a path, or a URL of a retraining workspace in an
    object store: rewritten through a local copy); the rows it removed."""
    from rampup.registry import remote

    local = remote.local_path(location)
    if local is not None:
        return erase(local) if local.is_file() else 0
    with tempfile.TemporaryDirectory(prefix="rampup-erase-") as tmp:
        copy = Path(tmp) / "dataset.parquet"
        try:
            remote.fetch(location, copy, what="retraining dataset")
        except NotFoundError:
            return 0
        removed = erase(copy)
        if removed:
            remote.publish(copy, location, what="retraining dataset")
        return removed


def erase_from_datasets(store: Database, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rewrite the retraining dataset files of these predictions' models without the rows
    built from them (matched on their logged feature values; reference rows of the
    training file are left alone). Returns files changed and rows removed."""
    import pandas as pd

    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        try:
            inputs = json.loads(r["inputs"])
        except (TypeError, ValueError):
            continue
        for rec in inputs if isinstance(inputs, list) else [inputs]:
            if isinstance(rec, dict):
                by_model.setdefault(r["model"], []).append(rec)
    files = removed = 0
    for model, location in _dataset_files(store, by_model):
        def erase(path: Path, model: str = model) -> int:
            frame = pd.read_parquet(path)
            features = [c for c in frame.columns if c not in META]
            subject = {tuple(_norm(rec.get(f)) for f in features[:-1])
                       for rec in by_model[model]}
            # the last column is the label (dataset files: features, label, meta)
            keys = [tuple(_norm(v) for v in row)
                    for row in frame[features[:-1]].itertuples(index=False, name=None)]
            hit = pd.Series([k in subject for k in keys], index=frame.index)
            if "_source" in frame.columns:
                hit &= frame["_source"] == "log"
            if hit.any():
                frame[~hit].to_parquet(path, index=False)
            return int(hit.sum())

        n = _erase_file(location, erase)
        files += n > 0
        removed += n
    return {"files": files, "rows": removed}


def _stored_inputs(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(sha256, format) of the image/audio inputs these rows logged."""
    found = set()
    for r in rows:
        try:
            inputs = json.loads(r["inputs"])
        except (TypeError, ValueError):
            continue
        for rec in inputs if isinstance(inputs, list) else [inputs]:
            for v in rec.values() if isinstance(rec, dict) else ():
                if isinstance(v, dict) and v.get("type") in ("image", "audio") and \
                        isinstance(v.get("sha256"), str) and isinstance(v.get("format"), str):
                    found.add((v["sha256"], v["format"].lower()))
    return found


def erase_input_files(store: Database, folder: Path | None,
                      stored: set[tuple[str, str]]) -> int:
    """Delete the kept bytes of these inputs (``RAMPUP_INPUT_BYTES_DIR``), unless another
    logged prediction still holds the same content."""
    if folder is None:
        return 0
    n = 0
    for sha, fmt in sorted(stored):
        path = folder / sha[:2] / f"{sha}.{fmt}"
        if path.is_file() and not store.predictions.inputs_mention(sha):
            path.unlink()
            n += 1
    return n


def forget(store: Database, project: ProjectFile, request_key: str, *, actor: str,
           input_bytes_dir: Path | None = None) -> dict[str, Any]:
    """Erase everything kept about ``request_key``; returns the erasure id and counts."""
    if not request_key.strip():
        raise ValidationError("the request key is empty", field="request_key",
                              fix="give the subject's request key as it was sent")
    privacy = load_privacy(store, project)
    keys = [request_key] + ([privacy.hash(request_key)] if privacy is not None else [])
    rows = store.predictions.subject_predictions(keys)
    datasets = erase_from_datasets(store, rows)
    stored = _stored_inputs(rows)
    deleted = store.predictions.erase_predictions([r["id"] for r in rows],
                                                  [r["request_id"] for r in rows])
    deleted["input_files"] = erase_input_files(store, input_bytes_dir, stored)
    erasure = uuid.uuid4().hex
    models = sorted({r["model"] for r in rows})
    store.events.add_event(actor, "forget", details={
        "erasure": erasure, "deleted": deleted, "dataset_files": datasets["files"],
        "dataset_rows": datasets["rows"], "models": models})
    return {"event": erasure, "deleted": {**deleted, "dataset rows": datasets["rows"]},
            "dataset_files": datasets["files"], "models": models}
