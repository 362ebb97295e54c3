"""Drift results as data: one :class:`TestResult` per feature test, a :class:`DriftReport`
per comparison, the settings (:class:`DriftConfig`) and the decision rule.

A test **drifts** when its change is significant after the multiple-testing correction
(``q ≤ alpha``) **and** its effect size reaches the practical minimum for its kind. So a
tiny, real shift on a huge window is reported ("significant, small") but does not alarm,
and a large-looking distance on a tiny window does not alarm unless it is significant.

>>> r = TestResult("age", "numeric", "ks", 0.3, 0.001, 0.4, "wasserstein/std", 0.1, 500, 80)
>>> [x.verdict for x in decide([r, replace(r, feature="b", p_value=0.5)], 0.05, "bh")]
['drift', 'no drift']
>>> decide([replace(r, effect=0.05)], 0.05, "bh")[0].verdict
'significant, small'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rampup.drift.multitest import CORRECTIONS, adjust
from rampup.errors import ValidationError

DRIFT = "drift"
SMALL = "significant, small"
NO_DRIFT = "no drift"
NOT_TESTED = "not tested"
#: kinds of input-feature tests (one family for the correction); the rest are outputs.
INPUT_KINDS = ("numeric", "categorical", "binary", "missing", "text", "unseen")
OUTPUT_KINDS = ("output", "label")
DEFAULT_MIN_EFFECT: dict[str, float] = {
    "numeric": 0.1,      # Wasserstein distance in reference standard deviations
    "text": 0.1,         # the same, on text lengths
    "categorical": 0.05,  # Jensen-Shannon distance (base 2)
    "binary": 0.05,      # absolute change in the share of the positive value
    "missing": 0.02,     # absolute change in the missing fraction
    "unseen": 0.005,     # share of current rows with a value the reference never had
}


@dataclass(frozen=True)
class DriftConfig:
    """How drift is decided.

    ``min_effect`` maps a test kind (numeric, categorical, binary, missing, text) to its
    practical minimum; ``feature_min_effect`` overrides it per feature. ``spread``
    normalises Wasserstein distances by the reference ``std`` or ``iqr``. ``reps`` and
    ``seed`` drive the calibration of binned statistics; windows with fewer than
    ``min_rows`` values are not tested.
    """

    alpha: float = 0.05
    correction: str = "bh"
    min_effect: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_EFFECT))
    feature_min_effect: Mapping[str, float] = field(default_factory=dict)
    spread: str = "std"
    reps: int = 1000
    seed: int = 0
    min_rows: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValidationError(f"alpha must be between 0 and 1, got {self.alpha}",
                                  fix="use e.g. 0.05 or 0.01")
        if self.correction not in CORRECTIONS:
            raise ValidationError(f"unknown correction {self.correction!r}",
                                  fix="use bh, bonferroni or none")
        if self.spread not in ("std", "iqr"):
            raise ValidationError(f"unknown spread {self.spread!r}", fix="use std or iqr")
        unknown = set(self.min_effect) - set(DEFAULT_MIN_EFFECT) - set(OUTPUT_KINDS)
        if unknown:
            raise ValidationError(f"unknown test kind(s) in min_effect: {sorted(unknown)}",
                                  fix=f"use {', '.join(DEFAULT_MIN_EFFECT)}")

    def minimum(self, feature: str, kind: str) -> float:
        if feature in self.feature_min_effect:
            return float(self.feature_min_effect[feature])
        merged = {**DEFAULT_MIN_EFFECT, **self.min_effect}
        return float(merged.get(kind, merged["numeric"]))


@dataclass(frozen=True)
class Histogram:
    """Reference and current counts on shared bins, for charts. ``edges`` (numeric: one
    more than the counts, ±inf as strings) or ``labels`` (categories)."""

    ref_counts: tuple[int, ...]
    cur_counts: tuple[int, ...]
    edges: tuple[float | str, ...] | None = None
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TestResult:
    """One test of one feature (or output): statistic, p-value, effect size and verdict.

    ``metrics`` holds the other distances (PSI, JS, Hellinger, KS, Wasserstein, ...) and,
    for binned ones, their no-drift thresholds at this window size (``psi_threshold``...).
    """

    __test__ = False  # not a pytest class, despite the name

    feature: str
    kind: str
    test: str
    statistic: float
    p_value: float
    effect: float
    effect_name: str
    min_effect: float
    n_ref: int
    n_cur: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unseen: Mapping[str, int] = field(default_factory=dict)
    histogram: Histogram | None = None
    q_value: float = math.nan
    verdict: str = NOT_TESTED

    @property
    def tested(self) -> bool:
        return not math.isnan(self.p_value)

    @property
    def drifted(self) -> bool:
        return self.verdict == DRIFT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: _jsonable(v) for k, v in d.items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else (str(v) if math.isinf(v) else v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def decide(results: Sequence[TestResult], alpha: float, correction: str) -> list[TestResult]:
    """Adjust p-values within each family (inputs, outputs) and set each verdict."""
    return decide_joint(results, alpha, correction)[0]


def decide_joint(results: Sequence[TestResult], alpha: float, correction: str,
                 joint: Sequence[float] = ()) -> tuple[list[TestResult], list[float]]:
    """:func:`decide`, with ``joint``: more p-values (the domain classifier's) adjusted
    in the input family, so the dataset verdict spends one error budget across all its
    parts. Returns the decided results and the adjusted ``joint`` p-values."""
    out = list(results)
    unknown = {r.kind for r in out} - set(INPUT_KINDS + OUTPUT_KINDS)
    if unknown:
        raise ValidationError(f"unknown test kind(s) {sorted(unknown)}",
                              fix=f"use one of {', '.join(INPUT_KINDS + OUTPUT_KINDS)}")
    joint_q: list[float] = []
    for kinds, extra in ((INPUT_KINDS, list(joint)), (OUTPUT_KINDS, [])):
        idx = [i for i, r in enumerate(out) if r.kind in kinds]
        qs = adjust([out[i].p_value for i in idx] + extra, correction)
        for i, q in zip(idx, qs[:len(idx)], strict=True):
            out[i] = replace(out[i], q_value=q, verdict=_verdict(out[i], q, alpha))
        joint_q += qs[len(idx):]
    return out, joint_q


def _verdict(r: TestResult, q: float, alpha: float) -> str:
    if math.isnan(q):
        return NOT_TESTED
    if q > alpha:
        return NO_DRIFT
    return DRIFT if r.effect >= r.min_effect else SMALL


@dataclass(frozen=True)
class DomainResult:
    """The multivariate test: can a classifier tell reference rows from current rows?"""

    auc: float
    p_value: float
    n_ref: int
    n_cur: int
    model: str
    folds: int
    top_features: tuple[tuple[str, float], ...] = ()
    min_auc: float = 0.55
    alpha: float = 0.05
    q_value: float = math.nan

    @property
    def drifted(self) -> bool:
        """Significant (its p-value adjusted with the feature tests' when it is part of a
        report, see :func:`build_report`) and separating at least ``min_auc``."""
        q = self.p_value if math.isnan(self.q_value) else self.q_value
        return q <= self.alpha and self.auc >= self.min_auc

    def to_dict(self) -> dict[str, Any]:
        return {**_jsonable(asdict(self)), "drifted": self.drifted}


@dataclass(frozen=True)
class DriftReport:
    """All tests of one comparison, decided. ``meta`` says what was compared."""

    results: tuple[TestResult, ...]
    alpha: float
    correction: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    multivariate: DomainResult | None = None

    @property
    def inputs(self) -> list[TestResult]:
        return [r for r in self.results if r.kind in INPUT_KINDS]

    @property
    def outputs(self) -> list[TestResult]:
        return [r for r in self.results if r.kind in OUTPUT_KINDS]

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(r.feature for r in self.inputs))

    @property
    def drifted_features(self) -> list[str]:
        return list(dict.fromkeys(r.feature for r in self.inputs if r.drifted))

    @property
    def share_drifted(self) -> float:
        feats = self.features
        return len(self.drifted_features) / len(feats) if feats else 0.0

    @property
    def dataset_drift(self) -> bool:
        """Some input feature drifted after the correction (or the multivariate test)."""
        return bool(self.drifted_features) or bool(self.multivariate and
                                                   self.multivariate.drifted)

    def feature_effect(self, feature: str) -> float:
        """The feature's largest effect relative to its practical minimum, in the units of
        its main test (missing-value changes count when they are the larger)."""
        rs = [r for r in self.inputs if r.feature == feature and r.tested]
        if not rs:
            return math.nan
        main = max(rs, key=lambda r: r.effect / r.min_effect if r.min_effect else r.effect)
        return main.effect

    def to_dict(self) -> dict[str, Any]:
        return {"meta": _jsonable(dict(self.meta)), "alpha": self.alpha,
                "correction": self.correction, "dataset_drift": self.dataset_drift,
                "share_drifted": self.share_drifted, "features": len(self.features),
                "drifted_features": self.drifted_features,
                "results": [r.to_dict() for r in self.results],
                "multivariate": self.multivariate.to_dict() if self.multivariate else None}


def build_report(results: Sequence[TestResult], config: DriftConfig,
                 meta: Mapping[str, Any] | None = None,
                 multivariate: DomainResult | None = None) -> DriftReport:
    """Decide ``results`` into a report. **One error budget**: the dataset verdict is
    "some input test or the domain classifier drifts", so the domain classifier's
    p-value joins the input features' family and is adjusted with them (with ``bh``
    this is Simes' test of "nothing changed" across all the parts: a dataset false
    alarm at most ``alpha`` when nothing drifts; before, features at 5 % OR the
    classifier at 5 % gave about 8 %)."""
    joint = [multivariate.p_value] if multivariate is not None and \
        not math.isnan(multivariate.p_value) else []
    decided, joint_q = decide_joint(results, config.alpha, config.correction, joint)
    if joint and multivariate is not None:
        multivariate = replace(multivariate, q_value=joint_q[0])
    return DriftReport(tuple(decided), config.alpha, config.correction, dict(meta or {}),
                       multivariate)


def with_multivariate(report: DriftReport, multivariate: DomainResult, config: DriftConfig
                      ) -> DriftReport:
    """``report`` re-decided with a domain classifier's result computed elsewhere (the
    CLI's worker process): the same verdicts :func:`build_report` gives with it."""
    return build_report(report.results, config, report.meta, multivariate)
