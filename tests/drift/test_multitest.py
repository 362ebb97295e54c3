"""Benjamini-Hochberg and Bonferroni against hand-computed cases; verdicts across features."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rampup.drift.multitest import adjust, benjamini_hochberg, bonferroni
from rampup.drift.report import DriftConfig, TestResult, build_report, decide
from rampup.errors import ValidationError


def test_bh_hand_computed() -> None:
    # sorted p: 0.001 0.008 0.039 0.041 0.042 0.06 0.074 0.205 (m = 8)
    # p*m/i:    0.008 0.032 0.104 0.082 0.0672 0.08 0.0846 0.205
    # min to the right: 0.008 0.032 0.0672 0.0672 0.0672 0.08 0.0846 0.205
    p = [0.041, 0.001, 0.205, 0.039, 0.074, 0.008, 0.06, 0.042]
    want = [0.0672, 0.008, 0.205, 0.0672, 0.0846, 0.032, 0.08, 0.0672]
    assert benjamini_hochberg(p) == pytest.approx(want, abs=1e-4)
    flagged = [i for i, q in enumerate(benjamini_hochberg(p)) if q <= 0.05]
    assert flagged == [1, 5]  # step-up: 0.001 <= 0.05/8, 0.008 <= 0.1/8; 0.039 > 0.15/8


def test_bonferroni_hand_computed() -> None:
    assert bonferroni([0.01, 0.02, 0.5]) == pytest.approx([0.03, 0.06, 1.0])


def test_nans_are_not_counted() -> None:
    q = adjust([0.01, math.nan, 0.04], "bh")
    assert q[0] == pytest.approx(0.02)
    assert math.isnan(q[1])
    assert q[2] == pytest.approx(0.04)
    assert adjust([0.01, math.nan], "bonferroni")[0] == pytest.approx(0.01)
    assert adjust([0.3], "none") == [0.3]
    with pytest.raises(ValidationError, match="correction"):
        adjust([0.1], "holm")


def _r(name: str, p: float, effect: float = 0.5, kind: str = "numeric") -> TestResult:
    return TestResult(name, kind, "ks", 0.1, p, effect, "wasserstein/std", 0.1, 1000, 1000)


def test_feature_verdicts_after_correction() -> None:
    results = [_r("a", 0.001), _r("b", 0.02), _r("c", 0.03), _r("d", 0.8),
               _r("e", 0.0001, effect=0.05)]
    bh = build_report(results, DriftConfig())
    # q: a 0.0025, b 0.0333, c 0.0375, d 0.8, e 0.0005 (effect below the minimum)
    assert [r.verdict for r in bh.results] == ["drift", "drift", "drift", "no drift",
                                               "significant, small"]
    bonf = build_report(results, DriftConfig(correction="bonferroni"))
    assert bonf.drifted_features == ["a"]
    assert bonf.share_drifted == pytest.approx(0.2)
    assert bonf.dataset_drift


def test_outputs_are_their_own_family() -> None:
    results = [_r("a", 0.04), _r("pred", 0.04, kind="output")]
    out = decide([*results, *(replace(results[0], feature=f"x{i}", p_value=0.9)
                              for i in range(5))], 0.05, "bonferroni")
    assert out[1].q_value == pytest.approx(0.04)  # not multiplied by the input features
    assert out[0].q_value == pytest.approx(0.24)


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown test kind"):
        decide([_r("a", 0.1, kind="weird")], 0.05, "bh")


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="alpha"):
        DriftConfig(alpha=1.5)
    with pytest.raises(ValidationError, match="min_effect"):
        DriftConfig(min_effect={"weird": 1.0})
    assert DriftConfig(feature_min_effect={"age": 0.3}).minimum("age", "numeric") == 0.3
    assert DriftConfig().minimum("x", "missing") == 0.02
