"""Review queue store methods and the queue's rules, on SQLite and PostgreSQL, with an
explicit clock (claims expire without sleeping)."""

from __future__ import annotations

from typing import Any

import pytest

from rampup.automation.queue import ReviewQueue
from rampup.automation.spec import AutomationSpec
from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.store import Database

SPEC = AutomationSpec(level="partial", claim_ttl=60, labels=["cat", "dog"])


def item(i: int, **kw: Any) -> dict[str, Any]:
    row = {"id": f"p{i}", "model": "m", "version": "v1", "request_id": f"r{i}",
           "created_at": 100.0 + i, "reason": "low_confidence", "priority": 10,
           "status": "open", "inputs": {"x": i}, "suggestion": {"prediction": "cat"},
           "confidence": 0.5, "show_suggestion": True, "choices": ["cat", "dog"],
           "weight": 1.0, "reviewers_needed": 1, "n_labels": 0}
    row.update(kw)
    return row


@pytest.fixture
def queue(store: Database) -> ReviewQueue:
    store.review.insert_review_items([item(1), item(2), item(3, priority=0, reason="audit")])
    return ReviewQueue(store, lambda m: SPEC)


def test_insert_is_idempotent(store: Database) -> None:
    assert store.review.insert_review_items([item(1), item(2)]) == 2
    assert store.review.insert_review_items([item(2), item(3)]) == 1
    assert store.review.insert_review_items([]) == 0


def test_claims_are_compare_and_set(store: Database, queue: ReviewQueue) -> None:
    assert store.review.claim_review_item("p1", "ana", now=1000.0, ttl=60)
    assert not store.review.claim_review_item("p1", "bo", now=1030.0, ttl=60)  # ana holds it
    assert store.review.claim_review_item("p1", "ana", now=1030.0, ttl=60)  # renewed
    assert store.review.claim_review_item("p1", "bo", now=1091.0, ttl=60)  # ana's claim expired
    assert store.review.get_review_item("p1")["claimed_by"] == "bo"  # type: ignore[index]


def test_next_follows_priority_and_age_and_skips(store: Database, queue: ReviewQueue) -> None:
    a = queue.next("m", "ana", now=1000.0)
    b = queue.next("m", "bo", now=1000.0)
    c = queue.next("m", "cy", now=1000.0)
    assert [x["id"] for x in (a, b, c) if x] == ["p1", "p2", "p3"]  # audit (priority 0) last
    assert queue.next("m", "dee", now=1000.0) is None
    queue.skip("m", "p1", "ana", now=1001.0)
    assert queue.next("m", "ana", now=1002.0) is None  # p1 skipped, p2/p3 claimed
    assert queue.next("m", "dee", now=1002.0)["id"] == "p1"  # type: ignore[index]
    assert queue.next("m", "ana", now=2000.0)["id"] in ("p2", "p3")  # type: ignore[index]


def test_expired_claim_cannot_decide(store: Database, queue: ReviewQueue) -> None:
    queue.claim("m", "p1", "ana", now=1000.0)
    with pytest.raises(ConflictError, match="expired 1 s ago") as exc:
        queue.decide("m", "p1", "ana", "cat", now=1061.0)
    assert exc.value.details["field"] == "review_id"
    queue.claim("m", "p1", "ana", now=1062.0)
    assert queue.decide("m", "p1", "ana", "cat", now=1063.0)["status"] == "decided"


def test_decide_errors(store: Database, queue: ReviewQueue) -> None:
    with pytest.raises(NotFoundError):
        queue.get("other", "p1")
    with pytest.raises(ConflictError, match="has not claimed"):
        queue.decide("m", "p1", "ana", "cat", now=1000.0)
    queue.claim("m", "p1", "ana", now=1000.0)
    with pytest.raises(ConflictError, match="claimed by 'ana'"):
        queue.claim("m", "p1", "bo", now=1001.0)
    with pytest.raises(ValidationError, match="not one of") as exc:
        queue.decide("m", "p1", "ana", "cow", now=1001.0)
    assert exc.value.details["allowed"] == ["cat", "dog", "uncertain"]
    with pytest.raises(ValidationError, match="missing"):
        queue.decide("m", "p1", "ana", "", now=1001.0)
    with pytest.raises(ValidationError, match="reviewer"):
        queue.decide("m", "p1", " ", "cat", now=1001.0)
    with pytest.raises(ValidationError, match="status"):
        queue.list("m", "nope")
    queue.decide("m", "p1", "ana", "dog", now=1002.0)
    with pytest.raises(ConflictError, match="already decided"):
        queue.claim("m", "p1", "bo", now=1003.0)


def test_stale_revision_is_refused(store: Database, queue: ReviewQueue) -> None:
    row = store.review.get_review_item("p1")
    assert row is not None
    assert store.review.add_review_label("p1", row["revision"], {"n_labels": 1}, model="m",
                                         reviewer="ana", kind="label", label="cat", now=1.0)
    assert not store.review.add_review_label("p1", row["revision"], {"n_labels": 2}, model="m",
                                             reviewer="bo", kind="label", label="dog", now=2.0)
    assert [r["reviewer"] for r in store.review.list_review_labels("m")] == ["ana"]


def test_reviewer_labels_once(store: Database) -> None:
    store.review.insert_review_items([item(1, reviewers_needed=2)])
    q = ReviewQueue(store, lambda m: SPEC)
    q.claim("m", "p1", "ana", now=1.0)
    assert q.decide("m", "p1", "ana", "cat", now=2.0)["status"] == "open"
    q.claim("m", "p1", "ana", now=3.0)
    with pytest.raises(ConflictError, match="already labelled"):
        q.decide("m", "p1", "ana", "dog", now=4.0)


def test_levels_and_counts(store: Database, queue: ReviewQueue) -> None:
    assert store.automation.automation_levels() == {}
    store.automation.set_automation_level("m", "partial", actor="a", reason="r", now=1.0)
    store.automation.set_automation_level("m", "full", actor="b", reason="", now=2.0)
    assert store.automation.automation_levels()["m"]["level"] == "full"
    assert store.automation.clear_automation_level("m")
    assert not store.automation.clear_automation_level("m")
    assert store.review.review_queue_lengths() == {"m": 3}
    assert store.review.review_status_counts("m") == {"open": 3}
    assert store.review.release_review_claim("p1", "ana") is False
    assert store.predictions.count_answered("m") == 0
