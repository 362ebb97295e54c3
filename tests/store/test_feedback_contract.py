"""Feedback repository contract: labels and events, idempotent by dedupe key.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from rampup.store import Database
from tests.store.rows import T0, event, label, pred


def test_feedback_is_idempotent_by_dedupe_key(store: Database) -> None:
    store.predictions.insert_predictions([pred(0)])
    rec = label("p00000", 1, key="req-1:label")
    assert store.feedback.add_feedback([rec]) == [True]
    assert store.feedback.add_feedback([rec]) == [False]
    assert store.feedback.add_feedback([label("p00000", 0, key="req-1:label")]) == [False]
    assert store.feedback.list_feedback("p00000") == [rec]


def test_a_dedupe_key_is_unique_per_prediction(store: Database) -> None:
    """Real keys hash their prediction id (predlog/feedback.py), so this is the old rule;
    the partition key of PostgreSQL's feedback table must be in every unique key, and
    both stores keep the same one (migration 0014)."""
    from rampup.predlog.feedback import FeedbackItem, to_records

    item = FeedbackItem(request_id="p00000", label=1, events=["clicked"])
    again = FeedbackItem(request_id="p00000", label=1, events=["clicked"])
    other = FeedbackItem(request_id="p00001", label=1, events=["clicked"])
    assert store.feedback.add_feedback(to_records(item, "m", now=T0)) == [True, True]
    assert store.feedback.add_feedback(to_records(again, "m", now=T0 + 9)) == [False, False]
    assert store.feedback.add_feedback(to_records(other, "m", now=T0)) == [True, True]
    shared = [label("p00002", 1, key="same"), label("p00003", 1, key="same")]
    assert store.feedback.add_feedback(shared) == [True, True]


def test_feedback_duplicates_within_one_call(store: Database) -> None:
    a = event("p00000", "repeated_query", key="k1")
    b = event("p00000", "switched_to_typing", key="k2")
    assert store.feedback.add_feedback([a, a, b]) == [True, False, True]
    assert store.feedback.list_feedback("p00000") == [a, b]  # in arrival order
    assert store.feedback.list_feedback("nope") == []
    assert store.feedback.add_feedback([]) == []


def test_label_history_oldest_first_per_prediction(store: Database) -> None:
    store.feedback.add_feedback([
        label("p00000", 1, ts=T0 + 1, key="a"), event("p00000", "clicked", key="e"),
        label("p00001", "x", key="b"), label("p00000", 0, ts=T0 + 2, key="c")])
    history = store.feedback.label_history(["p00000", "p00001", "p00000", "nope"])
    assert {pid: [(k, v) for _, k, v in rows] for pid, rows in history.items()} == {
        "p00000": [("a", 1), ("c", 0)], "p00001": [("b", "x")]}
    ids = [i for i, _, _ in history["p00000"]]
    assert ids == sorted(ids)


def test_retention_deletes_old_feedback_of_a_model(store: Database) -> None:
    store.predictions.insert_predictions([pred(0)])
    store.feedback.add_feedback([label("p00000", 1, ts=T0, key="a"),
                                 label("p00000", 0, ts=T0 + 10, key="b"),
                                 label("p00000", 1, ts=T0, key="c", model="other")])
    assert store.feedback.delete_feedback_before("m", T0 + 5, limit=10) == 1
    assert [f.dedupe_key for f in store.feedback.list_feedback("p00000")] == ["b", "c"]
