"""Predictions repository contract: the prediction log, its join with the latest
label, retention and erasure.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest

from rampup.predlog.writer import PredictionRecord
from rampup.store import Database, FeedbackRecord
from tests.store.rows import T0, all_rows, event, label, pred

# -- predictions ------------------------------------------------------------------------------

def test_insert_and_get_many_predictions(store: Database) -> None:
    rows = [pred(i) for i in range(1200)]
    rows[3].update(error="ValueError: boom", outputs=None, confidence=None,
                   request_key="user-7", stage="asr")
    assert store.predictions.insert_predictions(rows) == 1200
    assert store.predictions.insert_predictions([]) == 0
    wanted = [r["id"] for r in rows[::3]] + ["missing"]
    got = {r["id"]: r for r in store.predictions.get_predictions(wanted)}
    assert set(got) == {r["id"] for r in rows[::3]}  # more ids than one IN-list chunk
    assert got["p00003"] == rows[3]
    assert got["p00000"] == rows[0]


def test_reinserting_known_ids_skips_them(store: Database) -> None:
    assert store.predictions.insert_predictions([pred(i) for i in range(5)]) == 5
    changed = pred(2, version="v9")
    assert store.predictions.insert_predictions([changed, pred(5), pred(6)]) == 2
    assert store.predictions.count_predictions() == 7
    assert store.predictions.get_predictions(["p00002"])[0]["version"] == "v1"  # first write wins


def test_duplicate_ids_within_one_batch_are_written_once(store: Database) -> None:
    assert store.predictions.insert_predictions([pred(1), pred(2), pred(1, version="v2")]) == 2
    assert [r["version"] for r in store.predictions.get_predictions(["p00001"])] == ["v1"]


def test_existing_ids_and_models(store: Database) -> None:
    store.predictions.insert_predictions([pred(i) for i in range(700)] +
                                         [pred(i, model="other") for i in range(700, 710)])
    asked = [f"p{i:05d}" for i in range(0, 1400, 2)]
    assert store.predictions.existing_prediction_ids(asked) == {f"p{i:05d}" for i in range(0, 710,
                                                                                           2)}
    assert store.predictions.existing_prediction_ids([]) == set()
    models = store.predictions.prediction_models(["p00001", "p00705", "nope"])
    assert models == {"p00001": "m", "p00705": "other"}


def test_count_predictions_by_model_and_role(store: Database) -> None:
    assert store.predictions.count_predictions() == 0
    store.predictions.insert_predictions(
        [pred(i) for i in range(6)] + [pred(i, role="shadow", version="v2") for i in range(6, 9)]
        + [pred(i, model="other") for i in range(9, 11)])
    assert store.predictions.count_predictions() == 11
    assert store.predictions.count_predictions("m") == 9
    assert store.predictions.count_predictions("m", role="shadow") == 3
    assert store.predictions.count_predictions(role="answer") == 8
    assert store.predictions.count_predictions("ghost") == 0


# -- iter_predictions -------------------------------------------------------------------------

def test_iter_predictions_oldest_first_in_chunks(store: Database) -> None:
    rows = [pred(i) for i in range(23)]
    store.predictions.insert_predictions(rows[::-1])  # insertion order must not matter
    chunks = list(store.predictions.iter_predictions("m", chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 3]
    flat = [r for c in chunks for r in c]
    assert [r["id"] for r in flat] == [r["id"] for r in rows]
    assert {k: flat[0][k] for k in rows[0]} == rows[0]
    assert flat[0]["label"] is None
    assert flat[0]["labeled_at"] is None


def test_iter_predictions_ties_on_time_are_ordered_by_id(store: Database) -> None:
    store.predictions.insert_predictions([pred(i, ts=T0) for i in (3, 1, 2)])
    assert [r["id"] for r in all_rows(store)] == ["p00001", "p00002", "p00003"]


def test_iter_predictions_filters(store: Database) -> None:
    store.predictions.insert_predictions(
        [pred(i) for i in range(10)]
        + [pred(i, role="shadow", version="v2") for i in range(10, 15)]
        + [pred(i, role="canary", version="v2") for i in range(15, 18)]
        + [pred(i, model="other") for i in range(18, 20)])
    ids = lambda **kw: [r["id"][1:] for r in all_rows(store, **kw)]  # noqa: E731
    assert len(ids()) == 18
    assert ids(since=T0 + 8, until=T0 + 11) == ["00008", "00009", "00010"]  # [since, until)
    assert ids(version="v2", roles=["canary"]) == ["00015", "00016", "00017"]
    assert len(ids(roles=["answer", "canary"])) == 13
    assert ids(version="v1", since=T0 + 9) == ["00009"]
    assert ids(roles=["batch"]) == []
    assert all_rows(store, "ghost") == []
    assert list(store.predictions.iter_predictions("ghost")) == []


def test_iter_predictions_joins_the_latest_label(store: Database) -> None:
    store.predictions.insert_predictions([pred(i) for i in range(4)])
    assert store.feedback.add_feedback([
        label("p00000", 1, ts=T0 + 100),
        label("p00000", 0, ts=T0 + 200),  # a later correction wins
        label("p00001", "approved", ts=T0 + 50, source="review"),
        event("p00002", "clicked", key="e1"),  # events are not labels
        label("p00003", 1, model="other"),  # a label filed under another model
    ]) == [True] * 5
    rows = {r["id"]: r for r in all_rows(store)}
    assert len(rows) == 4
    assert (rows["p00000"]["label"], rows["p00000"]["labeled_at"]) == (0, T0 + 200)
    assert (rows["p00001"]["label"], rows["p00001"]["labeled_at"]) == ("approved", T0 + 50)
    assert rows["p00002"]["label"] is None
    assert rows["p00003"]["label"] is None
    plain = all_rows(store, with_labels=False)
    assert len(plain) == 4
    assert "label" not in plain[0]


@pytest.mark.parametrize("value", [1, 0.25, "spam", True, {"box": [1, 2, 3, 4]}])
def test_label_values_keep_their_json_type(store: Database, value: Any) -> None:
    store.predictions.insert_predictions([pred(0)])
    store.feedback.add_feedback([label("p00000", value)])
    [row] = all_rows(store)
    assert row["label"] == value
    assert type(row["label"]) is type(value)


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


def test_feedback_targets_are_the_row_and_its_shadows(store: Database) -> None:
    store.predictions.insert_predictions([
        pred(0, request_id="r1"), pred(1, request_id="r1", role="shadow", version="v2",
                                       id="p00000~v2"),
        pred(2, request_id="r2")])
    got = store.predictions.feedback_targets(["p00000", "p00000", "nope"])
    assert sorted(got) == ["p00000"]
    assert [(r["id"], r["role"]) for r in got["p00000"]] == [("p00000", "answer"),
                                                             ("p00000~v2", "shadow")]
    assert set(got["p00000"][0]) == {"id", "request_id", "ts", "model", "version", "role",
                                     "stage", "outputs"}


def test_answered_counts_skip_errors_and_other_roles(store: Database) -> None:
    store.predictions.insert_predictions([
        pred(0), pred(1, error="boom"), pred(2, role="shadow"), pred(3, ts=T0 + 100)])
    assert store.predictions.count_answered("m") == 2
    assert store.predictions.count_answered("m", since=T0 + 50) == 1
    assert store.predictions.count_answered("other") == 0


def test_retention_deletes_the_oldest_in_batches(store: Database) -> None:
    store.predictions.insert_predictions([pred(i) for i in range(5)] + [pred(9, model="n")])
    assert store.predictions.delete_predictions_before("m", T0 + 3, limit=2) == 2
    assert store.predictions.delete_predictions_before("m", T0 + 3, limit=2) == 1
    assert store.predictions.delete_predictions_before("m", T0 + 3, limit=2) == 0
    assert [r["id"] for r in all_rows(store, with_labels=False)] == ["p00003", "p00004"]
    assert store.predictions.count_predictions("n") == 1


def test_erasure_removes_a_subject_and_everything_that_refers_to_it(store: Database) -> None:
    store.predictions.insert_predictions([
        pred(0, request_key="alice", request_id="r-a"), pred(1, request_key="bob"),
        pred(2, request_key="alice", request_id="r-a", role="shadow", id="p00000~v2")])
    store.feedback.add_feedback([label("p00000", 1), label("p00001", 0)])
    store.review.insert_review_items([{
        "id": "p00000", "model": "m", "version": "v1", "request_id": "r-a",
        "created_at": T0, "reason": "audit", "status": "open", "inputs": {}}])
    store.dead_letters.add_dead_letters([{"ts": T0, "worker": "log-writer", "reason": "x",
                                          "key": "p00000", "payload": "{}",
                                          "payload_chars": 2}])
    found = store.predictions.subject_predictions(["alice"])
    assert sorted(r["id"] for r in found) == ["p00000", "p00000~v2"]
    assert store.predictions.inputs_mention("Oslo")
    counts = store.predictions.erase_predictions([r["id"] for r in found], ["r-a"])
    assert counts == {"predictions": 2, "feedback": 1, "review_items": 1, "review_labels": 0,
                      "dead_letters": 1}
    assert [r["id"] for r in all_rows(store)] == ["p00001"]
    assert store.feedback.list_feedback("p00001") != []
    assert store.predictions.subject_predictions(["alice"]) == []
