"""Every metric against scikit-learn on seeded data; merge of confusion counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.preprocessing import label_binarize

from rampup.analysis.metrics import (
    ConfusionCounts,
    RegressionStats,
    classification_report,
    higher_is_better,
    metric_values,
    regression_report,
)
from rampup.analysis.report import jsonable
from rampup.analysis.scores import average_precision_weighted, roc_auc_weighted
from rampup.errors import ValidationError


def noisy_labels(n: int, k: int, seed: int, accuracy: float = 0.7,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True classes, predictions right with probability ``accuracy``, and probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    p = np.where(rng.random(n) < accuracy, y, rng.integers(0, k, n))
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p, proba


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (3, 1), (5, 2)])
def test_count_metrics_match_sklearn(k: int, seed: int) -> None:
    y, p, _ = noisy_labels(700, k, seed)
    cc = ConfusionCounts.from_labels(y, p)
    assert np.array_equal(cc.matrix, skm.confusion_matrix(y, p))
    assert cc.accuracy == pytest.approx(skm.accuracy_score(y, p))
    assert cc.metric("balanced_accuracy") == pytest.approx(skm.balanced_accuracy_score(y, p))
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        per = fn(y, p, average=None, zero_division=0)
        assert list(cc.per_class(name).values()) == pytest.approx(per)
        for avg in ("macro", "micro", "weighted"):
            assert cc.metric(f"{name}_{avg}") == pytest.approx(
                fn(y, p, average=avg, zero_division=0)), (name, avg)
        expected = fn(y, p, zero_division=0) if k == 2 else fn(y, p, average="macro",
                                                               zero_division=0)
        assert cc.metric(name) == pytest.approx(expected)
        assert cc.metric(f"{name}[{k - 1}]") == pytest.approx(per[k - 1])


def test_rates_of_the_positive_class_match_the_confusion_matrix() -> None:
    y, p, _ = noisy_labels(500, 2, 3)
    tn, fp, fn, tp = skm.confusion_matrix(y, p).ravel()
    cc = ConfusionCounts.from_labels(y, p)
    assert cc.metric("false_positive_rate") == pytest.approx(fp / (fp + tn))
    assert cc.metric("false_negative_rate") == pytest.approx(fn / (fn + tp))
    assert cc.metric("true_negative_rate") == pytest.approx(tn / (tn + fp))
    assert cc.metric("selection_rate") == pytest.approx((tp + fp) / len(y))
    assert cc.metric("error_rate") == pytest.approx(1 - skm.accuracy_score(y, p))
    # the other class as positive: its recall is the first class's true negative rate
    assert cc.metric("recall", pos_label=0) == pytest.approx(tn / (tn + fp))


def test_nan_zero_division_leaves_undefined_classes_out_like_sklearn() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 0, 1])  # class 2 never predicted: its precision is 0/0
    cc = ConfusionCounts.from_labels(y, p)
    assert np.isnan(cc.per_class("precision", zero_division=np.nan)[2])
    for avg in ("macro", "weighted"):
        assert cc.metric(f"precision_{avg}", zero_division=np.nan) == pytest.approx(
            skm.precision_score(y, p, average=avg, zero_division=np.nan))


def test_string_labels_and_a_stack_of_matrices() -> None:
    y = ["yes", "no", "yes", "yes", "no", "no"]
    p = ["yes", "yes", "no", "yes", "no", "no"]
    cc = ConfusionCounts.from_labels(y, p)
    assert cc.classes == ("no", "yes")
    assert cc.metric("precision") == pytest.approx(skm.precision_score(y, p, pos_label="yes"))
    stack = np.stack([cc.matrix, 2 * cc.matrix, np.eye(2, dtype=np.int64)])
    values = metric_values(stack, "f1", cc.classes)
    assert values.tolist() == pytest.approx([cc.metric("f1"), cc.metric("f1"), 1.0])


def test_merge_equals_counts_on_the_union() -> None:
    y, p, _ = noisy_labels(900, 4, 5)
    whole = ConfusionCounts.from_labels(y, p, classes=range(4))
    parts = [ConfusionCounts.from_labels(y[i:i + 300], p[i:i + 300], classes=range(4))
             for i in range(0, 900, 300)]
    assert parts[0] + parts[1] + parts[2] == whole
    assert parts[0].merge(parts[1]).merge(parts[2]).metric("f1_macro") == pytest.approx(
        whole.metric("f1_macro"))
    # windows that saw different classes align by label
    a = ConfusionCounts.from_labels(["x", "y"], ["x", "x"])
    b = ConfusionCounts.from_labels(["z", "y"], ["z", "y"])
    merged = a + b
    assert merged == ConfusionCounts.from_labels(["x", "y", "z", "y"], ["x", "x", "z", "y"])
    assert ConfusionCounts.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValidationError, match="not among the classes"):
        ConfusionCounts.from_labels([0, 1, 2], [0, 1, 1], classes=[0, 1])
    with pytest.raises(ValidationError, match="missing value"):
        ConfusionCounts.from_labels([0, None, 1], [0, 1, 1])
    with pytest.raises(ValidationError, match="3 labels but 2 predictions"):
        ConfusionCounts.from_labels([0, 1, 1], [0, 1])
    with pytest.raises(ValidationError, match="unknown metric"):
        ConfusionCounts.from_labels([0, 1], [0, 1]).metric("auc")


def test_binary_report_matches_sklearn() -> None:
    y, p, proba = noisy_labels(800, 2, 7)
    score = np.round(proba[:, 1], 2)  # rounding makes ties, which AUC must handle
    r = classification_report(y, p, score)
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert r["pr_auc"] == pytest.approx(skm.average_precision_score(y, score))
    assert r["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()
    assert r["positive"]["f1"] == pytest.approx(skm.f1_score(y, p))
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10)
    bins = [b for b in r["calibration"]["bins"] if b["count"]]
    assert [b["observed"] for b in bins] == pytest.approx(prob_true)
    assert [b["mean_score"] for b in bins] == pytest.approx(prob_pred)
    counts = np.array([b["count"] for b in bins])
    ece = np.sum(counts * np.abs(prob_true - prob_pred)) / len(y)
    assert r["calibration"]["ece"] == pytest.approx(ece)
    # both columns give the same as the positive-class score
    both = classification_report(y, p, np.c_[1 - score, score])
    assert both["roc_auc"] == r["roc_auc"]
    json.dumps(jsonable(r), allow_nan=False)


def test_multiclass_report_matches_sklearn() -> None:
    y, p, proba = noisy_labels(900, 4, 11)
    r = classification_report(y, p, proba)
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert r["pr_auc"] == pytest.approx(
        skm.average_precision_score(label_binarize(y, classes=range(4)), proba))
    assert r["averages"]["weighted"]["recall"] == pytest.approx(
        skm.recall_score(y, p, average="weighted"))
    assert r["positive_class"] is None
    assert "positive" not in r
    # calibration of the predicted class's score against correctness
    conf = proba[np.arange(len(p)), p]
    prob_true, _ = calibration_curve(y == p, conf, n_bins=10)
    assert [b["observed"] for b in r["calibration"]["bins"] if b["count"]] == pytest.approx(
        prob_true)


def test_report_warns_when_accuracy_is_misleading() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(1000) < 0.05).astype(int)
    always_no = classification_report(y, np.zeros(1000, int))
    text = " ".join(always_no["warnings"])
    assert "no better than always predicting the majority class 0" in text
    assert "class 1 is never predicted correctly" in text
    assert always_no["majority_baseline"] == {"class": 0, "accuracy": pytest.approx(0.95, 0.05)}
    close = y.copy()
    close[np.flatnonzero(y == 1)[:20]] = 0  # catches some positives, misses most
    assert "within 3 points" in " ".join(classification_report(y, close)["warnings"])
    y2, p2, _ = noisy_labels(1000, 3, 4, accuracy=0.9)
    assert classification_report(y2, p2)["warnings"] == []


def test_weighted_auc_equals_repeating_rows() -> None:
    rng = np.random.default_rng(8)
    y = rng.random(200) < 0.4
    s = np.round(rng.random(200), 1)
    w = rng.integers(0, 4, size=(3, 200))
    for b in range(3):
        rep = np.repeat(np.arange(200), w[b])
        assert roc_auc_weighted(y, s, w)[b] == pytest.approx(skm.roc_auc_score(y[rep], s[rep]))
        assert average_precision_weighted(y, s, w)[b] == pytest.approx(
            skm.average_precision_score(y[rep], s[rep]))


def test_regression_report_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = 1000 + rng.normal(0, 3, 500)  # a large offset: R² must stay accurate
    p = y + rng.normal(0.2, 1, 500)
    r = regression_report(y, p)
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert r["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert r["r2"] == pytest.approx(skm.r2_score(y, p))
    assert r["bias"] == pytest.approx(np.mean(p - y))
    buckets = r["residuals_by_bucket"]
    assert len(buckets) == 5
    assert sum(b["count"] for b in buckets) == 500
    low = y <= np.quantile(y, 0.2)
    assert buckets[0]["mae"] == pytest.approx(skm.mean_absolute_error(y[low], p[low]))
    assert r["mean_baseline"]["rmse"] == pytest.approx(np.std(y))
    assert regression_report(y, np.full(500, 900.0))["warnings"][0].startswith("R² is")


def test_regression_stats_merge_and_constant_truth() -> None:
    rng = np.random.default_rng(6)
    y, p = rng.normal(size=300), rng.normal(size=300)
    parts = [RegressionStats.from_arrays(y[i:i + 100], p[i:i + 100]) for i in (0, 100, 200)]
    merged = parts[0] + parts[1] + parts[2]
    assert merged.r2 == pytest.approx(skm.r2_score(y, p))
    assert merged.rmse == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert RegressionStats.from_arrays([2.0, 2.0], [2.0, 2.0]).r2 == 1.0
    assert RegressionStats.from_arrays([2.0, 2.0], [1.0, 2.0]).r2 == 0.0


def test_metric_direction() -> None:
    assert higher_is_better("f1_macro") is True
    assert higher_is_better("false_positive_rate") is False
    assert higher_is_better("selection_rate") is None
