"""The serving-side runtime on its own: calibrated and user confidence, the bounded
buffer, writes that fail, and the background thread picking up level changes."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from rampup.automation.confidence import Calibrator
from rampup.automation.runtime import AutomationRuntime
from rampup.project import ProjectFile
from rampup.registry.predictor import PredictionBatch
from rampup.registry.schema import OutputSpec
from rampup.runtime import DeadLetters
from rampup.store import Database

OUT = OutputSpec("class", (0, 1), True)


def half(record: dict[str, Any], output: dict[str, Any]) -> float | None:
    """A user confidence function: None for records without ``x``."""
    return None if "x" not in record else record["x"] / 2


def project(**automation: Any) -> ProjectFile:
    return ProjectFile.model_validate({"models": {"m": {"automation": automation}}})


def annotate(rt: AutomationRuntime, records: list[dict[str, Any]],
             conf: list[float | None]) -> list[dict[str, Any]]:
    out = PredictionBatch([1] * len(records), None, conf)
    preds = [out.record(i) for i in range(len(records))]
    return rt.annotate("m", "v1", OUT, records, out, [f"p{i}" for i in range(len(records))],
                       "r", preds)


def test_calibrated_confidence_decides(sqlite_store: Database) -> None:
    sqlite_store.models.ensure_model("m")
    cal = Calibrator("isotonic", x=[0.5, 1.0], y=[0.2, 0.7], n=100)
    sqlite_store.evaluations.add_evaluation("m", "v1", "calibration", summary={},
                                            result=cal.to_dict())
    rt = AutomationRuntime(sqlite_store, project(level="partial", threshold=0.65,
                                                 confidence="calibrated"))
    assert [p["status"] for p in annotate(rt, [{}], [0.9])] == ["decided"]  # uncalibrated
    rt.refresh()
    assert [p["status"] for p in annotate(rt, [{}], [0.9])] == ["pending_review"]  # 0.9 → 0.6


def test_user_confidence_function(sqlite_store: Database) -> None:
    rt = AutomationRuntime(sqlite_store, project(
        level="partial", threshold=0.4, confidence="function",
        confidence_function="tests.automation.test_runtime:half"))
    got = annotate(rt, [{"x": 1.0}, {"x": 0.5}, {}], [0.99, 0.99, 0.99])
    assert [p["status"] for p in got] == ["decided", "pending_review", "pending_review"]
    assert [r["confidence"] for r in rt._q] == [0.25, None]


def test_bounded_buffer_and_an_unreachable_store(sqlite_store: Database) -> None:
    sqlite_store.models.ensure_model("m")
    rt = AutomationRuntime(sqlite_store, project(level="ai_assist"), queue_size=2)
    annotate(rt, [{}, {}, {}], [0.5, 0.5, 0.5])
    assert (rt.pending, rt.dropped) == (2, 1)
    assert not rt.flush(timeout=0.05)  # nothing writes before start()

    class Down:
        def __init__(self) -> None:
            self.review = self

        def insert_review_items(self, rows: list[dict[str, Any]]) -> int:
            raise sa.exc.OperationalError("INSERT", {}, ConnectionRefusedError("refused"))

    rt.store = Down()  # type: ignore[assignment]
    rt._write()  # kept for the next round, not dropped
    assert (rt.pending, rt.dropped_in_write, len(rt._q)) == (2, 0, 2)
    rt.store = sqlite_store
    rt._write()
    assert (rt.pending, len(sqlite_store.review.list_review_items("m"))) == (0, 2)


def test_a_hostile_item_never_costs_its_batch(store: Database) -> None:
    store.models.ensure_model("m")
    dead = DeadLetters(store)
    rt = AutomationRuntime(store, project(level="ai_assist"), dead_letters=dead)
    annotate(rt, [{"age": 1}, {"age": 10**30}, {"region": "\ud800"}, {"age": 4}],
             [0.5] * 4)
    rt._write()
    items = {i["id"]: i for i in store.review.list_review_items("m", limit=10)}
    assert set(items) == {"p0", "p1", "p2", "p3"}  # the review ids given out all exist
    assert items["p1"]["inputs"] == {"age": 1e30}
    assert items["p2"]["inputs"] == {"region": "\\ud800"}
    letters = {r["key"]: r for r in store.dead_letters.list_dead_letters(worker="review-writer")}
    assert set(letters) == {"p1", "p2"}
    assert "stored with escaped values at inputs.age" in letters["p1"]["reason"]
    assert (rt.pending, rt.dead_lettered) == (0, 0)


def test_thread_writes_and_refreshes(sqlite_store: Database) -> None:
    sqlite_store.models.ensure_model("m")
    rt = AutomationRuntime(sqlite_store, project(level="ai_assist"), flush_interval=0.01,
                           refresh_interval=0.02).start()
    try:
        annotate(rt, [{}], [0.5])
        assert rt.flush(10.0)
        assert len(sqlite_store.review.list_review_items("m")) == 1
        sqlite_store.automation.set_automation_level("m", "full", actor="t", reason="", now=1.0)
        deadline = time.monotonic() + 10
        # refresh() sets the levels first and the queue lengths last: wait for both
        while (rt.level("m") != "full" or rt.queue_lengths != {"m": 1}) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        assert rt.level("m") == "full"
        assert rt.queue_lengths == {"m": 1}
    finally:
        rt.stop()
