"""Several writers at once, on both backends: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rampup.store import Database, FeedbackRecord

THREADS = 6


def pred(thread: int, i: int) -> dict[str, Any]:
    return {
        "id": f"t{thread}-{i:05d}", "request_id": f"t{thread}-{i:05d}",
        "ts": 1_700_000_000.0 + i, "model": "m", "version": "v1", "role": "answer",
        "stage": None, "inputs": json.dumps({"x": i}), "outputs": json.dumps({"prediction": 1}),
        "confidence": None, "latency_ms": 0.5, "error": None, "request_key": None,
    }


def run_together(fn: Any, n: int = THREADS) -> list[Any]:
    """Run ``fn(k)`` for k in range(n) on n threads released at the same moment."""
    start = threading.Barrier(n)

    def go(k: int) -> Any:
        start.wait(timeout=30)
        return fn(k)

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(go, k) for k in range(n)]]


def test_concurrent_prediction_writers_lose_nothing(store: Database) -> None:
    batches, size = 8, 50

    def writer(k: int) -> int:
        return sum(store.predictions.insert_predictions([pred(k,
                                                              b * size + i) for i in range(size)])
                   for b in range(batches))

    assert run_together(writer) == [batches * size] * THREADS
    assert store.predictions.count_predictions("m") == THREADS * batches * size
    ids = [f"t{k}-{i:05d}" for k in range(THREADS) for i in range(batches * size)]
    assert store.predictions.existing_prediction_ids(ids) == set(ids)


def test_concurrent_duplicate_feedback_is_stored_once(store: Database) -> None:
    keys = [f"req-{i}:label" for i in range(40)]

    def sender(_: int) -> list[bool]:
        return store.feedback.add_feedback([
            FeedbackRecord(prediction_id=f"p{i}", model="m", ts=1.0, kind="label", name=None,
                           value=i % 2, source="user", dedupe_key=k)
            for i, k in enumerate(keys)])

    results = run_together(sender)
    # Each key was accepted by exactly one sender, whichever got there first.
    assert [sum(r[i] for r in results) for i in range(len(keys))] == [1] * len(keys)
    assert all(len(store.feedback.list_feedback(f"p{i}")) == 1 for i in range(len(keys)))


def test_concurrent_ensure_model_and_deployments(store: Database) -> None:
    run_together(lambda k: store.models.ensure_model("m", config={"owner": "team"}))
    assert [m.name for m in store.models.list_models()] == ["m"]
    made = run_together(lambda k: store.deployments.append_deployment("m",
                                                                      {"routes": {f"v{k}": 100}},
                                                          actor=f"a{k}"))
    assert len({d.id for d in made}) == THREADS
    current = store.deployments.current_deployment("m")
    assert current is not None
    assert current.id == max(d.id for d in made)
    assert store.deployments.latest_deployment_ids() == {"m": current.id}


def test_one_active_rollout_and_one_active_run_per_model_under_a_race(store: Database) -> None:
    """The database, not a check before the insert, keeps one of each per model."""
    from rampup.errors import ConflictError, RetrainRefusedError

    store.models.ensure_model("m")

    def rollout(k: int) -> bool:
        try:
            store.rollouts.insert_rollout({
                "model": "m", "candidate": f"v{k}", "baseline": "v0", "strategy": "canary",
                "plan": {}, "state": "canary", "step": 0, "step_started_at": 1.0,
                "created_at": 1.0, "updated_at": 1.0, "actor": f"a{k}"})
        except ConflictError:
            return False
        return True

    def run(k: int) -> bool:
        try:
            store.retrain.insert_retrain_run({
                "model": "m", "state": "queued", "trigger": "alert", "actor": f"a{k}",
                "details": {}, "created_at": 1.0, "updated_at": 1.0})
        except RetrainRefusedError:
            return False
        return True

    assert sum(run_together(rollout)) == 1
    assert sum(run_together(run)) == 1
    assert len(store.rollouts.list_rollouts("m", active_only=True)) == 1
    assert len(store.retrain.list_retrain_runs("m", states=["queued", "running"])) == 1


def test_decisions_on_the_same_deployment_one_wins_the_rest_are_superseded(
        store: Database) -> None:
    from rampup.errors import SupersededError
    from rampup.store.deployments import Change, Fence

    store.models.ensure_model("m")
    first = store.deployments.append_deployment("m", {"routes": {"v0": 100}}, actor="setup")

    def decide(k: int) -> bool:
        try:
            store.deployments.decide("m", Fence(first.id), Change(
                f"a{k}", f"to v{k + 1}", policy={"routes": {f"v{k + 1}": 100}}))
        except SupersededError:
            return False
        return True

    assert sum(run_together(decide)) == 1
    history = store.deployments.deployment_history("m")
    assert len(history) == 2
    notes = [e for e in store.events.list_events("m") if e.action == "superseded"]
    assert len(notes) == THREADS - 1
    assert all(n.details["deployment_id"] == history[0].id for n in notes)
