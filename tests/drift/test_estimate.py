"""The label-free estimate (issue 17): calibrated on the reference, the model's own
decision threshold, accuracy/F1/ROC AUC with intervals that include the calibration's
uncertainty; ``rampup drift --probability-column`` without current labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from rampup.cli import app
from rampup.drift.check import check_frames
from rampup.drift.estimate import Estimator, expected_metrics, realised_metrics, weighted_auc


def rows(n: int, shift: float, rng: np.random.Generator) -> pd.DataFrame:
    x0, x1 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * x0 - 0.8 * x1 + 0.3)))).astype(int)
    proba = 1 / (1 + np.exp(-2.0 * (1.2 * x0 - 0.8 * x1 + 0.3)))  # over-confident model
    return pd.DataFrame({"x0": x0, "x1": x1, "y": y, "proba": proba})


def test_weighted_auc_with_certain_labels_is_roc_auc() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(300).round(2)  # ties too
    y = (rng.random(300) < score).astype(float)
    assert weighted_auc(score, y) == pytest.approx(roc_auc_score(y, score), rel=1e-12)


def test_realised_metrics_against_sklearn() -> None:
    from sklearn.metrics import accuracy_score, f1_score
    rng = np.random.default_rng(1)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    got = realised_metrics(y, p, threshold=0.645)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.645))
    assert got["f1"] == pytest.approx(f1_score(y, p >= 0.645))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p))


def test_expected_metrics_are_the_mean_over_label_draws() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(200)
    d = p >= 0.6
    want = expected_metrics(p, d, p)
    draws = [realised_metrics((rng.random(200) < p).astype(int), p, 0.6)
             for _ in range(3000)]
    assert want["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in draws]),
                                             abs=0.002)
    assert want["roc_auc"] == pytest.approx(np.mean([r["roc_auc"] for r in draws]), abs=0.005)


def test_estimate_tracks_realised_accuracy_under_covariate_shift() -> None:
    rng = np.random.default_rng(3)
    ref = rows(10_000, 0.0, rng)
    est = Estimator.fit(ref["proba"], ref["y"], threshold=0.645, seed=0)
    assert Estimator.from_dict(json.loads(json.dumps(est.to_dict()))) == est
    covered, errors = 0, []
    for shift in np.linspace(0.0, 1.5, 10):
        cur = rows(5000, float(shift), rng)
        e = est.estimate(cur["proba"].to_numpy())
        real = realised_metrics(cur["y"], cur["proba"], 0.645)
        for m in ("accuracy", "f1", "roc_auc"):
            errors.append(abs(e[m].value - real[m]))
            covered += e[m].lo <= real[m] <= e[m].hi
            assert e[m].calibration_sd > 0
    assert np.mean(errors) < 0.01
    assert covered >= 27  # of 30
    # the raw probabilities (the old estimate) are far off: the model is over-confident
    raw = float(np.maximum(cur["proba"], 1 - cur["proba"]).mean())
    assert abs(raw - real["accuracy"]) > 0.05


def test_drift_cli_estimates_without_current_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ref, cur = rows(4000, 0.0, rng), rows(2000, 1.0, rng)
    a, b = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    ref.to_parquet(a)
    cur.drop(columns=["y"]).to_csv(b, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["-p", str(tmp_path), "drift", "--reference", str(a),
                                 "--current", str(b), "--probability-column", "proba",
                                 "-l", "y", "--threshold", "0.645", "--no-multivariate",
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    acc = out["label_free"]["accuracy"]
    real = realised_metrics(cur["y"], cur["proba"], 0.645)["accuracy"]
    assert acc["lo"] <= real <= acc["hi"]
    assert out["metrics"]["concept.estimated_accuracy"] == acc["value"]
    text = runner.invoke(app, ["-p", str(tmp_path), "drift", "--reference", str(a),
                               "--current", str(b), "--probability-column", "proba",
                               "-l", "y", "--threshold", "0.645", "--no-multivariate"])
    assert "Label-free estimate" in text.output
    assert "y (label)" not in text.output  # no current labels: no label drift test


def test_check_frames_estimates_per_window() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rows(3000, 0.0, rng), rows(3000, 0.5, rng)
    check = check_frames(ref, cur, label_column="y", probability_column="proba",
                         threshold=0.645, windows=3, multivariate=False)
    assert len(check.window_estimates) == 3
    assert all(w["accuracy"].n == 1000 for w in check.window_estimates)
