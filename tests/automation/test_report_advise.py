"""Agreement numbers against hand-computed values; metrics; advice on a seeded stream;
confidence calibration; the project file section."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rampup.automation.advise import advise
from rampup.automation.confidence import Calibrator, fit_calibrator, load_function
from rampup.automation.report import automation_metrics, consistency, per_class_agreement
from rampup.errors import ConfigError, ValidationError
from rampup.project import parse_project


def labels(table: dict[str, list[str]], reviewers: str) -> list[dict[str, Any]]:
    return [{"item_id": item, "reviewer": r, "label": lab}
            for item, labs in table.items() for r, lab in zip(reviewers, labs, strict=True)]


def test_two_reviewers_hand_computed() -> None:
    rows = labels({"i1": ["x", "x"], "i2": ["x", "y"], "i3": ["y", "y"], "i4": ["y", "y"]},
                  "ab")
    rep = consistency(rows, [])["labels"]
    assert rep["percent_agreement"] == pytest.approx(0.75)
    # p_o = 3/4; a says x on 2/4, b on 1/4: p_e = .5*.25 + .5*.75 = .5 -> (0.75-0.5)/0.5
    assert rep["cohen_kappa"] == pytest.approx(0.5)
    # Fleiss: P = .75, p_x = 3/8, p_y = 5/8, P_e = 17/32 -> (.75 - 17/32) / (15/32) = 7/15
    assert rep["fleiss_kappa"] == pytest.approx(7 / 15)
    assert rep["disputed"][0]["item"] == "i2"


def test_three_reviewers_fleiss_and_human_level() -> None:
    rows = labels({"i1": ["x", "x", "x"], "i2": ["x", "x", "y"], "i3": ["y", "y", "y"]}, "abc")
    items = [{"id": "i1", "status": "decided", "final_label": "x", "suggestion":
              {"prediction": "x"}},
             {"id": "i2", "status": "decided", "final_label": "x", "suggestion":
              {"prediction": "y"}},
             {"id": "i3", "status": "decided", "final_label": "y", "suggestion":
              {"prediction": "y"}}]
    out = consistency(rows, items)
    rep = out["labels"]
    # P_i = 1, 1/3, 1 -> P = 7/9; p_x = 5/9, p_y = 4/9 -> P_e = 41/81; kappa = 22/40
    assert rep["fleiss_kappa"] == pytest.approx(0.55)
    assert rep["cohen_kappa"] is None  # more than two reviewers
    per = rep["human_level"]["per_annotator"]
    assert per["c"] == {"accuracy": pytest.approx(2 / 3), "n": 3}  # wrong on i2
    assert per["a"] == {"accuracy": 1.0, "n": 2}  # on i2 b and c tie: no reference
    assert set(rep["human_level"]["per_tag"]) == {"class=x", "class=y"}
    assert out["model_vs_human"]["x"]["value"] == pytest.approx(0.5)
    assert out["model_vs_human"]["y"]["value"] == 1.0


def test_adjudicated_labels_are_the_reference() -> None:
    rows = labels({"i1": ["x", "y"]}, "ab")
    rep = consistency(rows, [], [{"item_id": "i1", "label": "y"}])["labels"]
    assert rep["human_level"]["per_annotator"]["a"]["accuracy"] == 0.0
    assert rep["human_level"]["per_annotator"]["b"]["accuracy"] == 1.0
    assert consistency([], [])["labels"] is None
    assert per_class_agreement([{"status": "open", "suggestion": None}]) == {}


def stream(n: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Confidence in [0.5, 1); right with probability = confidence (calibrated)."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.5, 1.0, n)
    return conf, rng.random(n) < conf


def test_advise_on_a_seeded_stream() -> None:
    conf, ok = stream(5000, seed=3)
    a = advise(conf, ok, target=0.05)
    assert a.threshold is not None
    assert a.error_upper is not None
    assert a.share is not None
    # truth: error among conf >= t is (1 - t) / 2 -> 0.05 at t = 0.9; the upper bound
    # keeps the advice a little above that; share of uniform(0.5, 1) above t = 2 (1 - t)
    assert 0.9 <= a.threshold < 0.95
    assert a.error_upper <= 0.05
    assert a.share == pytest.approx(2 * (1 - a.threshold), abs=0.03)
    assert a.share_ci is not None
    assert a.share_ci[0] < a.share < a.share_ci[1]
    assert "would automate" in a.message
    assert a.to_dict()["curve"]


def test_advise_is_honest_about_small_samples() -> None:
    conf, ok = stream(20, seed=1)
    assert advise(conf, ok, target=0.05).threshold is None
    conf, ok = stream(200, seed=1)
    a = advise(conf, ok, target=0.01)  # too strict for 200 items
    assert a.threshold is None
    assert "no threshold" in a.message


def test_advise_weights_audit_samples() -> None:
    rng = np.random.default_rng(5)
    # 300 reviewed low-confidence items (weight 1) and 100 audits of confident ones
    # standing for 10 each: the confident region is ~77% of all predictions
    conf = np.r_[rng.uniform(0.5, 0.8, 300), rng.uniform(0.8, 1.0, 100)]
    ok = np.r_[rng.random(300) < 0.7, rng.random(100) < 0.995]
    w = np.r_[np.ones(300), np.full(100, 10.0)]
    a = advise(conf, ok, w, target=0.05)
    assert a.threshold is not None
    assert a.share is not None
    assert a.share > 0.7


def test_calibration_fits_and_applies() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 20_000)
    ok = rng.random(20_000) < (conf - 0.3)  # over-confident by 0.3
    iso = fit_calibrator(conf, ok, "isotonic")
    platt = fit_calibrator(conf, ok, "platt")
    grid = [0.6, 0.7, 0.8, 0.9]
    for cal in (iso, platt):
        got = np.array(cal.apply(grid), dtype=float)
        assert np.abs(got - (np.array(grid) - 0.3)).mean() < 0.04
        assert Calibrator.from_dict(cal.to_dict()) == cal
    with pytest.raises(ValidationError, match="at least"):
        fit_calibrator([0.9] * 5, [True] * 5)
    with pytest.raises(ValidationError, match="both right and wrong"):
        fit_calibrator([0.9] * 40, [True] * 40, "platt")
    with pytest.raises(ValidationError, match="method"):
        fit_calibrator(conf, ok, "magic")
    with pytest.raises(ValidationError, match="length"):
        fit_calibrator([0.5], [True, False])


def test_user_confidence_function_import() -> None:
    assert load_function("math:fabs")(-1) == 1  # type: ignore[call-arg, arg-type]
    with pytest.raises(ConfigError, match="cannot import"):
        load_function("nope.nothing:f")
    with pytest.raises(ConfigError, match="not callable"):
        load_function("math:pi")


def test_project_file_section_is_validated() -> None:
    p = parse_project({"models": {"m": {"automation": {
        "level": "partial", "threshold": 0.9, "class_thresholds": {"fraud": 0.97},
        "audit_rate": 0.02, "reviewers_per_item": 2, "claim_ttl": 120,
        "labels": ["fraud", "ok"], "uncertain_label": "unreadable", "seed": 3}}}})
    a = p.models["m"].automation
    assert a.threshold_for("fraud") == 0.97
    assert a.allowed_labels() == ["fraud", "ok",
                                                                         "unreadable"]
    for bad, word in [({"level": "mostly"}, "level"), ({"threshold": 2}, "threshold"),
                      ({"class_thresholds": {"a": 1.5}}, "class_thresholds"),
                      ({"confidence": "function"}, "confidence_function"),
                      ({"confidence_function": "not a path"}, "module:function"),
                      ({"colour": 1}, "allowed keys")]:
        with pytest.raises(ConfigError, match=word):
            parse_project({"models": {"m": {"automation": bad}}})


def test_the_automation_rate_never_goes_below_zero_while_the_log_lags() -> None:
    """Review items and the log have their own writers: with the human version serving
    everything, 59 items may be written before the log holds 58 answers."""
    items = [{"reason": "human_only", "status": "open", "decided_at": None, "created_at": 1.0,
              "final_label": None, "suggestion": None} for _ in range(59)]
    m = automation_metrics(items, n_answered=58, now=2.0)
    assert m["answered"] == 59
    assert m["automation_rate"] == 0.0
