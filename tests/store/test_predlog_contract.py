"""Store contract, prediction log side: predictions, feedback and their join.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rampup.store import Database, FeedbackRecord

T0 = 1_700_000_000.0


def pred(i: int, *, model: str = "m", version: str = "v1", role: str = "answer",
         ts: float | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"p{i:05d}", "request_id": f"r{i // 2:05d}",
        "ts": T0 + i if ts is None else ts, "model": model, "version": version,
        "role": role, "stage": None, "inputs": json.dumps({"age": 20 + i % 50, "city": "Oslo"}),
        "outputs": json.dumps({"prediction": i % 2, "probabilities": {"0": 0.4, "1": 0.6}}),
        "confidence": 0.6, "latency_ms": 1.25, "error": None, "request_key": None,
    }
    row.update(extra)
    return row


def label(pid: str, value: Any, *, ts: float = T0 + 10_000, model: str = "m",
          key: str | None = None, source: str = "user") -> FeedbackRecord:
    return FeedbackRecord(prediction_id=pid, model=model, ts=ts, kind="label", name=None,
                          value=value, source=source, dedupe_key=key or f"{pid}:{value}:{ts}")


def event(pid: str, name: str, *, key: str, model: str = "m") -> FeedbackRecord:
    return FeedbackRecord(prediction_id=pid, model=model, ts=T0 + 5, kind="event", name=name,
                          value={"after_s": 3.5}, source="user", dedupe_key=key)


def all_rows(store: Database, model: str = "m", **kwargs: Any) -> list[dict[str, Any]]:
    return [row for chunk in store.predictions.iter_predictions(model, **kwargs) for row in chunk]


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


# -- feedback -----------------------------------------------------------------------------------

def test_feedback_is_idempotent_by_dedupe_key(store: Database) -> None:
    store.predictions.insert_predictions([pred(0)])
    rec = label("p00000", 1, key="req-1:label")
    assert store.feedback.add_feedback([rec]) == [True]
    assert store.feedback.add_feedback([rec]) == [False]
    assert store.feedback.add_feedback([label("p00000", 0, key="req-1:label")]) == [False]
    assert store.feedback.list_feedback("p00000") == [rec]


def test_feedback_duplicates_within_one_call(store: Database) -> None:
    a = event("p00000", "repeated_query", key="k1")
    b = event("p00000", "switched_to_typing", key="k2")
    assert store.feedback.add_feedback([a, a, b]) == [True, False, True]
    assert store.feedback.list_feedback("p00000") == [a, b]  # in arrival order
    assert store.feedback.list_feedback("nope") == []
    assert store.feedback.add_feedback([]) == []
