"""Offline analysis: evaluation, slices, comparison, error analysis, audits, labels, splits.

Pure functions over arrays and DataFrames; the CLI (``rampup evaluate``, ``compare``,
...) and the store are thin adapters around them. The stable building blocks other
analysis modules use:

Metrics (:mod:`rampup.analysis.metrics`; counts in :mod:`~rampup.analysis.confusion`)
    ``ConfusionCounts.from_labels(y_true, y_pred, classes=None) -> ConfusionCounts`` —
    a k-by-k int ``matrix`` (rows true, columns predicted) + ``classes``; ``a + b`` /
    ``a.merge(b)``; ``.n``, ``.support``, ``.predicted``, ``.accuracy``,
    ``.metric(name, *, pos_label=None, zero_division=0.0) -> float``,
    ``.per_class(name) -> {class: value}``, ``to_dict()/from_dict()``.
    ``metric_values(counts[..., k, k], name, classes, *, pos_label=None,
    zero_division=0.0) -> ndarray[...]`` — any count metric on a stack of matrices.
    ``METRICS`` — the metric names (accuracy, error_rate, balanced_accuracy, precision,
    recall, f1, false_positive_rate, false_negative_rate, true_negative_rate,
    selection_rate, {precision,recall,f1}_{macro,micro,weighted}, and ``name[class]``).
    ``higher_is_better(name) -> bool | None``.
    ``encode_pair(y_true, y_pred, classes=None) -> (true_codes, pred_codes, classes)``.
    ``classification_report(y_true, y_pred, scores=None, classes=None, *,
    pos_label=None, n_bins=10) -> dict`` and ``regression_report(y_true, y_pred, *,
    n_buckets=5) -> dict`` (JSON-ready; keys documented in the functions).
    ``RegressionStats.from_arrays(y_true, y_pred)`` — mergeable MAE/RMSE/R²/bias.

Slices (:mod:`rampup.analysis.slices`; groupings in :mod:`~rampup.analysis.groupings`)
    ``slice_metrics(y_true, y_pred, groups, metrics=("accuracy", "precision",
    "recall"), *, scores=None, classes=None, pos_label=None, bootstrap=0, ci=0.95,
    seed=0, zero_division=nan) -> SliceTable``. ``groups``: a column of values, a
    boolean DataFrame (tags, may overlap), a ``Grouping`` or a list of them, built with
    ``by_values(values, name=None)``, ``by_bins(values, bins, name=None, *,
    quantile=False)``, ``by_tags(frame_or_mapping, name="tags")``,
    ``by_expressions(frame, exprs, name=None)`` or ``from_frame(frame, specs)``.
    ``SliceTable``: ``metrics``, ``overall: SliceRow``, ``rows: tuple[SliceRow]``,
    ``classes``, ``counts[i]`` (confusion matrix of ``rows[i]``), ``ci``,
    ``n_resamples``; ``row(grouping, label)``, ``confusion(i)``, ``to_frame()``,
    ``to_dict()``. ``SliceRow``: ``grouping``, ``slice``, ``n``, ``values: {metric:
    float}``, ``intervals: {metric: (lo, hi)}``.

Bootstrap (:mod:`rampup.analysis.bootstrap`)
    ``resample_counts(counts, n_resamples, rng)``, ``resample_weights(n, n_resamples,
    rng)``, ``percentile_interval(samples, ci=0.95, axis=0) -> (lo, hi)``,
    ``bootstrap_rows(statistic, n, *, n_resamples, rng, ci=0.95)``, ``rng_from(seed)``.

Reports (:mod:`rampup.analysis.report`)
    ``Report(title, meta={}, sections=[], warnings=[], data={})``;
    ``report.section(title) -> Section`` with ``.text(str)``, ``.items(pairs_or_dict,
    title="")``, ``.table(columns, rows, title="", note="")``, ``.warn(*messages)``
    (each returns the section); cells may be numbers, text or ``Estimate(value, lo,
    hi)``. ``render(report, "md" | "html" | "json") -> str``, ``write(report, path,
    fmt=None)``, ``format_value(v)``, ``jsonable(obj)`` (NaN → None, numpy → Python).

Evaluation and comparison (:mod:`rampup.analysis.evaluate`, :mod:`~rampup.analysis.compare`)
    ``evaluate(registry, "model@version", data, label_column=..., slices=(), ...)`` and
    ``compare_versions(...)`` run registered versions on a labelled file; ``compare(...)``
    is the pure champion-vs-challenger comparison (paired bootstrap, McNemar).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "analyse_errors": "rampup.analysis.error_analysis",
    "classification_report": "rampup.analysis.metrics",
    "regression_report": "rampup.analysis.metrics",
    "slice_metrics": "rampup.analysis.slices",
    "discover_slices": "rampup.analysis.discovery",
    "run_audit": "rampup.analysis.audit",
    "load_audit_spec": "rampup.analysis.audit",
    "stratified_split": "rampup.analysis.splits",
    "cohen_kappa": "rampup.analysis.labels",
    "fleiss_kappa": "rampup.analysis.labels",
    "krippendorff_alpha": "rampup.analysis.labels",
    "compare_versions": "rampup.analysis.evaluate",
    "evaluate_predictions": "rampup.analysis.evaluate",
}

__all__ = ["analyse_errors", "classification_report", "cohen_kappa", "compare_versions",
           "discover_slices", "evaluate_predictions", "fleiss_kappa", "krippendorff_alpha",
           "load_audit_spec", "regression_report", "run_audit", "slice_metrics", "stratified_split"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.analysis.audit import load_audit_spec, run_audit
    from rampup.analysis.discovery import discover_slices
    from rampup.analysis.error_analysis import analyse_errors
    from rampup.analysis.evaluate import compare_versions, evaluate_predictions
    from rampup.analysis.labels import cohen_kappa, fleiss_kappa, krippendorff_alpha
    from rampup.analysis.metrics import classification_report, regression_report
    from rampup.analysis.slices import slice_metrics
    from rampup.analysis.splits import stratified_split
