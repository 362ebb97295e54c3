"""Stored mode end to end: a registered version, traffic in the prediction log and in the
real monitor's windows, delayed labels; the monitor path and the log fallback agree."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import load_settings
from rampup.drift.check import check_model, latest_metrics
from rampup.drift.frames import compare_frames
from rampup.drift.source import reference_performance, resolve_version
from rampup.errors import NotFoundError, ValidationError
from rampup.monitor.recorder import Monitor
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import compute_profile, infer_schema
from rampup.store import Database, FeedbackRecord, VersionRecord

T0 = 1_000_020.0  # a window boundary for 60 s windows
N = 3000
DT = 0.6  # 3000 predictions over 30 minutes


def frame(n: int, seed: int, shift: np.ndarray | float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "rome", "oslo"], n, p=[0.5, 0.3, 0.2]).astype(object)
    return pd.DataFrame({"x": rng.normal(10, 3, n) + 3 * np.asarray(shift),
                         "k": rng.integers(0, 20, n), "city": city,
                         "flag": rng.random(n) < 0.3})


def register(store: Database, model: str = "m", version: str = "v1",
             metrics: dict[str, float] | None = None) -> VersionRecord:
    df = frame(5000, 1)
    schema = infer_schema(df)
    store.models.ensure_model(model)
    return store.models.add_version(VersionRecord(
        model=model, version=version, seq=store.models.next_version_seq(model), flavor="python",
        artifact_uri="-", artifact_hash=f"sha256:{version}", input_schema=schema.to_dict(),
        output={"kind": "class", "classes": [0, 1], "has_probabilities": True},
        profile=compute_profile(df, schema), metadata={"metrics": metrics or {}},
        created_at=0.0, created_by="test"))


def traffic(seed: int = 2) -> tuple[list[PredictionRecord], np.ndarray]:
    """The second half of the traffic has ``x`` shifted by 0.5 sd. The model answers 1
    when x > 10 with a calibrated confidence in the first half; in the second half it is
    right 20 points less often than its confidence says (concept drift)."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(N) * DT
    late = (ts >= T0 + N * DT / 2).astype(float)
    df = frame(N, seed, shift=0.5 * late)
    pred = (df["x"] > 10).astype(int).to_numpy()
    conf = rng.uniform(0.8, 1.0, N)
    right = rng.random(N) < conf - 0.2 * late
    truth = np.where(right, pred, 1 - pred)
    records = []
    for i, row in enumerate(df.to_dict(orient="records")):
        inputs: dict[str, Any] = {k: (v.item() if isinstance(v, np.generic) else v)
                                  for k, v in row.items()}
        records.append(PredictionRecord(
            f"p{i}", f"p{i}", float(ts[i]), "m", "v1", "answer", inputs,
            {"prediction": int(pred[i]), "confidence": float(conf[i])}, float(conf[i]),
            float(rng.gamma(2, 5) * (3 if i > 2500 else 1))))
    return records, truth


def fill(store: Database, with_monitor: bool = True, labels: bool = True) -> np.ndarray:
    records, truth = traffic()
    store.predictions.insert_predictions([r.to_row() for r in records])
    if labels:  # labels for every other prediction, arriving later
        store.feedback.add_feedback([FeedbackRecord(r.id, "m", r.ts + 3600, "label", None,
                                                    int(truth[i]), "test", f"{r.id}:label")
                                     for i, r in enumerate(records) if i % 2 == 0])
    if with_monitor:
        monitor = Monitor(store, window_s=60.0, clock=lambda: T0 + N * DT + 7200,
                          replica="r1")
        for r in records:
            monitor.offer([r])
        monitor.process()
        monitor.flush()
    return truth


@pytest.fixture
def filled(store: Database) -> Database:
    register(store, metrics={"accuracy": 0.9})
    fill(store)
    return store


def test_monitor_windows_and_the_log_fallback_agree(filled: Database) -> None:
    kwargs: dict[str, Any] = {"since": T0, "until": T0 + N * DT, "windows": 6,
                              "concept": False}
    via_monitor = check_model(filled, "m", source="monitor", **kwargs)
    via_log = check_model(filled, "m", source="log", **kwargs)
    assert via_monitor.meta["source"] == "monitor"
    assert via_log.meta["source"] == "log"
    a, b = via_monitor.report, via_log.report
    assert [(r.feature, r.kind, r.test) for r in a.results] == \
        [(r.feature, r.kind, r.test) for r in b.results]
    for x, y in zip(a.results, b.results, strict=True):
        assert (x.n_ref, x.n_cur, x.verdict) == (y.n_ref, y.n_cur, y.verdict), x.feature
        assert x.p_value == pytest.approx(y.p_value, rel=1e-6), x.feature
        assert x.effect == pytest.approx(y.effect, rel=1e-6, abs=1e-9), x.feature
    assert a.drifted_features == ["x"]
    # the effect from stored windows tracks the exact one on the same rows
    records, _ = traffic()
    rows = pd.DataFrame([r.inputs for r in records])
    exact = compare_frames(frame(5000, 1), rows).results[0]
    assert (exact.feature, exact.drifted) == ("x", True)
    assert a.results[0].effect == pytest.approx(exact.effect, abs=0.01)
    assert via_monitor.trend is not None
    shape = via_monitor.trend.patterns()["x"]
    assert shape == ("sudden", 3)
    assert via_log.trend is not None
    assert via_log.trend.patterns()["x"] == shape


def test_auto_uses_the_monitor_and_falls_back_to_the_log(store: Database) -> None:
    register(store)
    fill(store, with_monitor=False)
    check = check_model(store, "m", since=T0, until=T0 + N * DT, concept=False)
    assert check.meta["source"] == "log"
    assert check.report.drifted_features == ["x"]
    with pytest.raises(ValidationError, match="no predictions"):
        check_model(store, "m", since=T0, until=T0 + N * DT, source="monitor",
                    concept=False)


def test_concept_drift_from_delayed_labels(filled: Database) -> None:
    check = check_model(filled, "m", since=T0, until=T0 + N * DT, windows=6)
    assert check.reference is not None
    assert check.reference.accuracy == 0.9
    assert check.reference.source == "version metadata"
    verdicts = [w.verdict for w in check.performance]
    assert verdicts[:3] == ["ok"] * 3
    assert verdicts[3:] == ["degraded"] * 3
    assert all(w.source == "mixed" for w in check.performance)  # half labelled
    assert {a.stream for a in check.alarms} == {"errors", "latency"}
    errors = [a for a in check.alarms if a.stream == "errors"]
    assert errors[0].ts is not None
    assert T0 + N * DT / 2 < errors[0].ts < T0 + N * DT * 0.7
    # half the outcomes are estimated from (now overconfident) confidences: half the drop
    m = check.metrics()
    assert m["concept.accuracy_drop"] == pytest.approx(0.1, abs=0.04)
    assert m["drift.feature[x].effect"] == pytest.approx(0.3, abs=0.05)


def test_latest_metrics_for_alert_rules(filled: Database) -> None:
    m = latest_metrics(filled, "m", now=T0 + N * DT, window_s=N * DT)
    assert m["drift.share_drifted"] == pytest.approx(0.25)
    assert m["drift.feature[x].drifted"] == 1.0
    assert "concept.accuracy_drop" in m
    assert latest_metrics(filled, "m", now=T0 - 10_000, window_s=60) == {}


def test_output_drift_against_a_baseline_range(filled: Database) -> None:
    half = T0 + N * DT / 2
    check = check_model(filled, "m", since=half, until=T0 + N * DT,
                        baseline=(T0, half), concept=False)
    outputs = {r.feature: r for r in check.report.outputs}
    assert set(outputs) == {"prediction", "confidence"}
    assert outputs["prediction"].drifted  # the shift moved the class mix
    assert not outputs["confidence"].drifted
    no_baseline = check_model(filled, "m", since=half, until=T0 + N * DT, concept=False)
    assert no_baseline.report.outputs == []
    assert "output drift skipped" in no_baseline.notes[0]


def test_reference_performance_prefers_a_stored_evaluation(sqlite_store: Database) -> None:
    record = register(sqlite_store, metrics={"accuracy": 0.8})
    sqlite_store.evaluations.add_evaluation("m", "v1", "evaluation", summary={"accuracy": 0.91,
                                                                              "n": 500},
                                result={}, name="holdout", actor="t", passed=None)
    ref = reference_performance(sqlite_store, record)
    assert ref is not None
    assert (ref.accuracy, ref.n) == (0.91, 500)


def test_version_resolution_and_missing_profiles(sqlite_store: Database) -> None:
    with pytest.raises(NotFoundError, match="no versions"):
        resolve_version(sqlite_store, "m")
    register(sqlite_store, version="v1")
    register(sqlite_store, version="v2")
    assert resolve_version(sqlite_store, "m").version == "v2"
    sqlite_store.deployments.append_deployment("m", {"routes": {"v1": 90, "v2": 10}}, "t", "")
    assert resolve_version(sqlite_store, "m").version == "v1"
    with pytest.raises(NotFoundError, match="v9"):
        resolve_version(sqlite_store, "m", "v9")
    sqlite_store.models.ensure_model("bare")
    sqlite_store.models.add_version(VersionRecord("bare", "v1", 1, "python", "-", "sha256:b",
                                                  {"features": []}, {}, None, {}, 0.0, "t"))
    with pytest.raises(NotFoundError, match="no reference profile"):
        check_model(sqlite_store, "bare", since=0, until=1)


runner = CliRunner()


def test_cli_stored_mode(tmp_path: Path) -> None:
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    register(store, metrics={"accuracy": 0.9})
    fill(store)
    store.close()
    args = ["-p", str(tmp_path), "drift", "m", "--since", f"epoch:{T0}", "--until",
            f"epoch:{T0 + N * DT}", "--windows", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "drift in 1 of 4 features: x" in result.output
    assert "sudden from window 4" in result.output
    assert "degraded" in result.output
    result = runner.invoke(app, [*args, "--json", "--source", "log"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["report"]["drifted_features"] == ["x"]
    assert data["meta"]["source"] == "log"
    assert data["trend"]["features"]["x"]["pattern"] == "sudden"
    assert math.isclose(data["metrics"]["drift.share_drifted"], 0.25)
    html = tmp_path / "r.html"
    result = runner.invoke(app, [*args, "--html", str(html), "--fail-on-drift"])
    assert result.exit_code == 1
    assert "<svg" in html.read_text()


def test_output_drift_against_the_stored_reference_outputs(store: Database) -> None:
    """Registration stores the model's outputs on its reference data (profile["output"]):
    output drift then needs no baseline range."""
    from rampup.drift.output import output_profile

    record = register(store)
    ref = frame(5000, 1)
    rng = np.random.default_rng(5)
    outputs = pd.DataFrame({"prediction": (ref["x"] > 10).astype(int),
                            "confidence": rng.uniform(0.8, 1.0, len(ref))})
    profile = dict(record.profile or {})
    profile["output"] = output_profile(outputs)
    with store.engine.begin() as conn:
        from rampup.store import schema as t

        conn.execute(t.versions.update().where(t.versions.c.model == "m")
                     .values(profile=profile))
    fill(store)
    half = T0 + N * DT / 2
    early = check_model(store, "m", since=T0, until=half, concept=False)
    late = check_model(store, "m", since=half, until=T0 + N * DT, concept=False)
    by_name = {r.feature: r for r in late.report.outputs}
    assert set(by_name) == {"prediction", "confidence"}
    assert by_name["prediction"].drifted  # x moved up by 0.5 sd: more 1s than at reference
    assert not by_name["confidence"].drifted
    assert not any(r.drifted for r in early.report.outputs)
    assert not any("output drift skipped" in n for n in late.notes)
