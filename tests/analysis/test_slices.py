"""Slices against a per-group scikit-learn computation; groupings; intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from rampup.analysis.metrics import ConfusionCounts
from rampup.analysis.slices import (
    Grouping,
    SliceTable,
    by_bins,
    by_expressions,
    by_tags,
    by_values,
    from_frame,
    slice_metrics,
)
from rampup.errors import ValidationError

SK = {"accuracy": lambda y, p: skm.accuracy_score(y, p),
      "precision": lambda y, p: skm.precision_score(y, p, zero_division=np.nan),
      "recall": lambda y, p: skm.recall_score(y, p, zero_division=np.nan),
      "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=np.nan)}


def frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "city": rng.choice(["oslo", "rome", "lima", "paris"], n),
        "age": rng.integers(18, 90, n),
        "noisy": rng.random(n) < 0.3,
        "accent": rng.random(n) < 0.2,
        "y": rng.integers(0, 2, n)})
    wrong = rng.random(n) < np.where(df["city"] == "lima", 0.4, 0.15)
    df["p"] = np.where(wrong, 1 - df["y"], df["y"])
    df["score"] = np.clip(np.where(df["y"] == 1, 0.65, 0.35) + rng.normal(0, 0.2, n), 0, 1)
    return df


def check_rows(table: SliceTable, df: pd.DataFrame, masks: dict[str, np.ndarray]) -> None:
    rows = {r.slice: r for r in table.rows}
    assert set(rows) == set(masks)
    for label, mask in masks.items():
        r = rows[label]
        assert r.n == int(mask.sum())
        for m in table.metrics:
            expected = SK[m](df["y"][mask], df["p"][mask])
            assert r.values[m] == pytest.approx(expected, nan_ok=True), (label, m)


def test_slices_by_value_match_sklearn_per_group() -> None:
    df = frame()
    table = slice_metrics(df["y"], df["p"], df["city"], ("accuracy", "precision", "recall",
                                                          "f1_macro"))
    check_rows(table, df, {c: (df["city"] == c).to_numpy() for c in df["city"].unique()})
    assert table.overall.values["accuracy"] == pytest.approx(skm.accuracy_score(df["y"], df["p"]))
    assert [r.slice for r in table.rows] == ["lima", "oslo", "paris", "rome"]
    for i, r in enumerate(table.rows):
        mask = (df["city"] == r.slice).to_numpy()
        assert table.confusion(i) == ConfusionCounts.from_labels(
            df["y"][mask], df["p"][mask], classes=(0, 1))


def test_bins_tags_and_expressions_match_sklearn() -> None:
    df = frame(seed=1)
    bins = by_bins(df["age"], [17, 30, 60, 90])
    check_rows(slice_metrics(df["y"], df["p"], bins, ("accuracy", "recall")), df, {
        "(17, 30]": (df["age"] <= 30).to_numpy(),
        "(30, 60]": ((df["age"] > 30) & (df["age"] <= 60)).to_numpy(),
        "(60, 90]": (df["age"] > 60).to_numpy()})
    tags = by_tags(df[["noisy", "accent"]])  # overlapping
    check_rows(slice_metrics(df["y"], df["p"], tags, ("accuracy", "precision")), df, {
        "noisy": df["noisy"].to_numpy(), "accent": df["accent"].to_numpy()})
    expr = by_expressions(df, {"old in rome": "age > 60 and city == 'rome'", "young": "age < 25"})
    check_rows(slice_metrics(df["y"], df["p"], expr, ("f1_macro",)), df, {
        "old in rome": ((df["age"] > 60) & (df["city"] == "rome")).to_numpy(),
        "young": (df["age"] < 25).to_numpy()})


def test_many_overlapping_tags_take_the_per_tag_path() -> None:
    rng = np.random.default_rng(4)
    df = frame(1000, 4)
    tags = pd.DataFrame({f"t{j}": rng.random(1000) < 0.1 for j in range(70)})
    table = slice_metrics(df["y"], df["p"], tags, ("accuracy",))
    few = slice_metrics(df["y"], df["p"], tags.iloc[:, :10], ("accuracy",))
    assert [r.values for r in table.rows[:10]] == [r.values for r in few.rows]
    check_rows(table, df, {c: tags[c].to_numpy() for c in tags})


def test_several_groupings_missing_values_and_sizes() -> None:
    df = frame(500, 2)
    city = df["city"].where(df.index % 7 != 0, None)
    table = slice_metrics(df["y"], df["p"], [by_values(city), by_values(df["noisy"])],
                          ("accuracy",))
    assert [(r.grouping, r.slice) for r in table.rows][-3:] == [
        ("city", "(missing)"), ("noisy", "False"), ("noisy", "True")]
    assert table.row("city", "(missing)").n == int(city.isna().sum())
    assert sum(r.n for r in table.rows if r.grouping == "city") == 500
    out = table.to_frame()
    assert list(out.columns) == ["grouping", "slice", "n", "accuracy"]
    assert out.iloc[0]["grouping"] == "overall"
    assert out.iloc[0]["n"] == 500


def test_undefined_ratios_are_nan_not_zero() -> None:
    y = [1, 1, 0, 0]
    p = [1, 1, 0, 0]
    table = slice_metrics(y, p, ["a", "a", "b", "b"], ("precision", "recall"))
    b = table.row("group", "b")  # no positives at all in slice b
    assert np.isnan(b.values["precision"])
    assert np.isnan(b.values["recall"])
    zero = slice_metrics(y, p, ["a", "a", "b", "b"], ("recall",), zero_division=0.0)
    assert zero.row("group", "b").values["recall"] == 0.0


def test_score_metrics_per_slice_match_sklearn() -> None:
    df = frame(2000, 3)
    table = slice_metrics(df["y"], df["p"], df["city"], ("roc_auc", "pr_auc"),
                          scores=df["score"], bootstrap=50, seed=2)
    for r in table.rows:
        m = (df["city"] == r.slice).to_numpy()
        assert r.values["roc_auc"] == pytest.approx(skm.roc_auc_score(df["y"][m], df["score"][m]))
        assert r.values["pr_auc"] == pytest.approx(
            skm.average_precision_score(df["y"][m], df["score"][m]))
        lo, hi = r.intervals["roc_auc"]
        assert lo < r.values["roc_auc"] < hi
    with pytest.raises(ValidationError, match="need scores"):
        slice_metrics(df["y"], df["p"], df["city"], ("roc_auc",))
    tags = slice_metrics(df["y"], df["p"], by_tags(df[["noisy", "accent"]]), ("roc_auc",),
                         scores=df["score"])
    for r in tags.rows:
        m = df[r.slice].to_numpy()
        assert r.values["roc_auc"] == pytest.approx(skm.roc_auc_score(df["y"][m],
                                                                      df["score"][m]))


def test_multiclass_score_metrics_per_slice_are_macro_one_vs_rest() -> None:
    rng = np.random.default_rng(13)
    y = rng.integers(0, 3, 1500)
    logits = rng.normal(size=(1500, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    g = rng.choice(["u", "v"], 1500)
    table = slice_metrics(y, proba.argmax(1), g, ("roc_auc",), scores=proba)
    for r in table.rows:
        m = g == r.slice
        assert r.values["roc_auc"] == pytest.approx(
            skm.roc_auc_score(y[m], proba[m], multi_class="ovr"))


def test_regression_slices_match_sklearn() -> None:
    rng = np.random.default_rng(9)
    g = rng.choice(["a", "b", "c"], 900)
    y = rng.normal(10, 2, 900)
    p = y + rng.normal(np.where(g == "c", 1.0, 0.0), 1.0)
    table = slice_metrics(y, p, g, ("mae", "rmse", "r2"), bootstrap=100, seed=1)
    for r in table.rows:
        m = g == r.slice
        assert r.values["mae"] == pytest.approx(skm.mean_absolute_error(y[m], p[m]))
        assert r.values["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y[m], p[m])))
        assert r.values["r2"] == pytest.approx(skm.r2_score(y[m], p[m]))
        lo, hi = r.intervals["mae"]
        assert lo < r.values["mae"] < hi
    assert table.counts is None


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate() -> None:
    df = frame(4000, 5)
    a = slice_metrics(df["y"], df["p"], df["city"], bootstrap=200, seed=7)
    b = slice_metrics(df["y"], df["p"], df["city"], bootstrap=200, seed=7)
    c = slice_metrics(df["y"], df["p"], df["city"], bootstrap=200, seed=8)
    assert [r.intervals for r in a.rows] == [r.intervals for r in b.rows]
    assert [r.intervals for r in a.rows] != [r.intervals for r in c.rows]
    for r in (a.overall, *a.rows):
        for m, (lo, hi) in r.intervals.items():
            assert lo <= r.values[m] <= hi
            assert hi - lo < 0.12  # about 1000 rows per slice
    lima = a.row("city", "lima").intervals["accuracy"]
    oslo = a.row("city", "oslo").intervals["accuracy"]
    assert lima[1] < oslo[0]  # the planted weak slice is clearly worse


def test_from_frame_specs() -> None:
    df = frame(300, 6)
    gs = from_frame(df, ["city", "age", "age:3", "noisy", "age >= 60"])
    assert [g.name for g in gs] == ["city", "age", "age", "noisy", "age >= 60"]
    assert len(gs[1].labels) == 5  # many numeric values: 5 quantile bins
    assert len(gs[2].labels) == 3
    assert gs[3].labels == ("False", "True")
    assert gs[4].overlapping
    assert gs[4].labels == ("age >= 60",)
    with pytest.raises(ValidationError, match="cannot evaluate slice expression"):
        from_frame(df, ["no_such_column > 3"])
    with pytest.raises(ValidationError, match="not a boolean column"):
        by_expressions(df, ["age + 1"])


def test_groupings_must_fit_the_rows() -> None:
    with pytest.raises(ValidationError, match="has 2 rows but the data has 3"):
        slice_metrics([0, 1, 1], [0, 1, 0], Grouping("g", ("a",), codes=np.zeros(2, np.int64)))
    with pytest.raises(ValidationError, match="regression metric"):
        slice_metrics([0, 1], [0, 1], ["a", "b"], ("accuracy", "mae"))


def test_fast_paths_give_the_same_slices() -> None:
    """Small integers, booleans and categoricals skip hashing; the slices are the same."""
    rng = np.random.default_rng(12)
    ints = rng.integers(-3, 4, 2000)
    y, p = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    as_text = slice_metrics(y, p, ints.astype(object), ("accuracy",))
    as_int = slice_metrics(y, p, ints, ("accuracy",))
    assert [(r.slice, r.n, r.values) for r in as_int.rows] == [
        (r.slice, r.n, r.values) for r in as_text.rows]
    cities = pd.Series(rng.choice(["oslo", "rome", None], 2000), name="city")
    cat = slice_metrics(y, p, cities.astype("category"), ("accuracy",))
    obj = slice_metrics(y, p, cities, ("accuracy",))
    assert [(r.slice, r.n, r.values) for r in cat.rows] == [
        (r.slice, r.n, r.values) for r in obj.rows]
    flags = slice_metrics(y.astype(bool), p.astype(bool), y == 1, ("accuracy",))
    assert [r.slice for r in flags.rows] == ["False", "True"]
    assert flags.classes == (False, True)
