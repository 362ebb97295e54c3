"""Performance windows, label-free estimates, trends, metrics, the domain classifier and
the HTML report."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from rampup.drift.check import DriftCheck, check_frames
from rampup.drift.concept import Reference, accuracy_drop, performance_windows
from rampup.drift.html import render_html
from rampup.drift.metrics import drift_metrics
from rampup.drift.multivariate import domain_classifier
from rampup.drift.report import DriftConfig, Histogram, TestResult, build_report
from rampup.drift.stats import wilson
from rampup.drift.trend import pattern
from rampup.errors import ValidationError


def test_realised_accuracy_with_wilson_intervals_and_a_degraded_window() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    ts = np.arange(n, dtype=float)
    correct = (rng.random(n) < np.where(ts < 2000, 0.9, 0.8)).astype(float)
    windows = performance_windows(ts, correct, np.full(n, np.nan), [0, 1000, 2000, 3000, 4000],
                                  Reference(0.9, 10_000))
    assert [w.verdict for w in windows] == ["ok", "ok", "degraded", "degraded"]
    w = windows[2]
    assert (w.labelled, w.correct) == (1000, int(correct[2000:3000].sum()))
    assert (w.lo, w.hi) == pytest.approx(wilson(w.correct, 1000))
    assert w.source == "labels"
    assert accuracy_drop(windows) == pytest.approx(0.9 - correct[3000:].mean())


def test_a_small_drop_is_not_degraded_and_no_labels_is_no_data() -> None:
    ts = np.arange(200.0)
    correct = np.r_[np.ones(178), np.zeros(22)]  # 0.89 against 0.9
    w = performance_windows(ts, correct, np.full(200, np.nan), [0, 200, 400], Reference(0.9))
    assert [x.verdict for x in w] == ["ok", "no data"]
    assert math.isnan(w[1].accuracy)


def test_label_free_estimate_is_the_mean_confidence_then_the_realised_accuracy() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    conf = rng.uniform(0.6, 1.0, n)
    outcome = (rng.random(n) < conf).astype(float)  # calibrated: P(correct) = confidence
    none = performance_windows(np.zeros(n), np.full(n, np.nan), conf, [0, 1],
                               Reference(0.8))[0]
    assert none.source == "estimate"
    assert none.expected == pytest.approx(conf.mean())
    half = math.sqrt(float((conf * (1 - conf)).sum())) / n * 1.959964
    assert (none.expected_lo, none.expected_hi) == pytest.approx(
        (conf.mean() - half, conf.mean() + half))
    assert none.expected_lo < outcome.mean() < none.expected_hi
    partly = outcome.copy()
    partly[1000:] = np.nan
    mixed = performance_windows(np.zeros(n), partly, conf, [0, 1], Reference(0.8))[0]
    assert mixed.source == "mixed"
    assert mixed.expected == pytest.approx((outcome[:1000].sum() + conf[1000:].sum()) / n)
    full = performance_windows(np.zeros(n), outcome, conf, [0, 1], Reference(0.8))[0]
    assert full.source == "labels"
    assert full.expected == pytest.approx(outcome.mean())


def test_confidence_that_falls_flags_an_estimated_degradation() -> None:
    conf = np.full(500, 0.7)
    w = performance_windows(np.zeros(500), np.full(500, np.nan), conf, [0, 1],
                            Reference(0.9))[0]
    assert (w.source, w.verdict) == ("estimate", "degraded")


@pytest.mark.parametrize(("effects", "drifted", "want"), [
    ([0.01] * 6, [False] * 6, ("stable", None)),
    ([0.3] * 6, [True] * 6, ("persistent", 0)),
    ([0.01, 0.02, 0.01, 0.5, 0.5, 0.52], [False] * 3 + [True] * 3, ("sudden", 3)),
    ([0.0, 0.04, 0.08, 0.12, 0.16, 0.2], [False, False, True, True, True, True],
     ("gradual", 2)),
    ([0.0, 0.5, 0.5, 0.02, 0.01, 0.0], [False, True, True, False, False, False],
     ("transient", 1)),
    ([0.0, 0.5, math.nan], [False, True, False], ("unclear", 1)),
])
def test_patterns(effects: list[float], drifted: list[bool], want: tuple) -> None:
    assert pattern(effects, drifted) == want


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000),
                        "c": rng.choice(["x", "y"], 3000)})
    ref["y"] = (ref["a"] + rng.normal(0, 1, 3000) > 0).astype(int)
    ref["p"] = (ref["a"] > 0).astype(int)
    cur = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000),
                        "c": rng.choice(["x", "y"], 2000),
                        "t": np.arange(2000.0)})
    cur.loc[1000:, "a"] += 0.8  # a sudden shift halfway
    # the same concept in the first half, a new one in the second
    cur["y"] = (cur["a"] + rng.normal(0, 1, 2000) > np.where(cur["t"] < 1000, 0.0, 1.6)
                ).astype(int)
    cur["p"] = (cur["a"] > 0).astype(int)
    return ref, cur


def test_check_frames_end_to_end() -> None:
    ref, cur = _frames()
    check = check_frames(ref, cur, label_column="y", prediction_column="p", time_column="t",
                         windows=4)
    rep = check.report
    assert rep.drifted_features == ["a"]
    assert rep.multivariate is not None
    assert rep.multivariate.drifted
    assert {(r.feature, r.kind) for r in rep.outputs} == {("y", "label"), ("p", "output")}
    assert check.trend is not None
    assert pattern(check.trend.effects("a"), check.trend.drifted("a")) == ("sudden", 2)
    assert [w.verdict for w in check.performance][:2] == ["ok", "ok"]
    assert check.performance[-1].verdict == "degraded"
    assert check.alarms  # the error stream changed
    m = check.metrics()
    assert m["drift.share_drifted"] == pytest.approx(1 / 3)
    assert m["drift.feature[a].effect"] == pytest.approx(0.4, abs=0.08)
    assert m["drift.output"] > 0
    assert m["concept.accuracy_drop"] > 0.05
    assert "drift.multivariate.auc" in m


def test_check_frames_rejects_a_missing_column() -> None:
    ref, cur = _frames()
    with pytest.raises(ValidationError, match="'nope'"):
        check_frames(ref, cur, label_column="nope")


def test_metrics_leave_out_what_was_not_tested() -> None:
    r = TestResult("x", "numeric", "ks", math.nan, math.nan, math.nan, "wasserstein/std",
                   0.1, 5, 5)
    m = drift_metrics(build_report([r], DriftConfig()))
    assert m == {"drift.share_drifted": 0.0, "drift.dataset": 0.0}


def test_domain_classifier_sees_a_correlation_flip_the_marginals_miss() -> None:
    rng = np.random.default_rng(2)
    cov_ref, cov_cur = [[1, 0.8], [0.8, 1]], [[1, -0.8], [-0.8, 1]]
    ref = pd.DataFrame(rng.multivariate_normal([0, 0], cov_ref, 2000), columns=["u", "v"])
    cur = pd.DataFrame(rng.multivariate_normal([0, 0], cov_cur, 2000), columns=["u", "v"])
    check = check_frames(ref, cur)
    assert check.report.drifted_features == []
    mv = check.report.multivariate
    assert mv is not None
    assert mv.drifted
    assert mv.auc > 0.8
    assert check.report.dataset_drift


@pytest.mark.parametrize("model", ["hgb", "logistic"])
def test_domain_classifier_rarely_alarms_without_drift(model: str) -> None:
    rng = np.random.default_rng(3)
    alarms = 0
    for seed in range(20):
        a = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
        b = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
        b["d"] = rng.choice(["x", "y", "z"], 200)
        a["d"] = rng.choice(["x", "y", "z"], 300)
        r = domain_classifier(a, b, model=model, seed=seed)
        alarms += r.p_value <= 0.05
        assert 0.3 < r.auc < 0.7
    assert alarms <= 3  # P(X > 3) < 2 % for Binomial(20, 0.05)


def test_html_report_renders_and_escapes() -> None:
    ref, cur = _frames()
    evil = "<script>alert(1)</script>"
    ref[evil] = ref["b"]
    cur[evil] = cur["b"] + 1
    check = check_frames(ref, cur, label_column="y", prediction_column="p", time_column="t",
                         windows=3, multivariate=False)
    page = render_html(check, title="Drift & <b>co</b>")
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Drift &amp; &lt;b&gt;co&lt;/b&gt;</title>" in page
    assert re.search(r"https?://|<script|<link", page) is None  # offline, no scripts
    assert check.trend is not None
    charts = sum(r.histogram is not None for r in check.report.results)
    assert page.count("<svg") == charts + len(check.trend.features)
    assert "Trend over 3 windows" in page
    assert "Performance over windows" in page


def test_histogram_svg_caps_the_number_of_bars() -> None:
    labels = tuple(f"c{i}" for i in range(100))
    h = Histogram(tuple(range(100)), tuple(range(100)), labels=labels)
    r = TestResult("many", "categorical", "chi2", 1.0, 0.5, 0.0, "js_distance", 0.05, 10, 10,
                   histogram=h)
    page = render_html(DriftCheck(build_report([r], DriftConfig())))
    assert page.count("<rect") == 2 * 40
