"""Outputs and performance against NumPy and scikit-learn; the small statistics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.compute import metric_value
from rampup.monitor.features import VersionInfo
from rampup.monitor.labels import apply_label, prediction_of
from rampup.monitor.outputs import OutputAgg, PerformanceAgg
from rampup.monitor.stats import Histogram, Moments, TopCounts


def test_numeric_and_text_outputs() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(100, 15, 2000)
    o = OutputAgg()
    o.update([{"prediction": float(v)} for v in values] + [{"prediction": None}],
             [None] * 2001, "number")
    assert (o.n, o.null) == (2001, 1)
    assert o.values.mean == pytest.approx(values.mean())
    assert o.values.quantile(0.9) == pytest.approx(
        np.quantile(values, 0.9, method="lower"), rel=0.01)
    assert o.classes.total == 0  # numbers are not classes

    t = OutputAgg()
    texts = ["hello world", "", "hi", "hello world", [1, 2, 3]]
    t.update([{"prediction": x} for x in texts] + [{"status": "pending_human"}, "raw"],
             [0.5, None, 0.7, None, None, None, None], "free")
    assert (t.n, t.null, t.pending) == (6, 1, 1)  # "" is empty; pending is not an output
    assert t.length.mean == pytest.approx((11 + 2 + 11 + 3 + 3) / 5)
    assert t.classes.counts == {"hello world": 2, "hi": 1, "raw": 1}
    assert t.confidence.count == 2


def test_classification_performance_matches_sklearn() -> None:
    rng = np.random.default_rng(9)
    y = rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1])
    pred = np.where(rng.random(3000) < 0.7, y, rng.choice(["a", "b", "c"], 3000))
    p = PerformanceAgg()
    for t, q in zip(y, pred, strict=True):
        p.add(str(t), str(q), regression=False)
    assert p.accuracy() == pytest.approx(accuracy_score(y, pred))
    prec, rec, f1 = p.macro()
    kw = {"average": "macro", "zero_division": 0}
    assert prec == pytest.approx(precision_score(y, pred, **kw))
    assert rec == pytest.approx(recall_score(y, pred, **kw))
    assert f1 == pytest.approx(f1_score(y, pred, **kw))
    never = PerformanceAgg()
    never.add("x", "y", regression=False)
    assert never.per_class("x") == (None, 0.0, None)  # never predicted: precision undefined
    assert never.per_class("y") == (0.0, None, None)
    back = PerformanceAgg.from_dict(p.to_dict())
    assert back.macro() == p.macro()


def test_regression_labels_and_odd_outputs() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(0, 1, 500)
    yhat = y + rng.normal(0, 0.3, 500)
    agg = WindowAggregate()
    number = VersionInfo.from_parts({}, {"kind": "number"}, None)
    for t, q in zip(y, yhat, strict=True):
        apply_label(agg, {"outputs": f'{{"prediction": {float(q)!r}}}'}, number,
                    label=float(t))
    assert metric_value(agg, "mae", 60) == pytest.approx(np.abs(yhat - y).mean())
    assert metric_value(agg, "rmse", 60) == pytest.approx(np.sqrt(((yhat - y) ** 2).mean()))
    assert metric_value(agg, "accuracy", 60) is None
    free = VersionInfo.free()
    apply_label(agg, {"outputs": '{"prediction": 2.0}'}, free, label=2.5)  # numbers: regression
    apply_label(agg, {"outputs": '{"prediction": 1.0}'}, number, label="n/a")  # unscorable
    apply_label(agg, {"outputs": "not json"}, number, label=1.0)  # no prediction
    apply_label(agg, {"outputs": None}, number, label=1.0)  # the prediction failed
    assert agg.performance.labelled == 504
    assert agg.performance.reg_n == 501
    assert prediction_of([1, 2]) == [1, 2]
    assert prediction_of('{"status": "pending_human", "prediction": null}') is None


def test_small_statistics() -> None:
    m = Moments()
    for v in [1.0, 2.0, float("nan"), 4.0]:
        m.update(v)
    assert (m.count, m.mean, m.min, m.max) == (3, pytest.approx(7 / 3), 1.0, 4.0)
    assert Moments().summary() == {"mean": None, "std": None, "min": None, "max": None}
    t = TopCounts(capacity=3)
    t.update_many(["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"])
    assert (t.counts, t.other) == ({"a": 5, "b": 4, "c": 3}, 3)
    assert t.frequencies()["__other__"] == pytest.approx(3 / 15)
    other = TopCounts(capacity=3)
    other.add_counts({"__other__": 2, "z": 9})
    t.merge(other)
    assert (t.counts, t.other) == ({"z": 9, "a": 5, "b": 4}, 8)
    h = Histogram([float("-inf"), 0.0, float("inf")])
    with pytest.raises(ValueError, match="different bin edges"):
        h.merge(Histogram([float("-inf"), 1.0, float("inf")]))


def test_unhashable_class_outputs_are_counted_as_text() -> None:
    o = OutputAgg()
    o.update([{"prediction": [1, 2]}, {"prediction": [1, 2]}, {"prediction": "a"}],
             [None] * 3, "class")
    assert o.classes.counts == {"[1,2]": 2, "a": 1}
