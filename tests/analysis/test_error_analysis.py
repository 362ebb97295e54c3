"""The error-analysis table on a small hand-made dataset, number by number."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rampup.analysis.error_analysis import (
    AUGMENT,
    COLLECT,
    IMPROVE,
    NONE,
    RELABEL,
    ActionRules,
    analyse_errors,
    errors_of,
    read_tag_file,
    tags_from_columns,
    tags_from_mapping,
)
from rampup.errors import ValidationError

N = 20
ERRORS_AT = [0, 1, 2, 5, 6, 8, 12]  # 7 errors in 20 examples


def _mask(idx: list[int]) -> np.ndarray:
    m = np.zeros(N, dtype=bool)
    m[idx] = True
    return m


TAGS = {
    "noisy": _mask([0, 1, 2, 3, 4]),  # 5 examples, errors 0 1 2
    "accent": _mask([5, 6, 7]),  # 3 examples, errors 5 6
    "short": _mask([0, 8, 9, 10, 11]),  # overlaps noisy at 0; errors 0 8
    "night": _mask([9, 10, 11, 12]),  # error 12
    "easy": _mask(list(range(13, 20))),  # no errors
}
HUMAN = {"overall": 0.15, "noisy": 0.4, "accent": 0.1, "short": 0.3, "night": 0.05, "easy": 0.0}
RULES = ActionRules(min_agreement=0.8, gap_tolerance=0.01, small_share=0.25, min_examples=4)


def _data() -> tuple[np.ndarray, np.ndarray]:
    y = np.array(["a", "b"] * 10)
    p = y.copy()
    p[ERRORS_AT] = np.where(y[ERRORS_AT] == "a", "b", "a")
    return y, p


def test_table_numbers_one_by_one() -> None:
    y, p = _data()
    errors = errors_of(y, p)
    assert np.flatnonzero(errors).tolist() == ERRORS_AT
    a = analyse_errors(errors, TAGS, baseline_rates=HUMAN, baseline_name="human",
                       agreement={"noisy": 0.6, "accent": 0.95}, rules=RULES)
    assert (a.n, a.errors, a.error_rate) == (20, 7, 0.35)
    assert (a.baseline_name, a.baseline_error_rate) == ("human", 0.15)
    rows = {r.tag: r for r in a.rows}
    # ordered by potential improvement = max(gap, 0) x data share
    assert [r.tag for r in a.rows] == ["accent", "noisy", "night", "short", "easy"]

    acc = rows["accent"]
    assert (acc.n, acc.errors) == (3, 2)
    assert acc.data_share == pytest.approx(3 / 20)
    assert acc.error_share == pytest.approx(2 / 7)
    assert acc.error_rate == pytest.approx(2 / 3)
    assert acc.baseline_error_rate == 0.1
    assert acc.gap == pytest.approx(2 / 3 - 0.1)
    assert acc.potential == pytest.approx((2 / 3 - 0.1) * 0.15)  # 0.085
    assert acc.agreement == 0.95
    assert acc.action == COLLECT  # rare (15% < 25%) and only 3 examples

    noisy = rows["noisy"]
    assert (noisy.n, noisy.errors) == (5, 3)
    assert noisy.data_share == 0.25
    assert noisy.error_share == pytest.approx(3 / 7)
    assert noisy.error_rate == pytest.approx(0.6)
    assert noisy.gap == pytest.approx(0.2)
    assert noisy.potential == pytest.approx(0.05)
    assert noisy.action == RELABEL  # annotators agree only 60% of the time

    night = rows["night"]
    assert (night.n, night.errors, night.error_rate) == (4, 1, 0.25)
    assert night.error_share == pytest.approx(1 / 7)
    assert night.potential == pytest.approx(0.2 * 0.2)
    assert night.action == AUGMENT  # rare (20%) but 4 examples to build on

    short = rows["short"]
    assert (short.n, short.errors, short.error_rate) == (5, 2, 0.4)
    assert short.gap == pytest.approx(0.1)
    assert short.potential == pytest.approx(0.025)
    assert short.action == IMPROVE  # 25% of the data: well represented

    easy = rows["easy"]
    assert (easy.errors, easy.error_rate, easy.gap, easy.potential) == (0, 0.0, 0.0, 0.0)
    assert easy.action == NONE

    d = a.to_dict()
    json.dumps(d)
    assert d["tags"][0]["tag"] == "accent"
    assert list(a.to_frame()["tag"]) == ["accent", "noisy", "night", "short", "easy"]


def test_baseline_from_another_systems_errors() -> None:
    y, p = _data()
    old = y.copy()
    old[[0, 1, 5, 13]] = "z"  # the old version errs on 0 1 (noisy), 5 (accent), 13 (easy)
    a = analyse_errors(errors_of(y, p), TAGS, baseline_errors=errors_of(y, old))
    rows = {r.tag: r for r in a.rows}
    assert a.baseline_error_rate == pytest.approx(4 / 20)
    assert rows["noisy"].baseline_error_rate == pytest.approx(2 / 5)
    assert rows["accent"].baseline_error_rate == pytest.approx(1 / 3)
    assert rows["easy"].baseline_error_rate == pytest.approx(1 / 7)
    assert rows["easy"].gap == pytest.approx(-1 / 7)  # the new model is better here
    assert rows["easy"].potential == 0.0


def test_without_a_baseline_potential_is_error_rate_times_share() -> None:
    y, p = _data()
    a = analyse_errors(errors_of(y, p), TAGS)
    rows = {r.tag: r for r in a.rows}
    assert rows["noisy"].gap is None
    assert rows["noisy"].baseline_error_rate is None
    assert rows["noisy"].potential == pytest.approx(0.6 * 0.25)
    assert a.rows[0].tag == "noisy"  # 3 errors of 20: the largest share of errors


def test_a_tag_without_examples_and_partial_baselines() -> None:
    errors = np.array([True, False, False, False])
    a = analyse_errors(errors, {"none": np.zeros(4, bool), "all": np.ones(4, bool)},
                       baseline_rates={"all": 0.5})
    rows = {r.tag: r for r in a.rows}
    assert rows["none"].n == 0
    assert np.isnan(rows["none"].error_rate)
    assert rows["none"].potential == 0.0
    assert rows["all"].gap == pytest.approx(-0.25)
    assert a.to_dict()["tags"][1]["error_rate"] is None  # NaN is not JSON


def test_regression_errors_by_tolerance() -> None:
    assert errors_of([1.0, 2.0, 3.0], [1.1, 2.6, 3.0], tolerance=0.5).tolist() == [
        False, True, False]
    with pytest.raises(ValidationError, match="2 labels but 3 predictions"):
        errors_of([1, 2], [1, 2, 3])


def test_mismatched_tag_length_is_rejected() -> None:
    with pytest.raises(ValidationError, match="tag 'x' has 2 values for 3 examples"):
        analyse_errors(np.zeros(3, bool), {"x": np.zeros(2, bool)})
    with pytest.raises(ValidationError, match="baseline has 2 values"):
        analyse_errors(np.zeros(3, bool), {}, baseline_errors=np.zeros(2, bool))


def test_tags_from_columns_bool_01_and_categorical() -> None:
    df = pd.DataFrame({"noisy": [True, False, True], "flag": [0, 1, 1],
                       "accent": ["uk", "us", None], "x": [1.5, 2.5, 1.5]})
    tags = tags_from_columns(df, ["noisy", "flag", "accent", "x"])
    assert {k: v.tolist() for k, v in tags.items()} == {
        "noisy": [True, False, True], "flag": [False, True, True],
        "accent=uk": [True, False, False], "accent=us": [False, True, False],
        "x=1.5": [True, False, True], "x=2.5": [False, True, False]}
    with pytest.raises(ValidationError, match="tag column 'nope' is not in the data"):
        tags_from_columns(df, ["nope"])


@pytest.mark.parametrize("kind", ["csv", "json", "yaml"])
def test_tag_files(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"tags.{kind}"
    if kind == "csv":
        path.write_text("id,tag\n1,noisy\n3,noisy;accent\n3,short\n")
    elif kind == "json":
        path.write_text(json.dumps({"1": ["noisy"], "3": ["noisy", "accent", "short"]}))
    else:
        path.write_text("1: noisy\n3: [noisy, accent, short]\n")
    mapping = read_tag_file(path)
    tags = tags_from_mapping([1, 2, 3], mapping)
    assert {k: v.tolist() for k, v in tags.items()} == {
        "noisy": [True, False, True], "accent": [False, False, True],
        "short": [False, False, True]}


def test_bad_tag_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        read_tag_file(tmp_path / "missing.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValidationError, match="must map example ids"):
        read_tag_file(bad)
    one = tmp_path / "one.csv"
    one.write_text("id\n1\n")
    with pytest.raises(ValidationError, match="needs two columns"):
        read_tag_file(one)
