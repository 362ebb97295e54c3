"""Slice discovery finds planted weak slices and stays quiet (FDR-controlled) on null data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rampup.analysis.discovery import Condition, candidate_conditions, discover_slices
from rampup.analysis.error_analysis import analyse_errors
from rampup.errors import ValidationError


def _features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "device": rng.choice(["ios", "android", "web"], n),
        "country": rng.choice(["fr", "de", "uk", "es", "it"], n),
        "returning": rng.random(n) < 0.5,
        "age": rng.uniform(18, 80, n),
        "amount": rng.lognormal(3, 1, n),
    })


@pytest.mark.parametrize("seed", range(5))
def test_finds_a_planted_two_feature_slice(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4000
    df = _features(rng, n)
    weak = (df.device == "web").to_numpy() & (df.age > 62).to_numpy()  # ~9% of the data
    errors = rng.random(n) < np.where(weak, 0.35, 0.05)
    found = discover_slices(df, errors)
    top = max(found.findings, key=lambda f: f.lift)
    assert {c.feature for c in top.conditions} == {"device", "age"}
    assert str(top.conditions[0]) == "device=web" or str(top.conditions[1]) == "device=web"
    mask = found.tags()[top.name]
    assert (mask & weak).sum() / mask.sum() > 0.85  # the found slice is mostly the planted one
    assert top.q_value <= 0.05
    assert top.error_rate > 0.25
    # its parents are worse too (diluted); the pair is not repeated with unrelated features
    names = [f.name for f in found.findings]
    assert "device=web" in names
    unrelated = [x for x in names if "country" in x or "returning" in x or "amount" in x]
    assert len(unrelated) <= 1


def test_finds_a_planted_single_value_slice_and_returns_tags() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    df = _features(rng, n)
    weak = (df.country == "it").to_numpy()
    errors = rng.random(n) < np.where(weak, 0.2, 0.08)
    found = discover_slices(df, errors)
    assert found.findings[0].name == "country=it"
    f = found.findings[0]
    assert f.n == int(weak.sum())
    assert f.errors == int(errors[weak].sum())
    assert f.lift == pytest.approx(f.error_rate / errors.mean())
    # the p-value is the one-sided Fisher exact test of the slice against the rest
    table = [[f.errors, f.n - f.errors],
             [int(errors.sum()) - f.errors, n - f.n - int(errors.sum()) + f.errors]]
    assert f.p_value == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)
    # tags plug straight into the error analysis
    table_ = analyse_errors(errors, found.tags())
    assert table_.rows[0].tag == "country=it"
    assert table_.rows[0].n == f.n


def test_false_discoveries_are_controlled_on_null_data() -> None:
    # no slice is worse than any other: under the global null, BH at alpha bounds the
    # chance of reporting anything by alpha (Fisher's test is conservative on top)
    runs, alpha = 60, 0.05
    with_findings = 0
    tested = []
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        n = 2000
        df = _features(rng, n)
        found = discover_slices(df, rng.random(n) < 0.1, alpha=alpha)
        with_findings += bool(found.findings)
        tested.append(found.tested)
    assert min(tested) > 50  # single values, bins and pairs were all tested
    assert with_findings / runs <= alpha + 0.05


def test_min_support_excludes_small_slices() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    df = pd.DataFrame({"tiny": np.where(np.arange(n) < 20, "rare", "common")})
    errors = np.zeros(n, bool)
    errors[:20] = True  # every example of the tiny slice is an error
    errors[rng.choice(np.arange(20, n), 100, replace=False)] = True
    assert discover_slices(df, errors, min_support=30).findings == []
    assert discover_slices(df, errors, min_support=10).findings[0].name == "tiny=rare"


def test_candidates_bins_values_and_missing() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, np.nan],
                       "flag": [True, False] * 4, "city": ["a", "a", "b", None] * 2})
    cand = candidate_conditions(df, ["x", "flag", "city"], n_bins=2)
    conds = cand.conditions
    a = np.column_stack([cand.mask(j) for j in range(len(conds))])
    names = [str(c) for c in conds]
    assert names == ["x<=4", "x>4", "x missing", "flag=True", "flag=False", "city=a",
                     "city=b", "city missing"]
    assert a.sum(axis=0).tolist() == [4, 3, 1, 4, 4, 4, 2, 2]
    for j, c in enumerate(conds):  # each condition re-applied to the data gives its column
        assert c.mask(df).tolist() == a[:, j].tolist()
    assert Condition("x", low=1.0, high=2.5, numeric=True).mask(df).tolist() == [
        False, True] + [False] * 6
    assert str(Condition("x", low=1.0, high=2.5, numeric=True)) == "1<x<=2.5"


def test_no_errors_or_bad_arguments() -> None:
    df = pd.DataFrame({"a": ["x", "y"] * 50})
    assert discover_slices(df, np.zeros(100, bool)).findings == []
    with pytest.raises(ValidationError, match="2 rows of features but 3 error flags"):
        discover_slices(df.head(2), np.zeros(3, bool))
    with pytest.raises(ValidationError, match="feature 'b' is not in the data"):
        discover_slices(df, np.zeros(100, bool), features=["b"])
    with pytest.raises(ValidationError, match="alpha"):
        discover_slices(df, np.zeros(100, bool), alpha=1.5)


def test_to_dict_is_json_ready() -> None:
    import json

    rng = np.random.default_rng(2)
    df = _features(rng, 2000)
    weak = (df.device == "ios").to_numpy()
    found = discover_slices(df, rng.random(2000) < np.where(weak, 0.3, 0.05))
    d = found.to_dict()
    json.dumps(d)
    assert d["findings"][0]["conditions"] == [{"feature": "device", "value": "ios"}]
