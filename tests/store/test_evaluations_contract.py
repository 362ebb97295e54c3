"""Evaluations repository contract: results kept against a version, newest first.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from rampup.store import Database


def test_evaluations_round_trip_newest_first(store: Database) -> None:
    store.models.ensure_model("m")
    a = store.evaluations.add_evaluation("m", "v1", "evaluation", summary={"accuracy": 0.9},
                                         result={"confusion": [[1, 2], [3, 4]]}, name="holdout")
    b = store.evaluations.add_evaluation("m", "v1", "audit", summary={"checks": 3}, result={},
                                         passed=False)
    store.evaluations.add_evaluation("m", "v2", "evaluation", summary={"accuracy": 0.8}, result={})
    assert [e.id for e in store.evaluations.list_evaluations("m", "v1")] == [b.id, a.id]
    [ev] = store.evaluations.list_evaluations("m", "v1", kind="evaluation")
    assert ev.summary == {"accuracy": 0.9}
    assert ev.result == {"confusion": [[1, 2], [3, 4]]}
    assert ev.name == "holdout"
    assert ev.passed is None
    assert store.evaluations.list_evaluations("m", kind="audit")[0].passed is False
    assert len(store.evaluations.list_evaluations("m")) == 3
