"""Drift results as flat metrics, for checks and alert rules.

Names follow the monitor's catalogue (:mod:`rampup.monitor.names`):

* ``drift.share_drifted``: the share of input features that drift (after the correction);
* ``drift.dataset``: 1.0 when any feature (or the multivariate test) drifts, else 0.0;
* ``drift.feature[<name>].effect``: the feature's effect size (Wasserstein in reference
  standard deviations, Jensen-Shannon distance, or a change of share), and
  ``drift.feature[<name>].p_value``/``.q_value``/``.drifted``, and for categorical
  features ``drift.feature[<name>].unseen_share`` (the share of rows with a value the
  reference never had: a new category is the classic data-quality incident);
* ``drift.output``: the effect size of the model's output distribution (class mix or
  scores), with ``drift.output.psi``; ``drift.label`` likewise for the labels;
* ``drift.multivariate.auc``: the domain classifier's held-out ROC AUC, with
  ``drift.multivariate.drifted`` and, when it separates the windows,
  ``drift.multivariate.importance[<name>]`` for its top features (held-out AUC lost when
  the feature is shuffled);
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
            for r in rs:
                if r.kind == "unseen":
                    out[f"drift.feature[{name}].unseen_share"] = r.effect
        for kind, key in (("output", "drift.output"), ("label", "drift.label")):
            rs = [r for r in report.outputs if r.kind == kind and r.tested]
            if rs:
                main = max(rs, key=lambda r: r.effect / r.min_effect if r.min_effect
                           else r.effect)
                out[key] = main.effect
                if "psi" in main.metrics:
                    out[f"{key}.psi"] = main.metrics["psi"]
        mv = report.multivariate
        if mv is not None and not math.isnan(mv.auc):
            out["drift.multivariate.auc"] = mv.auc
            out["drift.multivariate.drifted"] = float(mv.drifted)
            for name, importance in mv.top_features:
                out[f"drift.multivariate.importance[{name}]"] = importance
    if performance:
        drop = accuracy_drop(performance)
        if not math.isnan(drop):
            out["concept.accuracy_drop"] = drop
    return {k: float(v) for k, v in out.items() if not math.isnan(v)}


def drift_summary(metrics: dict[str, float], top: int = 5) -> str:
    """A one-line account of drift metrics for an alert message: which features drift
    and by how much (largest effect first), the output's effect and the accuracy drop.

    >>> drift_summary({"drift.share_drifted": 0.5,
    ...                "drift.feature[income].effect": 0.31,
    ...                "drift.feature[income].drifted": 1.0,
    ...                "drift.feature[age].effect": 0.02, "drift.feature[age].drifted": 0.0,
    ...                "drift.feature[region].effect": 0.12,
    ...                "drift.feature[region].drifted": 1.0,
    ...                "drift.output": 0.08, "concept.accuracy_drop": 0.064})
    'drifting: income (effect 0.31), region (effect 0.12); output effect 0.08; accuracy drop 0.064'
    >>> drift_summary({"drift.share_drifted": 0.0})
    'no feature drifts'
    >>> drift_summary({"drift.share_drifted": 0.0, "drift.multivariate.auc": 0.71,
    ...                "drift.multivariate.drifted": 1.0,
    ...                "drift.multivariate.importance[age]": 0.04,
    ...                "drift.multivariate.importance[income]": 0.12})
    'no feature drifts; multivariate AUC 0.71 (separating: income 0.12, age 0.04)'
    """
    drifted = []
    for key, value in metrics.items():
        if key.startswith("drift.feature[") and key.endswith("].drifted") and value >= 1.0:
            name = key[len("drift.feature["):-len("].drifted")]
            drifted.append((metrics.get(f"drift.feature[{name}].effect", math.nan), name))
    drifted.sort(key=lambda e: (-e[0] if not math.isnan(e[0]) else math.inf, e[1]))
    parts = []
    if drifted:
        shown = [f"{name} (effect {effect:.2g})" for effect, name in drifted[:top]]
        more = f" and {len(drifted) - top} more" if len(drifted) > top else ""
        parts.append("drifting: " + ", ".join(shown) + more)
    elif "drift.share_drifted" in metrics:
        parts.append("no feature drifts")
    if metrics.get("drift.multivariate.drifted", 0.0) >= 1.0:
        prefix = "drift.multivariate.importance["
        ranked: list[tuple[float, str]] = sorted(
            ((imp, key[len(prefix):-1]) for key, imp in metrics.items()
             if key.startswith(prefix)), reverse=True)
        named = ", ".join(f"{feat} {imp:.2g}" for imp, feat in ranked[:3])
        parts.append(f"multivariate AUC {metrics['drift.multivariate.auc']:.2g}"
                     + (f" (separating: {named})" if named else ""))
    if "drift.output" in metrics:
        parts.append(f"output effect {metrics['drift.output']:.2g}")
    if "concept.accuracy_drop" in metrics:
        parts.append(f"accuracy drop {metrics['concept.accuracy_drop']:.2g}")
    return "; ".join(parts)
