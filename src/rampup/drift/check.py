"""One drift check, end to end: what ``rampup drift`` runs.

:func:`check_model` compares a live model's recent traffic with its version's reference
profile (stored mode: the monitor's window profiles, or the prediction log when the
monitor did not record the range), with the trend over consecutive windows, the output
distribution, realised performance and the streaming detectors. :func:`check_frames`
does the same for two tables of raw rows. Both return a :class:`DriftCheck`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rampup.drift.calibrate import NullCache
from rampup.drift.concept import Reference, WindowPerformance, performance_windows
from rampup.drift.detectors import (
    Alarm,
    AlarmStream,
    latency_detector,
    make_detector,
    standardise,
)
from rampup.drift.embeddings import EmbeddingDrift, embedding_check
from rampup.drift.estimate import Estimate, Estimator
from rampup.drift.frames import compare_frames
from rampup.drift.metrics import drift_metrics
from rampup.drift.multivariate import domain_classifier
from rampup.drift.output import monitor_outputs, output_profile, output_results
from rampup.drift.profiles import compare_profiles, feature_entries, window_profile
from rampup.drift.report import DriftConfig, DriftReport, TestResult
from rampup.drift.trend import Trend
from rampup.errors import ValidationError
from rampup.registry.schema import InputSchema
from rampup.rollout.agreement import canonical

if TYPE_CHECKING:  # stored mode only: imported where used (raw mode needs no store)
    from rampup.drift.source import LogWindow
    from rampup.store import Database

SOURCES = ("auto", "monitor", "log")
#: labelled predictions a window needs before it can serve as the reference performance.
MIN_REFERENCE_LABELS = 30


@dataclass(frozen=True)
class DriftCheck:
    report: DriftReport
    trend: Trend | None = None
    performance: tuple[WindowPerformance, ...] = ()
    reference: Reference | None = None
    alarms: tuple[Alarm, ...] = ()
    notes: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: label-free estimates (accuracy, f1, roc_auc) of the current data's decisions, from
    #: a calibration fitted on the reference (:mod:`rampup.drift.estimate`), and per window.
    estimate: Mapping[str, Estimate] = field(default_factory=dict)
    window_estimates: tuple[Mapping[str, Estimate], ...] = ()
    embedding: EmbeddingDrift | None = None  # versions whose outputs carry an embedding

    def metrics(self) -> dict[str, float]:
        """``drift.*`` and ``concept.*`` metrics for alert rules (with a label-free
        estimate, ``concept.estimated_accuracy``/``_f1``/``_roc_auc``)."""
        out = drift_metrics(self.report, self.performance)
        for name, e in self.estimate.items():
            if math.isfinite(e.value):
                out[f"concept.estimated_{name}"] = e.value
        if self.embedding is not None:
            out["drift.embedding"] = self.embedding.effect
            out["drift.embedding.p_value"] = self.embedding.p_value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"meta": dict(self.meta), "report": self.report.to_dict(),
                "trend": self.trend.to_dict() if self.trend else None,
                "reference_performance": None if self.reference is None else
                {"accuracy": self.reference.accuracy, "n": self.reference.n,
                 "source": self.reference.source},
                "performance": [w.to_dict() for w in self.performance],
                "alarms": [{"index": a.index, "ts": a.ts, "detector": a.detector,
                            "stream": a.stream} for a in self.alarms],
                "embedding": None if self.embedding is None else self.embedding.to_dict(),
                "notes": list(self.notes), "metrics": self.metrics(),
                "label_free": {k: e.to_dict() for k, e in self.estimate.items()} or None,
                "label_free_windows": [{k: e.to_dict() for k, e in w.items()}
                                       for w in self.window_estimates]}


def _edges(since: float, until: float, windows: int) -> list[float]:
    if until <= since:
        raise ValidationError("the time range is empty", fix="use --since before --until")
    if windows < 1:
        raise ValidationError("--windows must be at least 1", fix="use e.g. --windows 6")
    return [float(x) for x in np.linspace(since, until, windows + 1)]


def _streams(log: LogWindow, detector: str) -> list[Alarm]:
    """Alarms of the error stream (labelled predictions, prediction-time order) and of the
    latency stream (standardised against its first fifth)."""
    alarms: list[Alarm] = []
    labelled = ~np.isnan(log.correct)
    if labelled.sum() >= MIN_REFERENCE_LABELS:
        errors = 1.0 - log.correct[labelled]
        alarms += AlarmStream(make_detector(detector), stream="errors").run(
            errors.tolist(), log.ts[labelled].tolist())
    if log.rows >= 100:
        base = log.latency_ms[: max(50, log.rows // 5)]
        z = standardise(log.latency_ms, base)
        alarms += AlarmStream(latency_detector(), stream="latency").run(z.tolist(),
                                                                        log.ts.tolist())
    return sorted(alarms, key=lambda a: (a.ts or 0.0, a.index))


def _concept(log: LogWindow, edges: Sequence[float], reference: Reference | None,
             config: DriftConfig) -> tuple[list[WindowPerformance], Reference | None]:
    if reference is None:  # the first window with enough labels stands in
        for a, b in itertools.pairwise(edges):
            w = log.between(a, b)
            labelled = ~np.isnan(w.correct)
            if labelled.sum() >= MIN_REFERENCE_LABELS:
                reference = Reference(float(np.nanmean(w.correct)), int(labelled.sum()),
                                      "first window")
                break
    if reference is None:
        return [], None
    ok = ~log.failed
    perf = performance_windows(log.ts[ok], log.correct[ok],
                               log.outputs["confidence"].to_numpy(dtype=np.float64)[ok],
                               edges, reference, alpha=config.alpha)
    return perf, reference


def check_model(store: Database, model: str, *, since: float, until: float,
                version: str | None = None, windows: int = 1,
                config: DriftConfig | None = None, source: str = "auto",
                baseline: tuple[float, float] | None = None, concept: bool = True,
                detector: str = "adwin", cache: NullCache | None = None) -> DriftCheck:
    """Drift of ``model``'s traffic in ``[since, until)`` against its reference profile.

    ``windows`` > 1 adds the trend over that many consecutive windows. ``source``:
    ``monitor`` (window profiles only), ``log`` (read the prediction log) or ``auto``
    (the monitor, falling back to the log when it has no data for the range).
    ``baseline`` is a time range whose outputs serve as the reference outputs when the
    reference profile has none.
    """
    from rampup.drift.source import (
        monitor_window,
        read_log,
        reference_performance,
        reference_profile,
        resolve_version,
    )

    if source not in SOURCES:
        raise ValidationError(f"unknown source {source!r}", fix="use auto, monitor or log")
    config = config or DriftConfig()
    cache = cache if cache is not None else NullCache(config.reps, config.seed)
    record = resolve_version(store, model, version)
    ref = reference_profile(record)
    schema = InputSchema.from_dict(record.input_schema)
    edges = _edges(since, until, windows)
    notes: list[str] = []
    log: LogWindow | None = None

    def load_log() -> LogWindow:
        nonlocal log
        if log is None:
            log = read_log(store, model, record.version, since, until)
        return log

    def profile(a: float, b: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """(input window profile, output profile entries) of one range."""
        if source != "log":
            prof = monitor_window(store, model, record.version, a, b)
            if prof is not None:
                return prof, monitor_outputs(prof.get("output"))
            if source == "monitor":
                return {"rows": 0, "features": {}}, {"features": {}}
        w = load_log().between(a, b)
        return (window_profile(w.inputs, ref, schema),
                output_profile(w.outputs[~w.failed], ref_out or None))

    ref_out = _reference_outputs(store, model, record.version, ref, baseline, source)
    window, cur_out = profile(since, until)
    used = "log" if log is not None else "monitor"
    if not window.get("rows"):
        raise ValidationError(
            f"no predictions of {model}@{record.version} between the given times",
            fix="widen the range with --window/--since, or check the version with --version")
    extra: list[TestResult] = []
    if ref_out:
        extra = output_results(ref_out, cur_out, config, cache)
    else:
        notes.append("output drift skipped: no reference outputs (pass --baseline with a "
                     "time range of normal traffic)")
    meta = {"model": model, "version": record.version, "since": since, "until": until,
            "source": used}
    report = compare_profiles(ref, window, config, cache=cache, schema=schema, meta=meta,
                              extra=extra)
    trend = None
    if windows > 1:
        reports = []
        for a, b in itertools.pairwise(edges):
            w_in, _ = profile(a, b)
            reports.append(compare_profiles(ref, w_in, config, cache=cache, schema=schema,
                                            meta={"since": a, "until": b})
                           if w_in.get("rows") else _empty(config))
        trend = Trend(tuple(itertools.pairwise(edges)), tuple(reports))
    embedding = None
    if isinstance(ref.get("embedding"), Mapping):  # read from the log: off the hot path
        embedding = embedding_check(ref["embedding"], _window_embeddings(load_log(),
                                                                         ref["embedding"],
                                                                         config.seed),
                                    alpha=config.alpha, seed=config.seed)
        if embedding is None:
            notes.append("embedding drift skipped: no prediction in the range carries an "
                         f"embedding of {ref['embedding'].get('dims')} dimensions")
    perf: list[WindowPerformance] = []
    reference: Reference | None = None
    alarms: list[Alarm] = []
    if concept:
        rows = load_log()
        perf, reference = _concept(rows, edges, reference_performance(store, record), config)
        alarms = _streams(rows, detector)
    estimate: dict[str, Estimate] = {}
    per_window: list[dict[str, Estimate]] = []
    stored = ref.get("label_free")
    if isinstance(stored, Mapping) and isinstance(stored.get("estimator"), Mapping):
        # the estimator fitted on the reference at registration; the window's decisions
        # are read from the log (off the hot path) and need no labels
        est = Estimator.from_dict(stored["estimator"])
        rows = load_log()
        prob = _positive_probability(rows, str(stored.get("positive", "1")))
        estimate = est.estimate(prob, seed=config.seed)
        if windows > 1:
            per_window = [est.estimate(prob[(rows.ts >= a) & (rows.ts < b)], seed=config.seed)
                          for a, b in itertools.pairwise(edges)]
    return DriftCheck(report, trend, tuple(perf), reference, tuple(alarms), tuple(notes),
                      {**meta, "windows": windows}, estimate, tuple(per_window),
                      embedding=embedding)


def _positive_probability(log: LogWindow, positive: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Each logged answer's probability of the positive class (NaN when it has none)."""
    out = np.full(log.rows, np.nan)
    probs = log.outputs["probabilities"].tolist() if "probabilities" in log.outputs else []
    for i, p in enumerate(probs):
        if isinstance(p, Mapping) and not log.failed[i]:
            v = p.get(positive)
            if isinstance(v, int | float):
                out[i] = float(v)
    return out


def _window_embeddings(log: LogWindow, reference: Mapping[str, Any], seed: int
                       ) -> list[Any]:
    """The window's predictions, or, for a user ``embedding_function``, its vectors of (a
    seeded sample of at most WINDOW_ROWS) logged input records."""
    from rampup.drift.embeddings import WINDOW_ROWS, function_predictions
    from rampup.monitor.custom import load_function

    ok = ~log.failed
    path = reference.get("function")
    if not path:
        return list(log.outputs["prediction"][ok].tolist())
    idx = np.flatnonzero(ok)
    if len(idx) > WINDOW_ROWS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, WINDOW_ROWS, replace=False))
    records = log.inputs.iloc[idx].to_dict(orient="records")
    fn = load_function(str(path), "embedding_function")
    return function_predictions(fn, records, where=f"embedding_function {path}")


def latest_metrics(store: Database, model: str, *, now: float, window_s: float = 3600.0,
                   version: str | None = None, config: DriftConfig | None = None,
                   concept: bool = True, cache: NullCache | None = None) -> dict[str, float]:
    """``drift.*``/``concept.*`` metrics of ``[now - window_s, now)`` for alert rules
    (empty when the range has no predictions). Pass a long-lived ``cache`` when called
    periodically, so calibrations are reused."""
    try:
        check = check_model(store, model, since=now - window_s, until=now, version=version,
                            config=config, concept=concept, cache=cache)
    except ValidationError:
        return {}
    return check.metrics()


def _empty(config: DriftConfig) -> DriftReport:
    return DriftReport((), config.alpha, config.correction, {"rows": 0})


def _reference_outputs(store: Database, model: str, version: str, ref: Mapping[str, Any],
                       baseline: tuple[float, float] | None, source: str
                       ) -> dict[str, Any]:
    """Reference outputs: the profile's own (``ref["output"]``), or a baseline range."""
    from rampup.drift.source import monitor_window, read_log

    own = ref.get("output")
    if isinstance(own, Mapping):
        if "classes" in own or "values" in own:  # the monitor's shape
            return monitor_outputs(own)
        if feature_entries(own):
            return dict(own)
    if baseline is None:
        return {}
    if source != "log":
        prof = monitor_window(store, model, version, *baseline)
        if prof is not None:
            return monitor_outputs(prof.get("output"))
    w = read_log(store, model, version, *baseline)
    if not w.rows:
        return {}
    return output_profile(w.outputs[~w.failed])


def check_frames(reference: pd.DataFrame, current: pd.DataFrame, *,
                 config: DriftConfig | None = None, label_column: str | None = None,
                 prediction_column: str | None = None, time_column: str | None = None,
                 windows: int = 1, multivariate: bool = True, detector: str = "adwin",
                 meta: Mapping[str, Any] | None = None,
                 probability_column: str | None = None, threshold: float = 0.5,
                 multivariate_model: str = "qda") -> DriftCheck:
    """Exact mode on raw rows: the report, the multivariate test (``multivariate_model``:
    ``qda``, the NumPy quadratic discriminant, or a scikit-learn domain classifier ``hgb``
    or ``logistic``, see :func:`~rampup.drift.multivariate.domain_classifier`), and with
    ``windows`` > 1
    the trend over consecutive slices of ``current`` (by ``time_column`` when given,
    else in row order). With both label and prediction columns, accuracy per window
    against the reference's and the detectors on the current error stream. With
    ``probability_column`` (the model's probability of the positive class, 1) and labels
    in the reference, the label-free estimate of the decisions ``probability >=
    threshold`` on the current rows (no current labels needed)."""
    config = config or DriftConfig()
    cache = NullCache(config.reps, config.seed)
    fit_label = label_column  # the reference's labels, for the label-free estimate
    if probability_column is not None and label_column is not None and \
            label_column not in current.columns:
        # no labels yet: no label drift or accuracy, the estimate stands in for them
        label_column = None
    for col in (label_column, prediction_column, time_column, probability_column):
        if col is not None and col not in current.columns:
            raise ValidationError(f"column {col!r} is not in the current data",
                                  fix=f"use one of: {', '.join(map(str, current.columns))}")
    if time_column is not None:
        current = current.sort_values(time_column, kind="stable").reset_index(drop=True)
    skip = [c for c in (fit_label, prediction_column, time_column, probability_column)
            if c is not None]
    features = [c for c in reference.columns if c not in skip]
    mv = domain_classifier(reference, current, features, model=multivariate_model,
                           alpha=config.alpha, seed=config.seed) if multivariate else None
    outputs = [c for c in (prediction_column, probability_column) if c is not None]
    ref_cols = [c for c in reference.columns
                if c != time_column and (c != fit_label or label_column is not None)]
    report = compare_frames(reference[ref_cols], current, config, label_column=label_column,
                            output_columns=outputs, cache=cache, meta=meta, multivariate=mv)
    position = (current[time_column].to_numpy(dtype=np.float64) if time_column is not None
                else np.arange(len(current), dtype=np.float64))
    lo, hi = (float(position.min()), float(position.max())) if len(current) else (0.0, 1.0)
    edges = [float(x) for x in np.linspace(lo, np.nextafter(hi, math.inf), windows + 1)]
    trend = None
    if windows > 1:
        reports = []
        for a, b in itertools.pairwise(edges):
            part = current[(position >= a) & (position < b)]
            reports.append(compare_frames(reference[ref_cols], part, config,
                                          label_column=label_column, output_columns=outputs,
                                          cache=cache) if len(part) else _empty(config))
        trend = Trend(tuple(itertools.pairwise(edges)), tuple(reports))
    perf: list[WindowPerformance] = []
    ref_perf: Reference | None = None
    alarms: list[Alarm] = []
    if label_column is not None and prediction_column is not None:
        ref_ok = _matches(reference[prediction_column], reference[label_column])
        ref_perf = Reference(float(np.nanmean(ref_ok)), int((~np.isnan(ref_ok)).sum()),
                             "reference data")
        cur_ok = _matches(current[prediction_column], current[label_column])
        perf = performance_windows(position, cur_ok, np.full(len(current), np.nan), edges,
                                   ref_perf, alpha=config.alpha)
        labelled = ~np.isnan(cur_ok)
        alarms = AlarmStream(make_detector(detector)).run((1.0 - cur_ok[labelled]).tolist())
    estimate: dict[str, Estimate] = {}
    per_window: list[dict[str, Estimate]] = []
    if probability_column is not None:
        est = _estimator(reference, fit_label, probability_column, threshold, config.seed)
        prob = pd.to_numeric(current[probability_column], errors="coerce").to_numpy(
            dtype=np.float64)
        estimate = est.estimate(prob, seed=config.seed)
        if windows > 1:
            per_window = [est.estimate(prob[(position >= a) & (position < b)],
                                       seed=config.seed)
                          for a, b in itertools.pairwise(edges)]
    return DriftCheck(report, trend, tuple(perf), ref_perf, tuple(alarms), (),
                      {**(meta or {}), "windows": windows}, estimate, tuple(per_window))


def _estimator(reference: pd.DataFrame, label_column: str | None, probability_column: str,
               threshold: float, seed: int) -> Estimator:
    """The label-free estimator fitted on the reference's probabilities and labels."""
    if label_column is None or probability_column not in reference.columns:
        raise ValidationError(
            "the label-free estimate needs the reference's labels and probabilities",
            fix="pass --label-column and a --probability-column present in both files")
    prob = pd.to_numeric(reference[probability_column], errors="coerce")
    label = reference[label_column]
    known = prob.notna() & label.notna()
    values = label[known].tolist()
    positive: Any = True if all(isinstance(v, bool | np.bool_) for v in values) else 1
    if not set(values) <= {0, 1}:
        positive = "1" if "1" in {str(v) for v in values} else None
        if positive is None:
            raise ValidationError(
                f"labels {sorted({str(v) for v in values})[:5]} are not 0/1",
                fix="the probability column must be the probability of the label 1 (or "
                    "True): encode the labels as 0/1")
        values = [str(v) for v in values]
    return Estimator.fit(prob[known].to_numpy(dtype=np.float64), values,
                         threshold=threshold, positive=positive, seed=seed)


def _matches(pred: pd.Series, label: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    out = np.full(len(pred), np.nan)
    for i, (p, y) in enumerate(zip(pred.tolist(), label.tolist(), strict=True)):
        if p is not None and y is not None and not (isinstance(y, float) and math.isnan(y)):
            out[i] = float(canonical(p) == canonical(y))
    return out

