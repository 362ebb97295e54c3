"""Splits keep every slice's proportions within tolerance and never share a group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rampup.analysis.splits import joint_codes, parse_ratios, split_report, stratified_split
from rampup.errors import ValidationError


def _frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": rng.choice(["ok", "fraud"], n, p=[0.95, 0.05]),
        "region": rng.choice(["n", "s", "e", "w"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "device": rng.choice(["ios", "android", "web"], n),
        "user": rng.integers(0, n // 8, n),  # about 8 rows per user
    })


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_joint_slice_keeps_its_share_in_every_split(seed: int) -> None:
    df = _frame(seed, 20_000)
    s = stratified_split(df.y, strata={"region": df.region, "device": df.device},
                         ratios=(0.6, 0.2, 0.2), seed=seed)
    assert s.names == ("train", "dev", "test")
    sizes = s.sizes()
    assert sum(sizes.values()) == 20_000
    # each of the 2 x 4 x 3 strata is split to within one row of its exact share
    key = joint_codes([df.y, df.region, df.device])
    for k in np.unique(key):
        rows = key == k
        counts = np.bincount(s.assignment[rows], minlength=3)
        assert np.all(np.abs(counts - rows.sum() * np.array([0.6, 0.2, 0.2])) < 1 + 1e-9)
    for name, exact in zip(s.names, (0.6, 0.2, 0.2), strict=True):
        assert abs(sizes[name] - 20_000 * exact) <= 24  # at most one row per stratum
    report = split_report(s, {"y": df.y, "region": df.region, "device": df.device})
    for r in report.rows:
        for split, ratio in report.ratios.items():
            assert abs(r.fraction_to[split] - ratio) <= max(0.005, 3 / r.n)
    # the rare class (about 1000 rows) is within 0.2 points of its share in each split
    fraud = next(r for r in report.rows if r.column == "y" and r.value == "fraud")
    assert all(abs(fraud.share_in[sp] - fraud.share) < 0.002 for sp in s.names)
    assert report.max_deviation() < 0.003


def test_a_rare_slice_is_divided_exactly() -> None:
    y = np.zeros(1000, dtype=int)
    rare = np.array(["rare"] * 10 + ["common"] * 990)
    for seed in range(10):
        s = stratified_split(y, strata={"kind": rare}, seed=seed)
        assert np.bincount(s.assignment[:10], minlength=3).tolist() == [6, 2, 2]


def test_seed_changes_the_split_and_is_reproducible() -> None:
    df = _frame(3, 2000)
    a = stratified_split(df.y, strata={"region": df.region}, seed=1).assignment
    b = stratified_split(df.y, strata={"region": df.region}, seed=1).assignment
    c = stratified_split(df.y, strata={"region": df.region}, seed=2).assignment
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [0, 1])
def test_groups_never_span_two_splits(seed: int) -> None:
    df = _frame(seed, 20_000)
    s = stratified_split(df.y, strata={"region": df.region}, groups=df.user, seed=seed)
    per_user = pd.Series(s.assignment).groupby(df.user.to_numpy()).nunique()
    assert per_user.max() == 1
    train, dev, test = (set(df.user[s.mask(x)]) for x in s.names)
    assert not train & dev
    assert not train & test
    assert not dev & test
    sizes = s.sizes()
    for name, exact in zip(s.names, (0.6, 0.2, 0.2), strict=True):
        assert abs(sizes[name] / 20_000 - exact) < 0.02
    report = split_report(s, {"region": df.region}, groups=df.user)
    assert report.groups == df.user.nunique()
    for r in report.rows:  # regions are row attributes, users mix them: looser, still close
        assert all(abs(r.fraction_to[sp] - ratio) < 0.04 for sp, ratio in report.ratios.items())


def test_groups_with_one_stratum_each_are_stratified_by_it() -> None:
    # every user has one label; the 10% of users who are 'fraud' split 60/20/20 as users
    users = np.repeat(np.arange(500), 4)
    y = np.where(users < 50, "fraud", "ok")
    s = stratified_split(y, groups=users, seed=0)
    fraud_users = pd.Series(s.assignment[y == "fraud"]).groupby(users[y == "fraud"]).first()
    assert np.bincount(fraud_users, minlength=3).tolist() == [30, 10, 10]


def test_two_way_split_names_ratios_and_missing_values() -> None:
    y = np.array([1, 0, None, 1, 0, None, 1, 0] * 25, dtype=object)
    s = stratified_split(y, ratios=parse_ratios("80,20"), seed=0)
    assert s.names == ("train", "test")
    assert s.sizes() == {"train": 160, "test": 40}
    report = split_report(s, {"y": y})
    assert {r.value for r in report.rows} == {"1", "0", "(missing)"}
    missing = next(r for r in report.rows if r.value == "(missing)")
    assert missing.counts == {"train": 40, "test": 10}
    assert stratified_split(y, ratios=(1, 1, 1, 1), seed=0).names == (
        "split0", "split1", "split2", "split3")
    custom = stratified_split(y, ratios=(1, 1), names=("a", "b"))
    assert custom.mask("a").sum() == 100


def test_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="two or more positive numbers"):
        parse_ratios("100")
    with pytest.raises(ValidationError, match="not numbers"):
        parse_ratios("60,x,20")
    with pytest.raises(ValidationError, match="two or more positive numbers"):
        parse_ratios([0.5, -0.5])
    with pytest.raises(ValidationError, match="need as many distinct names"):
        stratified_split([1, 2], ratios=(1, 1), names=("a",))
    with pytest.raises(ValidationError, match="slice column 'r' has 1 values for 2 rows"):
        stratified_split([1, 2], strata={"r": [1]})
    with pytest.raises(ValidationError, match="groups has 1 values"):
        stratified_split([1, 2], groups=[1])
    with pytest.raises(ValidationError, match="no split named 'x'"):
        stratified_split([1, 2], ratios=(1, 1)).mask("x")
    assert stratified_split([]).sizes() == {"train": 0, "dev": 0, "test": 0}
