"""The demo's retraining chapter: its entry point retrains the loan model after concept
drift and the run rolls out; the story prints each step once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import joblib
import pytest
from tests.serving.conftest import make_settings

from rampup.predlog.writer import PredictionRecord
from rampup.project import parse_project
from rampup.registry.predictor import FeatureBatch
from rampup.registry.registry import Registry
from rampup.retrain.service import Retrainer
from rampup.store import Database, FeedbackRecord
from rampup_demo.data import FEATURES, LABEL, LoanGenerator, frame_to_records
from rampup_demo.retrain_chapter import RetrainStory, retrain_yaml, train
from rampup_demo.train import train_model


def test_the_entry_point_uses_weights() -> None:
    frame = LoanGenerator(seed=1).sample(800)
    frame["sample_weight"], frame["_source"] = 1.0, ["log", "reference"] * 400
    model = train(frame, {"kind": "logistic", "log_weight": 2.0})
    assert list(model.feature_names_in_) == FEATURES
    assert set(model.predict(frame[FEATURES]).tolist()) <= {0, 1}
    bare = frame.drop(columns=["sample_weight", "_source"])
    assert len(train(bare, {"kind": "logistic"}).predict(bare[FEATURES])) == 800


@pytest.mark.slow
def test_the_demo_model_is_retrained_and_rolled_out(sqlite_store: Database, tmp_path: Path) -> None:
    gen = LoanGenerator(seed=2)
    reference = gen.sample(3000)[[*FEATURES, LABEL]]
    (tmp_path / "data").mkdir()
    reference.to_parquet(tmp_path / "data" / "reference.parquet")
    joblib.dump(train_model(reference, kind="logistic"), tmp_path / "v1.joblib")
    registry = Registry.from_settings(make_settings(tmp_path), sqlite_store)
    registry.register("loan-default", tmp_path / "v1.joblib",
                      reference=tmp_path / "data" / "reference.parquet", label_column=LABEL)
    drifted = LoanGenerator(seed=3, concept_drift=1.0).sample(1500)
    records = frame_to_records(drifted[FEATURES])
    v1 = registry.load(registry.get("loan-default", "v1"))
    out = v1.predict(FeatureBatch.from_records(records, FEATURES))
    now = time.time()
    sqlite_store.predictions.insert_predictions([
        PredictionRecord(f"p{i}", f"p{i}", now - 100 + i * 0.05, "loan-default", "v1", "answer",
                         rec, out.record(i), None, 1.0, None, None).to_row()
        for i, rec in enumerate(records)])
    sqlite_store.feedback.add_feedback([
        FeedbackRecord(f"p{i}", "loan-default", now - 10, "label", None, int(y), "demo",
                       hashlib.sha256(f"p{i}".encode()).hexdigest())
        for i, y in enumerate(drifted[LABEL])])
    section = retrain_yaml()
    section["params"] = {"kind": "logistic", "log_weight": 5.0}
    project = parse_project({"models": {"loan-default": {"retrain": section}}})
    retrainer = Retrainer(registry, project, tmp_path)
    lines: list[str] = []
    story = RetrainStory(sqlite_store, emit=lines.append)
    run = retrainer.request("loan-default", trigger="alert", actor="alert:input-drift",
                            details={"alert": "input-drift", "value": 0.42,
                                     "condition": "drift.share_drifted >= 0.25"})
    assert story.poll() == [
        "retraining run #1 started: alert input-drift fired (drift.share_drifted = 0.42, "
        "rule drift.share_drifted >= 0.25)"]
    done = retrainer.execute(run["id"])
    assert done["state"] == "rolled_out", (done["error"], done["reasons"])
    story.poll()
    assert story.poll() == []  # each step once
    starts = ["  dataset: 4050 training rows (3000 reference + 1500 labelled from the log), "
              "450 held out", "  trained and registered loan-default@v2 (holdout accuracy 0.",
              "  evaluation vs champion v1 on 450 held-out rows: accuracy ",
              "  replay of 1500 logged requests: agreement ",
              "  rollout #1 of v2 started (watch: rampup rollout status loan-default)"]
    assert len(lines) == 6
    for line, start in zip(lines[1:], starts, strict=True):
        assert line.startswith(start), line
    assert "better than the champion" in lines[3]


def test_the_story_of_runs_that_stop(sqlite_store: Database) -> None:
    sqlite_store.models.ensure_model("loan-default")
    for state, extra in (("failed", {"error": "the entry point timed out"}),
                         ("awaiting_approval", {"reasons": ["matches"]})):
        run_id = sqlite_store.retrain.insert_retrain_run({
            "model": "loan-default", "state": "queued", "trigger": "manual",
            "actor": "cli:ann", "reason": "by hand", "details": {}, "created_at": 1.0,
            "updated_at": 1.0})
        sqlite_store.retrain.update_retrain_run(run_id, {"state": state, **extra})
    sched = sqlite_store.retrain.insert_retrain_run({
        "model": "loan-default", "state": "queued", "trigger": "schedule", "actor": "s",
        "reason": "scheduled (every 1d)", "details": {}, "created_at": 2.0, "updated_at": 2.0})
    lines = RetrainStory(sqlite_store, emit=lambda _: None).poll()
    assert lines == [
        "retraining run #1 started: asked by cli:ann: by hand",
        "  stopped: failed (the entry point timed out)",
        "retraining run #2 started: asked by cli:ann: by hand",
        "  stopped: awaiting approval (matches)",
        f"retraining run #{sched} started: scheduled (every 1d)"]
