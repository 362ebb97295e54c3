"""Drift results as flat metrics, for checks and alert rules.

Names follow the monitor's catalogue (:mod:`rampup.monitor.names`):

* ``drift.share_drifted``: the share of input features that drift (after the correction);
* ``drift.dataset``: 1.0 when any feature (or the multivariate test) drifts, else 0.0;
* ``drift.feature[<name>].effect``: the feature's effect size (Wasserstein in reference
  standard deviations, Jensen-Shannon distance, or a change of share), and
  ``drift.feature[<name>].p_value``/``.q_value``/``.drifted``;
* ``drift.output``: the effect size of the model's output distribution (class mix or
  scores), with ``drift.output.psi``; ``drift.label`` likewise for the labels;
* ``drift.multivariate.auc``: the domain classifier's held-out ROC AUC;
* ``concept.accuracy_drop``: the reference accuracy minus the latest window's (realised,
  or estimated from confidences while labels are missing); positive means worse.

>>> from rampup.drift.report import TestResult, build_report, DriftConfig
>>> r = TestResult("age", "numeric", "ks", 0.3, 0.001, 0.4, "wasserstein/std", 0.1, 500, 80)
>>> m = drift_metrics(build_report([r], DriftConfig()))
>>> m["drift.share_drifted"], m["drift.feature[age].effect"], m["drift.dataset"]
(1.0, 0.4, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rampup.drift.concept import WindowPerformance, accuracy_drop
from rampup.drift.report import DriftReport


def drift_metrics(report: DriftReport | None = None,
                  performance: Sequence[WindowPerformance] | None = None) -> dict[str, float]:
    """The metrics of a drift report and of performance windows (see the module doc).
    Metrics without data are left out, never NaN."""
    out: dict[str, float] = {}
    if report is not None:
        out["drift.share_drifted"] = report.share_drifted
        out["drift.dataset"] = float(report.dataset_drift)
        for name in report.features:
            rs = [r for r in report.inputs if r.feature == name and r.tested]
            if not rs:
                continue
            out[f"drift.feature[{name}].effect"] = report.feature_effect(name)
            out[f"drift.feature[{name}].p_value"] = min(r.p_value for r in rs)
            out[f"drift.feature[{name}].q_value"] = min(r.q_value for r in rs)
            out[f"drift.feature[{name}].drifted"] = float(any(r.drifted for r in rs))
        for kind, key in (("output", "drift.output"), ("label", "drift.label")):
            rs = [r for r in report.outputs if r.kind == kind and r.tested]
            if rs:
                main = max(rs, key=lambda r: r.effect / r.min_effect if r.min_effect
                           else r.effect)
                out[key] = main.effect
                if "psi" in main.metrics:
                    out[f"{key}.psi"] = main.metrics["psi"]
        if report.multivariate is not None and not math.isnan(report.multivariate.auc):
            out["drift.multivariate.auc"] = report.multivariate.auc
    if performance:
        drop = accuracy_drop(performance)
        if not math.isnan(drop):
            out["concept.accuracy_drop"] = drop
    return {k: float(v) for k, v in out.items() if not math.isnan(v)}
