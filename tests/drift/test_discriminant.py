"""The quadratic-discriminant joint test: its Mann-Whitney against SciPy's, its false
alarms without drift, its power on a correlation change the marginals miss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rampup.drift.discriminant import discriminant_test
from rampup.drift.multivariate import domain_classifier
from rampup.drift.tables import mann_whitney_greater
from rampup.errors import ValidationError


def table(n: int, rng: np.random.Generator, d: int = 10) -> pd.DataFrame:
    df = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{i}" for i in range(d)])
    df["city"] = rng.choice(["paris", "rome", "oslo"], n)
    df.loc[rng.random(n) < 0.1, "x2"] = np.nan
    return df


def rotate(df: pd.DataFrame, angle: float) -> pd.DataFrame:
    """x1 mixed with x0: both marginals stay standard normal, their correlation moves."""
    out = df.copy()
    out["x1"] = np.cos(angle) * df["x1"] - np.sin(angle) * df["x0"]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_is_scipys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=300).round(1), rng.normal(0.1, 1, size=250).round(1)  # ties
    auc, p = mann_whitney_greater(a, b)
    ref = stats.mannwhitneyu(a, b, alternative="greater")
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert auc == pytest.approx(ref.statistic / (len(a) * len(b)))


def test_false_alarms_stay_near_alpha() -> None:
    alarms = 0
    for r in range(100):
        rng = np.random.default_rng(1000 + r)
        alarms += discriminant_test(table(1000, rng), table(1000, rng), seed=r).p_value <= 0.05
    assert alarms <= 12  # 5 expected; P(>= 13 | 5%) < 0.2%


def test_sees_a_correlation_change_the_marginals_miss() -> None:
    hits = 0
    for r in range(10):
        rng = np.random.default_rng(2000 + r)
        result = discriminant_test(table(2000, rng), rotate(table(2000, rng), 0.5), seed=r)
        hits += result.drifted
        if result.drifted:
            assert {name for name, _ in result.top_features[:2]} == {"x0", "x1"}
    assert hits >= 9


def test_sees_category_mix_and_missing_rates() -> None:
    rng = np.random.default_rng(7)
    ref, cur = table(2000, rng), table(2000, rng)
    cur["city"] = rng.choice(["paris", "rome", "oslo"], 2000, p=[0.6, 0.2, 0.2])
    assert discriminant_test(ref, cur, seed=0).drifted
    cur = table(2000, rng)
    cur.loc[rng.random(2000) < 0.3, "x5"] = np.nan
    r = discriminant_test(ref, cur, seed=0)
    assert r.drifted
    assert r.top_features[0][0] == "x5"


def test_small_tables_and_bad_input() -> None:
    rng = np.random.default_rng(3)
    tiny = discriminant_test(table(5, rng), table(5, rng))
    assert np.isnan(tiny.p_value)
    assert not tiny.drifted
    with pytest.raises(ValidationError, match="share no columns"):
        discriminant_test(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]}))
    with pytest.raises(ValidationError, match="hgb, logistic, qda"):
        domain_classifier(table(50, rng), table(50, rng), model="forest")
    assert domain_classifier(table(300, rng), table(300, rng), model="qda").model == "qda"
