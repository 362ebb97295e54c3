"""Label consistency against textbook cases (Fleiss 1971, Krippendorff 2011) and sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from rampup.analysis.labels import (
    Ratings,
    annotator_confusion,
    cohen_kappa,
    disputed_items,
    fleiss_category_kappas,
    fleiss_kappa,
    human_level,
    item_agreement,
    krippendorff_alpha,
    label_report,
    pairwise_kappas,
    percent_agreement,
    specific_agreement,
    uncertain_share,
)
from rampup.errors import ValidationError

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses
# (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other).
FLEISS_1971 = [
    "444444", "222555", "233335", "555555", "222444", "113333", "333355", "113334", "114444",
    "555555", "144444", "124444", "222333", "144444", "224445", "333335", "111455", "111112",
    "224444", "133555", "555555", "244444", "224555", "114444", "144445", "222224", "111155",
    "224444", "133333", "555555"]


def _fleiss_long() -> tuple[list[int], list[int], list[int]]:
    items, raters, labels = [], [], []
    for i, row in enumerate(FLEISS_1971):
        for j, ch in enumerate(row):
            items.append(i)
            raters.append(j)
            labels.append(int(ch))
    return items, raters, labels


def test_fleiss_1971_worked_example() -> None:
    r = Ratings.from_long(*_fleiss_long())
    counts = r.counts()
    assert counts.shape == (30, 5)
    assert counts.sum(axis=0).tolist() == [26, 26, 30, 55, 43]  # p_j = .144 .144 .167 .306 .239
    assert round(fleiss_kappa(counts), 3) == 0.430
    assert np.round(fleiss_category_kappas(counts), 3).tolist() == [
        0.245, 0.245, 0.520, 0.471, 0.566]


def test_fleiss_wikipedia_example_step_by_step() -> None:
    counts = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                       [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                       [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert np.round(item_agreement(counts), 3).tolist() == [
        1.000, 0.253, 0.308, 0.440, 0.330, 0.462, 0.242, 0.176, 0.286, 0.286]
    assert round(percent_agreement(counts), 3) == 0.378
    assert fleiss_kappa(counts) == pytest.approx(0.20993070442195522, abs=1e-12)


# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
# 4 observers, 12 units, nominal values with missing data (None).
_ = None
KRIPP = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]


def _long(matrix: list[list[int | None]]) -> tuple[list[int], list[int], list[int | None]]:
    items, obs, labels = [], [], []
    for o, row in enumerate(matrix):
        for u, v in enumerate(row):
            items.append(u)
            obs.append(o)
            labels.append(v)
    return items, obs, labels


def test_krippendorff_reliability_data_with_missing_values() -> None:
    r = Ratings.from_long(*_long(KRIPP))
    assert len(r.label) == 41  # the 7 missing values are dropped
    assert round(krippendorff_alpha(r.counts()), 3) == 0.743


def test_krippendorff_two_observers_binary() -> None:
    # Krippendorff (2011), section A: two observers, binary data, alpha = 0.095
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    r = Ratings.from_long(*_long([a, b]))
    assert round(krippendorff_alpha(r.counts()), 3) == 0.095


def test_perfect_and_single_category_agreement() -> None:
    counts = np.array([[3, 0], [0, 3], [3, 0]])
    assert fleiss_kappa(counts) == pytest.approx(1.0)
    assert krippendorff_alpha(counts) == pytest.approx(1.0)
    assert percent_agreement(counts) == 1.0
    assert krippendorff_alpha(np.array([[2], [3]])) == 1.0  # nothing to disagree about


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.choice(["a", "b", "c"], size=300, p=[0.6, 0.3, 0.1])
    flip = rng.random(300) < 0.3
    other = np.where(flip, rng.choice(["a", "b", "c"], size=300), truth)
    assert cohen_kappa(truth, other) == pytest.approx(cohen_kappa_score(truth, other), abs=1e-12)


def test_pairwise_kappas_on_shared_items_only() -> None:
    rng = np.random.default_rng(3)
    n = 200
    truth = rng.integers(0, 3, n)
    a = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), truth)
    b = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), truth)
    b_rated = rng.random(n) < 0.7  # b skipped 30% of the items
    items = np.concatenate([np.arange(n), np.arange(n)[b_rated]])
    anns = np.array(["a"] * n + ["b"] * int(b_rated.sum()))
    labels = np.concatenate([a, b[b_rated]])
    r = Ratings.from_long(items, anns, labels)
    ((pair, (kappa, shared)),) = pairwise_kappas(r).items()
    assert pair == ("a", "b")
    assert shared == b_rated.sum()
    assert kappa == pytest.approx(cohen_kappa_score(a[b_rated], b[b_rated]))
    la, lb = r.pair("a", "b")
    assert la.tolist() == a[b_rated].tolist()
    assert lb.tolist() == b[b_rated].tolist()
    assert label_report(r).cohen_kappa == pytest.approx(kappa)


def test_confusion_between_annotators_and_specific_agreement() -> None:
    # item 1: x x y; item 2: y y; item 3: x x
    r = Ratings.from_long([1, 1, 1, 2, 2, 3, 3], list("abcabab"), list("xxyyyxx"))
    conf = annotator_confusion(r.counts())
    # ordered pairs: item 1 gives x-x 2, x-y 2, y-x 2; item 2 y-y 2; item 3 x-x 2
    assert conf.tolist() == [[4, 2], [2, 2]]
    assert specific_agreement(r.counts()).tolist() == [4 / 6, 2 / 4]


def test_disputed_items_sorted_by_agreement() -> None:
    r = Ratings.from_long([1, 1, 1, 2, 2, 2, 3, 3, 3, 4], list("abcabcabca"),
                          list("xxxxyzxxyx"))
    d = disputed_items(r)
    assert [x.item for x in d] == [2, 3]  # item 2: no pair agrees; item 3: 1 of 3 pairs
    assert d[0].agreement == 0.0
    assert d[0].labels == {"x": 1, "y": 1, "z": 1}
    assert d[1].agreement == pytest.approx(1 / 3)
    assert disputed_items(r, top=1)[0].item == 2


def test_human_level_against_majority_and_reference_per_tag() -> None:
    # 3 annotators, 4 items; c is wrong on items 1 and 3
    items = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    anns = list("abc" * 4)
    labels = list("xxy" "yyy" "xxy" "zzz")
    tag_noisy = np.array([i in (1, 3) for i in items])
    r = Ratings.from_long(items, anns, labels)
    h = human_level(r, tags={"noisy": tag_noisy})
    # leave-one-out: on items 1 and 3, a and b face a tie (x vs y) -> no reference
    assert (h.accuracy, h.n) == (6 / 8, 8)
    assert h.per_annotator["c"] == (0.5, 4)
    assert h.per_tag["noisy"] == (0.0, 2)
    assert h.error_rates()["noisy"] == 1.0
    # with adjudicated labels every rating has a reference
    h2 = human_level(r, reference={1: "x", 2: "y", 3: "y", 4: "w"}, tags={"noisy": tag_noisy})
    assert h2.n == 12
    # item 1: 2 right, item 2: 3, item 3: c right only, item 4: nobody said w
    assert h2.accuracy == pytest.approx(6 / 12)
    assert h2.per_tag["noisy"] == (0.5, 6)


def test_uncertain_label_is_a_category_or_missing() -> None:
    items = [1, 1, 2, 2, 3, 3]
    anns = list("ababab")
    labels = ["x", "uncertain", "y", "y", "unintelligible", "unintelligible"]
    r = Ratings.from_long(items, anns, labels)
    assert uncertain_share(r) == pytest.approx(3 / 6)
    assert percent_agreement(r.counts()) == pytest.approx(2 / 3)
    r2 = Ratings.from_long(items, anns, labels, missing={"uncertain", "unintelligible"})
    assert len(r2.label) == 3
    assert percent_agreement(r2.counts()) == 1.0  # only item 2 has two ratings left


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(ValidationError, match="rated item 1 more than once"):
        Ratings.from_long([1, 1], ["a", "a"], ["x", "y"])
    with pytest.raises(ValidationError, match="differ in length"):
        Ratings.from_long([1, 2], ["a"], ["x", "y"])
    r = Ratings.from_long([1], ["a"], ["x"])
    with pytest.raises(ValidationError, match="no ratings by annotator 'zz'"):
        r.pair("a", "zz")


def test_report_is_json_ready() -> None:
    import json

    r = Ratings.from_long(*_fleiss_long())
    d = label_report(r, top=3).to_dict()
    json.dumps(d)
    assert d["n_items"] == 30
    assert d["n_ratings"] == 180
    assert round(d["fleiss_kappa"], 3) == 0.430
    assert d["cohen_kappa"] is None
    assert len(d["pairwise_kappa"]) == 15
    assert len(d["disputed"]) == 3
