"""Champion vs challenger: McNemar by hand, deltas against scikit-learn, slices, examples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from rampup.analysis.compare import compare, mcnemar
from rampup.analysis.report import jsonable
from rampup.errors import ValidationError


def test_mcnemar_exact_by_hand() -> None:
    # 3 vs 12 discordant rows: p = 2 * P(X <= 3), X ~ Binomial(15, 1/2)
    m = mcnemar(3, 12)
    assert m.method == "exact"
    assert m.statistic == 3
    assert m.p_value == pytest.approx(2 * (1 + 15 + 105 + 455) / 2**15)
    assert m.p_value == pytest.approx(stats.binomtest(3, 15, 0.5).pvalue)
    assert mcnemar(0, 2).p_value == 0.5
    assert mcnemar(5, 5).p_value == 1.0
    assert mcnemar(0, 0).p_value == 1.0


def test_mcnemar_chi_square_by_hand() -> None:
    m = mcnemar(10, 25, exact=False)
    assert m.statistic == pytest.approx((15 - 1) ** 2 / 35)  # 5.6
    assert m.p_value == pytest.approx(0.017961, abs=1e-6)
    plain = mcnemar(10, 25, exact=False, correction=False)
    assert plain.statistic == pytest.approx(15**2 / 35)
    assert mcnemar(30, 10).method == "chi2"  # 40 discordant rows: chi-square by default


def models(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    group = rng.choice(["a", "b"], n)
    a = np.where(rng.random(n) < 0.75, y, 1 - y)
    b = np.where(rng.random(n) < np.where(group == "b", 0.95, 0.75), y, 1 - y)
    return y, a, b, group


def test_deltas_match_sklearn_and_the_better_model_wins() -> None:
    y, a, b, group = models(3000, 0)
    c = compare(y, a, b, groups=group, bootstrap=300, seed=1)
    for name, fn in (("accuracy", skm.accuracy_score), ("precision", skm.precision_score),
                     ("recall", skm.recall_score), ("f1", skm.f1_score)):
        d = c.delta(name)
        assert d.champion == pytest.approx(fn(y, a))
        assert d.challenger == pytest.approx(fn(y, b))
        assert d.lo < d.delta < d.hi
    assert c.delta("accuracy").better == "challenger"
    assert c.mcnemar is not None
    assert c.mcnemar.p_value < 1e-6
    slices = {s.slice: s for s in c.slices}
    in_a = group == "a"
    acc_a = slices["a"].deltas[0]
    assert acc_a.delta == pytest.approx(skm.accuracy_score(y[in_a], b[in_a])
                                        - skm.accuracy_score(y[in_a], a[in_a]))
    assert not acc_a.significant  # same quality in slice a
    assert slices["b"].deltas[0].better == "challenger"
    assert slices["a"].n + slices["b"].n == 3000


def test_identical_models_have_zero_deltas_and_no_disagreements() -> None:
    y, a, _, _ = models(500, 2)
    c = compare(y, a, a.copy(), bootstrap=100)
    assert all(d.delta == 0 and d.lo == 0 and d.hi == 0 for d in c.deltas)
    assert c.agreement == 1.0
    assert len(c.disagreements) == 0
    assert c.mcnemar is not None
    assert c.mcnemar.p_value == 1.0


def test_disagreements_and_outcomes() -> None:
    y = np.array(["x", "y", "z", "x", "y", "z"])
    a = np.array(["x", "y", "x", "y", "y", "y"])
    b = np.array(["x", "x", "z", "z", "y", "x"])
    c = compare(y, a, b, ids=[f"r{i}" for i in range(6)], bootstrap=0, names=("old", "new"))
    assert c.outcomes == {"both right": 2, "champion right": 1, "challenger right": 1,
                          "both wrong": 2}
    assert c.disagreements.to_dict(orient="list") == {
        "id": ["r1", "r2", "r3", "r5"], "label": ["y", "z", "x", "z"],
        "old": ["y", "x", "y", "y"], "new": ["x", "z", "z", "x"],
        "outcome": ["champion right", "challenger right", "both wrong", "both wrong"]}
    assert np.isnan(c.deltas[0].lo)  # no bootstrap: no interval
    json.dumps(jsonable(c.to_dict()), allow_nan=False)


def test_score_metric_deltas() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 1000)
    sa = np.clip(0.5 + (y - 0.5) * 0.2 + rng.normal(0, 0.25, 1000), 0, 1)
    sb = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.25, 1000), 0, 1)
    c = compare(y, (sa > 0.5).astype(int), (sb > 0.5).astype(int), scores_champion=sa,
                scores_challenger=sb, bootstrap=200, seed=4)
    auc = c.delta("roc_auc")
    assert auc.champion == pytest.approx(skm.roc_auc_score(y, sa))
    assert auc.challenger == pytest.approx(skm.roc_auc_score(y, sb))
    assert auc.better == "challenger"
    assert c.delta("pr_auc").champion == pytest.approx(skm.average_precision_score(y, sa))


def test_regression_comparison() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=800)
    a = y + rng.normal(0, 1.0, 800)
    b = y + rng.normal(0, 0.5, 800)
    c = compare(y, a, b, regression=True, bootstrap=200, groups=rng.choice(["u", "v"], 800))
    mae = c.delta("mae")
    assert mae.champion == pytest.approx(skm.mean_absolute_error(y, a))
    assert mae.better == "challenger"
    assert mae.delta < 0
    assert c.delta("r2").challenger == pytest.approx(skm.r2_score(y, b))
    assert sum(c.outcomes.values()) == 800
    assert len(c.disagreements) == 20
    assert c.mcnemar is None
    assert len(c.slices) == 2


def test_compare_refuses_mismatched_inputs() -> None:
    with pytest.raises(ValidationError, match="predict the same rows"):
        compare([0, 1], [0, 1], [0])
    with pytest.raises(ValidationError, match="need both models' scores"):
        compare([0, 1], [0, 1], [1, 1], metrics=("roc_auc",))
    with pytest.raises(ValidationError, match="not a regression metric"):
        compare([0.0, 1.0], [0.0, 1.0], [1.0, 1.0], regression=True, metrics=("accuracy",))
