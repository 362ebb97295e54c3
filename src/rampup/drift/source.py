"""Where drift data comes from: the registry, the monitor's windows, the prediction log.

The I/O edge of the drift package. A version's reference profile is in its registry
record. A window's profile comes from the monitor's mergeable aggregates
(:func:`rampup.monitor.query.window_profile`) when the monitor recorded that range;
otherwise the window's rows are read from the prediction log (:func:`read_log`) and
profiled on the reference's bins, which gives the same profile exactly (the fallback,
and the only source for per-prediction streams: errors in time order, latencies).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from rampup.drift.concept import Reference
from rampup.errors import NotFoundError
from rampup.rollout.agreement import canonical
from rampup.store import Database
from rampup.store.records import VersionRecord

HUMAN = "human"


def resolve_version(store: Database, model: str, version: str | None = None) -> VersionRecord:
    """The named version; by default the live one (the largest route of the current
    deployment), else the latest registered."""
    if version is None:
        dep = store.deployments.current_deployment(model)
        routes = {v: float(w) for v, w in ((dep.policy.get("routes") or {}) if dep else {}
                                           ).items() if v != HUMAN}
        if routes:
            version = max(routes, key=lambda v: routes[v])
        else:
            versions = store.models.list_versions(model)
            if not versions:
                raise NotFoundError(f"model {model!r} has no versions",
                                    fix="register one: rampup register MODEL PATH "
                                        "--reference data.parquet")
            return max(versions, key=lambda r: r.seq)
    record = store.models.get_version(model, version)
    if record is None:
        raise NotFoundError(f"version {model}@{version} does not exist",
                            fix="list versions with: rampup versions " + model)
    return record


def reference_profile(record: VersionRecord) -> dict[str, Any]:
    if not record.profile or not record.profile.get("features"):
        raise NotFoundError(
            f"{record.model}@{record.version} has no reference profile to compare with",
            fix="register the version with its training data: rampup register "
                f"{record.model} PATH --reference train.parquet; or compare files with "
                "rampup drift --reference ref.parquet --current cur.parquet")
    return record.profile


def reference_performance(store: Database, record: VersionRecord) -> Reference | None:
    """The version's accuracy from its latest stored evaluation, else its metadata."""
    for ev in store.evaluations.list_evaluations(record.model, record.version, kind="evaluation",
                                                 limit=20):
        acc = ev.summary.get("accuracy")
        if isinstance(acc, int | float) and not math.isnan(acc):
            n = ev.summary.get("n")
            return Reference(float(acc), int(n) if isinstance(n, int) else None,
                             f"evaluation {ev.name}".strip())
    metrics = (record.metadata or {}).get("metrics") or {}
    acc = metrics.get("accuracy")
    if isinstance(acc, int | float):
        return Reference(float(acc), None, "version metadata")
    return None


def monitor_window(store: Database, model: str, version: str | None, since: float,
                   until: float) -> dict[str, Any] | None:
    """The monitor's profile of ``[since, until)``, or None when it recorded nothing."""
    try:
        from rampup.monitor.query import window_profile
    except ImportError:  # a build without the monitor
        return None
    prof = window_profile(store, model, version, since, until)
    return prof if prof.get("rows") else None


@dataclass(frozen=True, eq=False)
class LogWindow:
    """Rows of the prediction log over a range, decoded column-wise (time order)."""

    inputs: pd.DataFrame
    outputs: pd.DataFrame  # prediction, confidence, probabilities (class -> p, or None)
    ts: np.ndarray[Any, np.dtype[np.float64]]
    correct: np.ndarray[Any, np.dtype[np.float64]]  # 1/0, NaN when unlabelled
    latency_ms: np.ndarray[Any, np.dtype[np.float64]]
    failed: np.ndarray[Any, np.dtype[np.bool_]]

    @property
    def rows(self) -> int:
        return len(self.ts)

    def select(self, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> LogWindow:
        idx = np.flatnonzero(mask)
        return LogWindow(self.inputs.iloc[idx].reset_index(drop=True),
                         self.outputs.iloc[idx].reset_index(drop=True), self.ts[idx],
                         self.correct[idx], self.latency_ms[idx], self.failed[idx])

    def between(self, since: float, until: float) -> LogWindow:
        return self.select((self.ts >= since) & (self.ts < until))


def _is_correct(prediction: Any, label: Any) -> float:
    if label is None or prediction is None:
        return math.nan
    return 1.0 if canonical(prediction) == canonical(label) else 0.0


def decode_rows(rows: Sequence[Mapping[str, Any]]) -> LogWindow:
    """Stored prediction rows → a :class:`LogWindow` (failed predictions keep their
    inputs and latency, with no output)."""
    n = len(rows)
    columns: dict[str, list[Any]] = {}
    pred: list[Any] = [None] * n
    probs: list[Any] = [None] * n
    conf = np.full(n, np.nan)
    correct = np.full(n, np.nan)
    for i, row in enumerate(rows):
        raw = row.get("inputs")
        inputs = orjson.loads(raw) if raw else {}
        if not isinstance(inputs, dict):
            inputs = {"input": inputs}
        for k, v in inputs.items():
            col = columns.get(k)
            if col is None:
                col = columns[k] = [None] * n
            col[i] = v
        out = orjson.loads(row["outputs"]) if row.get("outputs") else None
        c = row.get("confidence")
        if isinstance(out, dict):
            pred[i] = out.get("prediction")
            p = out.get("probabilities")
            probs[i] = p if isinstance(p, dict) else None
            c = c if c is not None else out.get("confidence")
        else:
            pred[i] = out
        if isinstance(c, int | float):
            conf[i] = float(c)
        correct[i] = _is_correct(pred[i], row.get("label"))
    ts = np.array([float(r["ts"]) for r in rows], dtype=np.float64)
    lat = np.array([float(r.get("latency_ms") or 0.0) for r in rows], dtype=np.float64)
    failed = np.array([bool(r.get("error")) for r in rows], dtype=bool)
    return LogWindow(pd.DataFrame(columns, index=pd.RangeIndex(n)),
                     pd.DataFrame({"prediction": pred, "confidence": conf,
                                   "probabilities": probs}), ts, correct,
                     lat, failed)


def read_log(store: Database, model: str, version: str | None, since: float | None,
             until: float | None, roles: Sequence[str] = ("answer",)) -> LogWindow:
    """The log's rows for a range, with their latest labels."""
    rows: list[dict[str, Any]] = []
    for chunk in store.predictions.iter_predictions(model, since=since, until=until,
                                                    version=version,
                                        roles=roles, with_labels=True):
        rows.extend(chunk)
    return decode_rows(rows)
