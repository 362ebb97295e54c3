from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from rampup.rollout.agreement import (
    BINS,
    Agreement,
    as_number,
    canonical,
    js_distance,
    score_histogram,
)

CLASSES = np.array(["approve", "reject", "review"])


def synthetic(seed: int, n: int) -> dict[str, Any]:
    """A primary, a candidate that agrees ~85% of the time, scores and sparse labels."""
    rng = np.random.default_rng(seed)
    primary = rng.choice(CLASSES, n, p=[0.6, 0.3, 0.1])
    flip = rng.random(n) < 0.15
    candidate = np.where(flip, rng.choice(CLASSES, n), primary)
    truth = np.where(rng.random(n) < 0.9, primary, rng.choice(CLASSES, n))
    labels = [str(t) if rng.random() < 0.4 else None for t in truth]
    return {"primary": [str(x) for x in primary], "candidate": [str(x) for x in candidate],
            "p_scores": rng.beta(5, 2, n).tolist(), "c_scores": rng.beta(4, 2, n).tolist(),
            "labels": labels}


def feed(acc: Agreement, d: dict[str, Any], lo: int, hi: int) -> None:
    acc.update(d["primary"][lo:hi], d["candidate"][lo:hi], d["p_scores"][lo:hi],
               d["c_scores"][lo:hi], d["labels"][lo:hi])


def test_result_matches_numpy_by_hand() -> None:
    d = synthetic(1, 3000)
    acc = Agreement()
    feed(acc, d, 0, 3000)
    r = acc.result()
    p, c = np.array(d["primary"]), np.array(d["candidate"])
    assert r.n == 3000
    assert r.agreement == pytest.approx(float(np.mean(p == c)))
    for pc in CLASSES:
        for cc in CLASSES:
            assert r.matrix[pc].get(cc, 0) == int(np.sum((p == pc) & (c == cc)))
        assert r.per_class[pc] == pytest.approx(float(np.mean(c[p == pc] == pc)))
    lab = np.array([x if x is not None else "" for x in d["labels"]])
    has = lab != ""
    assert r.labelled == int(has.sum())
    assert r.primary_accuracy == pytest.approx(float(np.mean(p[has] == lab[has])))
    assert r.candidate_accuracy == pytest.approx(float(np.mean(c[has] == lab[has])))
    for cls in CLASSES:
        sel = has & (lab == cls)
        assert r.per_class_accuracy[cls] == pytest.approx(
            (float(np.mean(p[sel] == cls)), float(np.mean(c[sel] == cls))))
    hp, _ = np.histogram(d["p_scores"], bins=BINS, range=(0, 1))
    hc, _ = np.histogram(d["c_scores"], bins=BINS, range=(0, 1))
    assert r.n_scores == (3000, 3000)
    assert r.score_divergence == pytest.approx(float(jensenshannon(hp, hc, base=2)))
    assert r.mean_abs_diff is None
    assert r.n_numeric == 0
    assert r.to_dict()["matrix"] == r.matrix


@pytest.mark.parametrize("seed", range(5))
def test_merge_equals_sequential(seed: int) -> None:
    d = synthetic(seed, 2000)
    whole = Agreement()
    feed(whole, d, 0, 2000)
    rng = np.random.default_rng(seed)
    cuts = sorted(rng.choice(np.arange(1, 2000), 4, replace=False).tolist())
    parts = []
    for lo, hi in zip([0, *cuts], [*cuts, 2000], strict=True):
        part = Agreement()
        feed(part, d, lo, hi)
        parts.append(part)
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    assert merged.result() == whole.result()
    # merging never mutates its operands
    assert parts[0].n == cuts[0]


@pytest.mark.parametrize("seed", range(5))
def test_js_distance_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 50, BINS)
    q = rng.integers(0, 50, BINS)
    p[rng.integers(0, BINS)] = 0  # empty bins on one side only
    assert js_distance(p, q) == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-12)
    assert js_distance(p, p * 3) == pytest.approx(0.0, abs=1e-12)
    assert js_distance(np.zeros(BINS), q) is None


def test_score_histogram_matches_numpy_and_clips() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(1000)
    expected, _ = np.histogram(scores, bins=BINS, range=(0, 1))
    assert score_histogram(scores.tolist()).tolist() == expected.tolist()
    h = score_histogram([-0.5, 0.0, 1.0, 1.5, float("nan"), None])
    assert (int(h[0]), int(h[-1]), int(h.sum())) == (2, 2, 4)


def test_numeric_outputs_give_mean_absolute_difference() -> None:
    rng = np.random.default_rng(4)
    p = rng.normal(100, 10, 500)
    c = p + rng.normal(0, 2, 500)
    acc = Agreement()
    acc.update(p.tolist(), c.tolist())
    r = acc.result()
    assert r.n_numeric == 500
    assert r.mean_abs_diff == pytest.approx(float(np.mean(np.abs(p - c))))
    assert r.agreement == 0.0  # no two floats are equal
    assert r.score_divergence is None
    assert r.labelled == 0


def test_human_primary_gives_per_class_human_vs_model_agreement() -> None:
    human = ["fraud", "fraud", "ok", "ok", "ok", "ok"]
    model = ["fraud", "ok", "ok", "ok", "ok", "fraud"]
    acc = Agreement()
    # the human's decision is the label, so it is both the primary and the truth
    acc.update(human, model, None, [0.9, 0.6, 0.8, 0.7, 0.9, 0.55], labels=human)
    r = acc.result()
    assert r.per_class == {"fraud": 0.5, "ok": 0.75}
    assert r.primary_accuracy == 1.0
    assert r.candidate_accuracy == pytest.approx(4 / 6)
    assert r.n_scores == (0, 6)
    assert r.score_divergence is None


def test_labels_compare_across_json_types() -> None:
    acc = Agreement()
    acc.update([1, 0, True], [1.0, "0", "true"], labels=[1, None, "false"])
    r = acc.result()
    assert r.agreement == 1.0
    assert (r.labelled, r.primary_accuracy) == (2, 0.5)
    assert canonical(2.5) == "2.5"
    assert canonical([1, "a"]) == '[1,"a"]'
    assert as_number(float("inf")) is None
    assert as_number([1]) is None
    assert as_number(np.float32(1.5)) == 1.5


def test_update_rejects_misaligned_inputs() -> None:
    with pytest.raises(ValueError, match="equal length"):
        Agreement().update(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="equal length"):
        Agreement().update(["a"], ["a"], labels=[])
