"""One error budget for the dataset verdict, and the domain classifier's named features
(issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rampup.drift.check import check_frames
from rampup.drift.metrics import drift_metrics, drift_summary
from rampup.drift.multivariate import domain_classifier
from rampup.drift.report import DomainResult, DriftConfig, TestResult, build_report


def _feature(name: str, p: float) -> TestResult:
    return TestResult(name, "numeric", "ks", 0.1, p, 0.5, "wasserstein/std", 0.1, 500, 500)


def test_the_classifier_is_adjusted_with_the_feature_tests() -> None:
    # Features OR classifier, each at 5 %, would call this dataset drifted on the
    # classifier's p = 0.03 alone; adjusted with the five feature tests it is not.
    feats = [_feature(f"f{i}", 0.4 + 0.1 * i) for i in range(5)]
    mv = DomainResult(0.6, 0.03, 500, 500, "hgb", 2)
    assert mv.drifted  # alone, before the adjustment
    rep = build_report(feats, DriftConfig(), multivariate=mv)
    assert rep.multivariate is not None
    assert rep.multivariate.q_value == pytest.approx(0.03 * 6)
    assert not rep.multivariate.drifted
    assert not rep.dataset_drift
    strong = build_report(feats, DriftConfig(),
                          multivariate=DomainResult(0.7, 1e-6, 500, 500, "hgb", 2))
    assert strong.dataset_drift
    assert strong.drifted_features == []
    # the feature tests' q-values count the classifier too (BH over 6 p-values)
    assert strong.results[0].q_value == pytest.approx(0.8)  # min over ranks >= 2: 0.8 * 6/6


def test_the_domain_classifier_names_the_separating_features() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(rng.normal(size=(1500, 4)), columns=["a", "b", "c", "d"])
    cur = pd.DataFrame(rng.normal(size=(1500, 4)), columns=["a", "b", "c", "d"])
    cur["c"] = cur["c"] * 0.3 + 0.8  # c separates the windows
    r = domain_classifier(ref, cur, seed=0)
    assert r.drifted
    assert r.top_features[0][0] == "c"
    assert r.top_features[0][1] > 0.1
    assert all(v >= 0.005 for _, v in r.top_features)
    quiet = domain_classifier(ref.iloc[:700], ref.iloc[700:], seed=0)
    if not quiet.p_value <= quiet.alpha:
        assert quiet.top_features == ()


def test_top_features_reach_the_json_report_and_the_alarm_message() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"income": rng.normal(size=2000), "age": rng.normal(size=2000)})
    cur = pd.DataFrame({"income": rng.normal(0.8, 1.0, 1000), "age": rng.normal(size=1000)})
    check = check_frames(ref, cur)
    mv = check.to_dict()["report"]["multivariate"]
    assert mv["top_features"][0][0] == "income"
    assert mv["q_value"] is not None
    metrics = drift_metrics(check.report)
    assert metrics["drift.multivariate.importance[income]"] > 0
    assert "separating: income" in drift_summary(metrics)
