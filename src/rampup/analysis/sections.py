"""Report sections for evaluations and comparisons (pure: results in, Report blocks out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rampup.analysis.compare import Comparison, Delta
from rampup.analysis.metrics import higher_is_better
from rampup.analysis.report import Estimate, Report
from rampup.analysis.slices import SliceRow, SliceTable

SMALL_SLICE = 30
"""Slices with fewer examples than this are flagged as too small to read much into."""


def _est(row: SliceRow, metric: str) -> Estimate:
    lo, hi = row.intervals.get(metric, (None, None))
    return Estimate(row.values.get(metric), lo, hi)


def slice_flag(row: SliceRow, overall: SliceRow, metrics: Sequence[str]) -> str:
    """Why a slice deserves a look: worse than overall beyond its interval, or tiny."""
    flags = []
    for m in metrics:
        up = higher_is_better(m)
        lo, hi = row.intervals.get(m, (math.nan, math.nan))
        ref = overall.values.get(m, math.nan)
        if (up is True and hi < ref) or (up is False and lo > ref):
            flags.append(f"{m} worse than overall")
    if row.n < SMALL_SLICE:
        flags.append("few examples")
    return "; ".join(flags)


def slice_sections(report: Report, table: SliceTable) -> None:
    """One table per grouping: n, each metric with its interval, and flags."""
    if not table.rows:
        return
    s = report.section("Slices")
    if table.n_resamples:
        s.text(f"Intervals: {table.ci:.0%} percentile bootstrap, {table.n_resamples} "
               "resamples. A slice is flagged when its whole interval is worse than the "
               f"overall value, or when it has fewer than {SMALL_SLICE} examples.")
    columns = ["slice", "n", *table.metrics, "flag"]
    overall = [["(all)", table.overall.n, *(_est(table.overall, m) for m in table.metrics), ""]]
    for grouping in dict.fromkeys(r.grouping for r in table.rows):
        rows = [[r.slice, r.n, *(_est(r, m) for m in table.metrics),
                 slice_flag(r, table.overall, table.metrics)]
                for r in table.rows if r.grouping == grouping]
        s.table(columns, overall + rows, title=f"by {grouping}")


def classification_sections(report: Report, result: dict[str, Any],
                            overall: SliceRow | None) -> None:
    """Overall metrics, per class, averages, confusion matrix, calibration."""
    def est(metric: str, value: float) -> Estimate | float:
        if overall is not None and metric in overall.intervals:
            return Estimate(value, *overall.intervals[metric])
        return value

    s = report.section("Overall")
    base = result["majority_baseline"]
    items: list[tuple[str, Any]] = [
        ("examples", result["n"]),
        ("accuracy", est("accuracy", result["accuracy"])),
        ("majority-class baseline", f"{base['accuracy']:.4g} (always {base['class']})"),
        ("balanced accuracy", result["balanced_accuracy"]),
        ("macro F1", est("f1_macro", result["averages"]["macro"]["f1"]))]
    if result.get("positive"):
        pos = result["positive_class"]
        items += [(f"{m} ({pos})", est(m, v)) for m, v in result["positive"].items()
                  if m in ("precision", "recall", "f1")]
    if result.get("roc_auc") is not None:
        items.append(("ROC AUC", est("roc_auc", result["roc_auc"])))
    if result.get("pr_auc") is not None:
        items.append(("PR AUC (average precision)", est("pr_auc", result["pr_auc"])))
    if result.get("calibration"):
        items.append(("expected calibration error", result["calibration"]["ece"]))
    s.items(items)
    s.table(["class", "precision", "recall", "F1", "support", "predicted"],
            [[c["class"], c["precision"], c["recall"], c["f1"], c["support"], c["predicted"]]
             for c in result["per_class"]], title="per class")
    s.table(["average", "precision", "recall", "F1"],
            [[avg, v["precision"], v["recall"], v["f1"]]
             for avg, v in result["averages"].items()], title="averages")
    classes = result["classes"]
    report.section("Confusion matrix").table(
        ["true \\ predicted", *map(str, classes)],
        [[str(c), *row] for c, row in zip(classes, result["confusion_matrix"], strict=True)],
        note="rows: true class; columns: predicted class")
    cal = result.get("calibration")
    if cal:
        report.section("Calibration").text(
            f"Reliability of the {cal['of']}: in a well-calibrated model the observed rate "
            "matches the mean score in every bin.").table(
            ["score bin", "count", "mean score", "observed rate"],
            [[f"{b['lower']:.2g}-{b['upper']:.2g}", b["count"], b["mean_score"], b["observed"]]
             for b in cal["bins"] if b["count"]], note=f"ECE {cal['ece']:.4g}")


def regression_sections(report: Report, result: dict[str, Any],
                        overall: SliceRow | None) -> None:
    def est(metric: str) -> Estimate | float:
        value = result[metric]
        if overall is not None and metric in overall.intervals:
            return Estimate(value, *overall.intervals[metric])
        return float(value)

    s = report.section("Overall")
    items: list[tuple[str, Any]] = [("examples", result["n"]), ("MAE", est("mae")),
                                    ("RMSE", est("rmse")), ("R²", est("r2")),
                                    ("bias (mean prediction - truth)", est("bias"))]
    base = result.get("mean_baseline")
    if base:
        items.append(("predict-the-mean baseline",
                      f"MAE {base['mae']:.4g}, RMSE {base['rmse']:.4g}"))
    s.items(items)
    s.table(["true value", "count", "bias", "MAE", "RMSE"],
            [[f"{b['lower']:.4g} to {b['upper']:.4g}", b["count"], b["bias"], b["mae"],
              b["rmse"]] for b in result["residuals_by_bucket"]],
            title="residuals by bucket of the true value")


_TASK_LABELS = {"wer": "WER", "cer": "CER", "mrr": "MRR", "map_50": "mAP@IoU0.5",
                "recall_50": "recall@IoU0.5", "precision_50": "precision@IoU0.5"}


def task_sections(report: Report, result: dict[str, Any], overall: SliceRow | None) -> None:
    """Transcription, ranking or detection metrics, with intervals and their definitions."""
    items: list[tuple[str, Any]] = [("examples", result["n"])]
    for m, v in result["metrics"].items():
        label = _TASK_LABELS.get(m, m.replace("_at_", "@"))
        if overall is not None and m in overall.intervals:
            items.append((label, Estimate(v, *overall.intervals[m])))
        else:
            items.append((label, v))
    report.section("Overall").items(items).text(result["definitions"])


def _delta_cell(d: Delta) -> Estimate:
    return Estimate(d.delta, d.lo, d.hi)


def comparison_sections(report: Report, c: Comparison) -> None:
    a, b = c.names
    s = report.section("Metrics")
    if c.n_resamples:
        s.text(f"delta = {b} - {a}; {c.ci:.0%} paired-bootstrap interval, {c.n_resamples} "
               "resamples of the same rows for both models.")
    s.table(["metric", a, b, "delta", "better"],
            [[d.metric, d.champion, d.challenger, _delta_cell(d),
              d.better or ("no significant difference" if c.n_resamples else "")]
             for d in c.deltas])
    agree = report.section("Agreement")
    if c.agreement is not None:
        agree.items([("same prediction", f"{c.agreement:.1%} of {c.n} rows")])
    agree.table(["outcome", "rows"], [[k, v] for k, v in c.outcomes.items()])
    if c.mcnemar is not None:
        m = c.mcnemar
        agree.items([(f"only {a} right", m.only_champion), (f"only {b} right", m.only_challenger),
                     ("McNemar test", "exact binomial" if m.method == "exact"
                      else "chi-square, continuity-corrected"),
                     ("statistic", m.statistic), ("p-value", m.p_value)], title="McNemar")
    if c.slices:
        sl = report.section("Slices")
        metrics = [d.metric for d in c.slices[0].deltas]
        for grouping in dict.fromkeys(x.grouping for x in c.slices):
            rows = [[x.slice, x.n, *(_delta_cell(d) for d in x.deltas)]
                    for x in c.slices if x.grouping == grouping]
            sl.table(["slice", "n", *(f"delta {m}" for m in metrics)], rows,
                     title=f"by {grouping}")
    if len(c.disagreements):
        report.section("Examples where they disagree").table(
            list(map(str, c.disagreements.columns)),
            c.disagreements.astype(object).values.tolist(),
            note="up to a fixed number per outcome; the full counts are under Agreement")
