"""The retraining rows on both stores: one active run per model, compare-and-set updates,
new labels counted from answered predictions, the last N predictions with labels."""

from __future__ import annotations

import pytest

from rampup.errors import RetrainRefusedError
from rampup.predlog.writer import PredictionRecord
from rampup.store import Database, FeedbackRecord


def _run(model: str, state: str = "queued", t: float = 100.0) -> dict[str, object]:
    return {"model": model, "state": state, "trigger": "manual", "actor": "a", "reason": "r",
            "details": {"why": 1}, "created_at": t, "updated_at": t}


def test_runs(store: Database) -> None:
    store.models.ensure_model("m")
    first = store.retrain.insert_retrain_run(_run("m"))
    with pytest.raises(RetrainRefusedError, match="already has a retraining run queued"):
        store.retrain.insert_retrain_run(_run("m"))
    other = store.retrain.insert_retrain_run(_run("other"))  # another model is independent
    assert store.retrain.update_retrain_run(first, {"state": "running"}, expect_states=["queued"])
    assert not store.retrain.update_retrain_run(first, {"state": "running"},
                                                expect_states=["queued"])
    assert store.retrain.update_retrain_run(first, {"state": "failed", "dataset": {"rows": 3},
                                            "reasons": ["x"], "error": "boom"})
    second = store.retrain.insert_retrain_run(_run("m", t=200.0))
    run = store.retrain.get_retrain_run(first)
    assert run is not None
    assert (run["state"], run["dataset"], run["details"], run["error"]) == (
        "failed", {"rows": 3}, {"why": 1}, "boom")
    assert store.retrain.get_retrain_run(999) is None
    assert [r["id"] for r in store.retrain.list_retrain_runs("m")] == [second, first]
    assert [r["id"] for r in store.retrain.list_retrain_runs(states=["queued"])] == [second, other]
    assert [r["id"] for r in store.retrain.list_retrain_runs("m", since=150.0)] == [second]


def test_labels_and_recent_predictions(store: Database) -> None:
    store.models.ensure_model("m")
    rows = [PredictionRecord(f"p{i}", f"p{i}", 10.0 + i, "m", "v1", role, {"x": i},
                             {"prediction": i % 2}, None, 1.0, None, None).to_row()
            for i, role in enumerate(["answer", "answer", "shadow", "answer"])]
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback([
        FeedbackRecord("p0", "m", 20.0, "label", None, 0, "t", "k0"),
        FeedbackRecord("p0", "m", 30.0, "label", None, 1, "t", "k1"),  # relabelled later
        FeedbackRecord("p2", "m", 30.0, "label", None, 1, "t", "k2"),  # a shadow row
        FeedbackRecord("p3", "m", 5.0, "label", None, 1, "t", "k3")])
    assert store.feedback.count_new_labels("m", None) == 2
    assert store.feedback.count_new_labels("m", 25.0) == 1
    last = store.predictions.recent_predictions("m", 2)
    assert [(r["id"], r["label"]) for r in last] == [("p1", None), ("p3", 1)]
    recent = store.predictions.recent_predictions("m", 10)
    assert next((r["id"], r["label"]) for r in recent) == ("p0", 1)
    assert store.predictions.recent_predictions("m", 10, version="v2") == []
