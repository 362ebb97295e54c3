"""Review repository contract: queue items claimed and decided by compare-and-set, the
reviewers' labels, and the final label written as feedback in the same transaction.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture), with an
explicit clock (claims expire without sleeping).
"""

from __future__ import annotations

from typing import Any

from rampup.store import Database, FeedbackRecord


def item(i: int, **kw: Any) -> dict[str, Any]:
    return {"id": f"p{i}", "model": "m", "version": "v1", "request_id": f"r{i}",
            "created_at": 100.0 + i, "reason": "low_confidence", "priority": 10,
            "status": "open", "inputs": {"x": i}, "suggestion": {"prediction": "cat"},
            "confidence": 0.5, "choices": ["cat", "dog"], **kw}


def test_items_are_queued_once_in_priority_then_age_order(store: Database) -> None:
    assert store.review.insert_review_items([]) == 0
    assert store.review.insert_review_items([item(1), item(2), item(3, priority=0)]) == 3
    assert store.review.insert_review_items([item(1), item(4, reason="audit")]) == 1
    queue = store.review.list_review_items("m")
    assert [i["id"] for i in queue] == ["p1", "p2", "p4", "p3"]
    assert [i["id"] for i in store.review.list_review_items("m", newest_first=True)] == [
        "p4", "p3", "p2", "p1"]
    assert [i["id"] for i in store.review.list_review_items("m", reasons=["audit"])] == ["p4"]
    assert [i["id"] for i in store.review.list_review_items("m", since=103.0)] == ["p4", "p3"]
    got = store.review.get_review_item("p1")
    assert got is not None
    assert (got["inputs"], got["revision"], got["reviewers_needed"]) == ({"x": 1}, 0, 1)
    assert store.review.get_review_item("nope") is None
    assert store.review.review_status_counts("m") == {"open": 4}
    assert store.review.review_queue_lengths() == {"m": 4}


def test_claims_are_compare_and_set_with_expiry(store: Database) -> None:
    store.review.insert_review_items([item(1), item(2, priority=0)])
    assert store.review.claim_review_item("p1", "ana", now=0.0, ttl=60.0)
    assert not store.review.claim_review_item("p1", "bob", now=30.0, ttl=60.0)
    assert store.review.claim_review_item("p1", "ana", now=30.0, ttl=60.0)  # renewed
    assert store.review.claim_review_item("p1", "bob", now=91.0, ttl=60.0)  # expired
    assert not store.review.release_review_claim("p1", "ana")
    assert store.review.release_review_claim("p1", "bob")
    held = store.review.claim_next_review_item("m", "ana", now=100.0, ttl=60.0)
    assert held is not None
    assert (held["id"], held["claimed_by"]) == ("p1", "ana")
    again = store.review.claim_next_review_item("m", "ana", now=110.0, ttl=60.0)
    assert again is not None  # the reviewer's live claim comes first
    assert again["id"] == "p1"
    other = store.review.claim_next_review_item("m", "bob", now=110.0, ttl=60.0)
    assert other is not None
    assert other["id"] == "p2"
    assert store.review.claim_next_review_item("m", "cy", now=110.0, ttl=60.0) is None


def test_a_decision_writes_the_label_and_the_feedback_together(store: Database) -> None:
    store.review.insert_review_items([item(1)])
    final = FeedbackRecord("p1", "m", 200.0, "label", None, "dog", "review", "review:p1")
    update = {"status": "decided", "final_label": "dog", "decided_at": 200.0,
              "decided_by": "ana", "n_labels": 1}
    assert store.review.add_review_label("p1", 0, update, model="m", reviewer="ana",
                                         kind="label", label="dog", now=200.0, note="sure",
                                         feedback=final)
    assert store.feedback.list_feedback("p1") == [final]
    # a decision on the revision it read only: the item has moved on
    assert not store.review.add_review_label("p1", 0, update, model="m", reviewer="bob",
                                             kind="label", label="cat", now=201.0,
                                             feedback=final)
    labels = store.review.list_review_labels("m")
    assert [(r["reviewer"], r["label"], r["note"]) for r in labels] == [("ana", "dog", "sure")]
    assert store.review.list_review_labels("m", kinds=("skip",)) == []
    assert store.review.list_review_labels("m", item_ids=["p9"]) == []
    assert store.review.list_review_labels("m", since=201.0) == []
    assert store.review.review_status_counts("m") == {"decided": 1}
    assert store.review.review_queue_lengths() == {}


def test_retention_drops_old_items_and_their_labels(store: Database) -> None:
    store.review.insert_review_items([item(1), item(2), item(3)])
    store.review.add_review_label("p1", 0, {"n_labels": 1}, model="m", reviewer="ana",
                                  kind="skip", label=None, now=150.0)
    assert store.review.delete_review_before("m", before=102.5, limit=1) == 1
    assert store.review.delete_review_before("m", before=102.5, limit=10) == 1
    assert [i["id"] for i in store.review.list_review_items("m")] == ["p3"]
    assert store.review.list_review_labels("m", kinds=("skip",)) == []
