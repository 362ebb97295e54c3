"""Candidate vs champion on the same held-out rows, and the verdict.

:func:`evaluate_candidate` runs both versions on the holdout through
:func:`rampup.analysis.evaluate.compare_versions` (metric deltas with paired-bootstrap
intervals, McNemar, kept with the candidate as a ``comparison``) and, when the model
has an audit attached, the audit on the candidate (kept too, so the deployment gate
sees it). :func:`verdict` is the pure decision.

The rule is non-inferiority: a retrained model meant to fix drift need not be
significantly better, only not worse than the champion by more than the tolerance. The
wording says which claim the data supports: "better than the champion" only when the
paired interval of the difference excludes zero, else "no worse than the champion
(within noise)"; :attr:`Verdict.held` keeps it (``better`` / ``no_worse``).

>>> from rampup.analysis.compare import Delta
>>> v = verdict(Delta("accuracy", 0.80, 0.8008, 0.0008, -0.015, 0.013), tolerance=0.01)
>>> v.passed, v.held, v.reasons[0].split("): ")[1]
(True, 'no_worse', 'no worse than the champion (within noise: the 95% interval of the difference includes 0; allowed margin 0.01)')
>>> v = verdict(Delta("accuracy", 0.80, 0.85, 0.05, 0.02, 0.08), tolerance=0.01)
>>> v.held, v.reasons[0].split("): ")[1]
('better', 'better than the champion (the 95% interval of the difference excludes 0)')
>>> v = verdict(Delta("accuracy", 0.80, 0.70, -0.10, -0.13, -0.07), tolerance=0.01)
>>> v.passed, v.reasons[0]
(False, 'accuracy 0.7000 vs champion 0.8000 (delta -0.1000, 95% CI [-0.1300, -0.0700]): worse than the champion by more than the tolerance 0.01')
>>> verdict(Delta("mae", 2.0, 1.5, -0.5), tolerance=0.1).held  # no interval: no claim
'no_worse'
"""  # noqa: E501

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from rampup.analysis.compare import Delta
from rampup.analysis.metrics import higher_is_better
from rampup.errors import ValidationError
from rampup.registry.registry import Registry


@dataclass(frozen=True)
class Verdict:
    """``held``: which claim the evaluation supports on the deciding metric (``better``:
    the interval excludes zero; ``no_worse``: within the tolerance, no more), None when
    the candidate is worse or cannot be compared."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    held: Literal["better", "no_worse"] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "held": self.held}


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4f}"


def verdict(delta: Delta, *, tolerance: float, audit_passed: bool | None = None,
            audit_failed: list[str] | None = None) -> Verdict:
    """Pass when the candidate is not worse than the champion by more than ``tolerance``
    on the deciding metric (and passes the audit, when one is attached); say "better"
    only when the interval of the difference excludes zero."""
    up = higher_is_better(delta.metric)
    sign = 1.0 if up in (True, None) else -1.0
    gain = sign * delta.delta
    shown = (f"{delta.metric} {_fmt(delta.challenger)} vs champion {_fmt(delta.champion)} "
             f"(delta {delta.delta:+.4f}")
    if not math.isnan(delta.lo):
        shown += f", 95% CI [{_fmt(delta.lo)}, {_fmt(delta.hi)}]"
    shown += ")"
    reasons: list[str] = []
    passed = True
    held: Literal["better", "no_worse"] | None = None
    if math.isnan(gain):
        passed = False
        reasons.append(f"{shown}: cannot be compared")
    elif gain < -tolerance:
        passed = False
        reasons.append(f"{shown}: worse than the champion by more than the tolerance "
                       f"{tolerance:g}")
    elif delta.better == "challenger":
        held = "better"
        reasons.append(f"{shown}: better than the champion (the 95% interval of the "
                       "difference excludes 0)")
    else:
        held = "no_worse"
        noise = "no interval to tell a gain from noise" if math.isnan(delta.lo) else \
            "the 95% interval of the difference includes 0"
        reasons.append(f"{shown}: no worse than the champion (within noise: {noise}; "
                       f"allowed margin {tolerance:g})")
    if audit_passed is False:
        passed = False
        reasons.append("the model's audit failed: " + (", ".join(audit_failed or [])
                                                       or "see the stored result"))
    elif audit_passed is True:
        reasons.append("the model's audit passed")
    return Verdict(passed, reasons, held if passed else None)


def evaluate_candidate(registry: Registry, model: str, champion: str, candidate: str,
                       holdout: pd.DataFrame, *, label_column: str, metric: str,
                       tolerance: float, bootstrap: int = 300, seed: int = 0,
                       actor: str = "retrain") -> tuple[Verdict, dict[str, Any]]:
    """Compare on ``holdout`` and judge; returns the verdict and what to keep with the run."""
    from rampup.analysis.evaluate import compare_versions
    from rampup.analysis.report import jsonable

    if holdout.empty:
        raise ValidationError("the holdout has no rows", fix="send more labels, or set "
                              "retrain.evaluation.test_set")
    result = compare_versions(registry, f"{model}@{champion}", f"{model}@{candidate}",
                              holdout, label_column=label_column, bootstrap=bootstrap,
                              seed=seed, store=True, actor=actor, data_name="retrain holdout")
    comparison = result.comparison
    delta = comparison.delta(metric)
    audit = _audit(registry, model, candidate, holdout, label_column, actor)
    v = verdict(delta, tolerance=tolerance,
                audit_passed=None if audit is None else bool(audit["passed"]),
                audit_failed=None if audit is None else audit["failed"])
    deltas = [{"metric": d.metric, "champion": d.champion, "candidate": d.challenger,
               "delta": d.delta, "lo": d.lo, "hi": d.hi, "significant": d.significant}
              for d in comparison.deltas]
    kept = {"champion": champion, "candidate": candidate, "rows": comparison.n,
            "metric": metric, "tolerance": tolerance, "deltas": jsonable(deltas),
            "mcnemar": jsonable(comparison.to_dict()["mcnemar"]),
            "agreement": comparison.agreement, "outcomes": dict(comparison.outcomes),
            "comparison_id": result.record_id, "audit": audit, "held": v.held}
    return v, kept


def _audit(registry: Registry, model: str, version: str, holdout: pd.DataFrame,
           label_column: str, actor: str) -> dict[str, Any] | None:
    """Run the model's attached audit on the candidate's holdout predictions."""
    from rampup.analysis.audit import parse_audit_spec, run_audit, save_audit_result
    from rampup.analysis.data import align_labels, load_dataset, model_predictions

    record = registry.store.models.get_model(model)
    attached = (record.config or {}).get("audit") if record is not None else None
    if not isinstance(attached, dict):
        return None
    spec = parse_audit_spec(attached, f"the audit attached to {model}")
    dataset = load_dataset(holdout, label_column, name="retrain holdout")
    preds = model_predictions(registry.load(registry.get(model, version)), dataset,
                              f"{model}@{version}")
    labels = align_labels(dataset.labels, preds.classes)
    result = run_audit(spec, dataset.frame, labels.to_numpy(), preds.values,
                       scores=preds.scores)
    save_audit_result(registry.store, model, version, result, actor=actor)
    return {"name": spec.name, "passed": result.passed, "failed": result.failed}
