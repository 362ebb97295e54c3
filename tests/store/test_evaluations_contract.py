from __future__ import annotations

from rampup.store import Store


def test_evaluations_round_trip_newest_first(store: Store) -> None:
    store.ensure_model("m")
    a = store.add_evaluation("m", "v1", "evaluation", summary={"accuracy": 0.9},
                             result={"confusion": [[1, 2], [3, 4]]}, name="holdout")
    b = store.add_evaluation("m", "v1", "audit", summary={"checks": 3}, result={}, passed=False)
    store.add_evaluation("m", "v2", "evaluation", summary={"accuracy": 0.8}, result={})
    assert [e.id for e in store.list_evaluations("m", "v1")] == [b.id, a.id]
    [ev] = store.list_evaluations("m", "v1", kind="evaluation")
    assert ev.summary == {"accuracy": 0.9}
    assert ev.result == {"confusion": [[1, 2], [3, 4]]}
    assert ev.name == "holdout"
    assert ev.passed is None
    assert store.list_evaluations("m", kind="audit")[0].passed is False
    assert len(store.list_evaluations("m")) == 3
