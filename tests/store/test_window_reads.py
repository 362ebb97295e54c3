"""The queries incremental windows read with: on a partitioned log (PostgreSQL) a window
query carries an id floor so the planner prunes older days' partitions (checked with
EXPLAIN); the label cursor re-reads a range only when a lower feedback id committed late."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from rampup.rollout.tail import LogTail
from rampup.store import Database, FeedbackRecord
from rampup.store import schema as t
from rampup.store.partitions import bound
from rampup.store.predictions import ID_MARGIN_S

DAY = 86_400.0
NOW = 1_790_000_000.0  # 2026-09-21 14:13 UTC
MIDNIGHT = NOW - NOW % DAY


def pid(at: float) -> str:
    return f"{round(at * 1000):012x}{os.urandom(10).hex()}"


def row(i: str, at: float, model: str = "m", role: str = "answer") -> dict[str, Any]:
    return {"id": i, "request_id": i, "ts": at, "model": model, "version": "v1",
            "role": role, "stage": None, "inputs": '{"x": 1}',
            "outputs": '{"prediction": 1}', "confidence": None, "latency_ms": 1.0,
            "error": None, "request_key": None}


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    store = Database.open(pg_url)
    yield store
    store.close()


def plan(store: Database, since: float, until: float) -> str:
    p = t.predictions
    q = sa.select(p.c.id).where(*store.predictions._window("m", since, until, ["answer"]))
    sql = q.compile(store.engine, compile_kwargs={"literal_binds": True})
    with store.engine.connect() as conn:
        return "\n".join(r[0] for r in conn.execute(sa.text(f"EXPLAIN {sql}")))


@pytest.mark.postgres
def test_window_queries_prune_older_partitions(pg: Database) -> None:
    for day in (MIDNIGHT - 4 * DAY, MIDNIGHT):  # partitions for 8 days, the last 4 ahead
        pg.partitions.ensure_partitions(day)
    old = [row(pid(MIDNIGHT - 3 * DAY + k), MIDNIGHT - 3 * DAY + k) for k in range(5)]
    new = [row(pid(NOW - 30 + k), NOW - 30 + k) for k in range(5)]
    pg.predictions.insert_predictions(old + new)
    since = NOW - 60
    assert pg.predictions.id_floor(since) == bound(since - ID_MARGIN_S)
    assert pg.predictions.id_floor(0.0) == "000000000000"  # "since the beginning"
    text = plan(pg, since, NOW)
    assert "predictions_p20260921" in text, text
    for stale in ("predictions_p20260918", "predictions_p20260919", "predictions_p20260920"):
        assert stale not in text, text
    # the same rows as without the floor
    got = [r[0] for chunk in pg.predictions.tail_rows("m", since=since, until=NOW,
                                                         roles=["answer"]) for r in chunk]
    assert got == [r["id"] for r in new]
    assert pg.predictions.count_window("m", since=since, until=NOW, roles=["answer"]) == 5
    # a window over the old day still finds its rows (its partition is kept in the plan)
    assert pg.predictions.count_window("m", since=MIDNIGHT - 3 * DAY, until=MIDNIGHT - 2 * DAY,
                                       roles=["answer"]) == 5


def test_no_floor_on_an_unpartitioned_log(sqlite_store: Database) -> None:
    assert sqlite_store.predictions.id_floor(NOW) is None


def test_window_labels_and_counts(store: Database) -> None:
    rows = [row(f"p{k}", NOW + k) for k in range(6)] + [row("s0", NOW + 1, role="shadow"),
                                                        row("o0", NOW + 2, model="other")]
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback([
        FeedbackRecord("p1", "m", NOW, "label", None, "a", "user", "k1"),
        FeedbackRecord("p1", "m", NOW, "label", None, "b", "user", "k2"),  # the latest
        FeedbackRecord("p2", "m", NOW, "event", "click", None, "user", "k3"),
        FeedbackRecord("o0", "other", NOW, "label", None, "x", "user", "k4")])
    got = store.feedback.labels_in_range("m", "p0", "p5")
    assert {k: v for k, (_, v) in got.items()} == {"p1": "b"}
    assert got == store.feedback.latest_labels("m", [f"p{k}" for k in range(6)])
    assert store.feedback.labels_in_range("m", "p2", "p5") == {}
    assert store.feedback.labels_in_range("m", "p1", "p1") == got
    assert store.feedback.labels_in_range("other", "a", "z")["o0"][1] == "x"
    assert store.predictions.count_window("m", since=NOW + 1, until=NOW + 3,
                                          roles=["answer"]) == 2
    assert store.predictions.count_window("m", since=NOW + 1, until=NOW + 3,
                                          roles=["answer", "shadow"]) == 3
    ids = [fid for fid, _, _ in store.feedback.labels_after("m", 0)]
    assert len(ids) == 2
    assert store.feedback.count_labels("m", 0, max(ids)) == 2
    assert store.feedback.count_labels("m", ids[0], max(ids)) == 1
    assert [p for _, p, _ in store.feedback.labels_after("m", 0, limit=1)] == ["p1", "p1"]


def test_a_label_committed_late_with_a_lower_id_is_read(sqlite_store: Database) -> None:
    """What a PostgreSQL sequence can do (a transaction that took a lower id commits after
    one with a higher id), made by hand on SQLite: the count of the lagged range differs
    from what was read, so the range is re-read."""
    store = sqlite_store
    clock = [0.0]
    store.predictions.insert_predictions([row(f"p{k}", NOW + k) for k in range(3)])
    tail = LogTail(store, "m", NOW, lag_s=10.0, label_lag_s=10.0, clock=lambda: clock[0])
    tail.refresh(NOW + 5)
    f = t.feedback

    def label(fid: int, prediction: str, value: Any) -> None:
        with store.engine.begin() as conn:
            conn.execute(f.insert().values(id=fid, prediction_id=prediction, model="m",
                                           ts=NOW, kind="label", name=None, value=value,
                                           source="user", dedupe_key=f"k{fid}"))

    label(100, "p0", "a")
    clock[0] = 2.0
    tail.refresh(NOW + 5)
    assert tail.col("label")[:3].tolist() == ["a", None, None]
    label(50, "p1", "b")  # below the cursor (100), committed later
    clock[0] = 4.0
    tail.refresh(NOW + 5)
    assert tail.col("label")[:3].tolist() == ["a", "b", None]
    reads = tail.labels_read
    clock[0] = 6.0
    tail.refresh(NOW + 5)  # nothing new: the lagged range is counted, not re-read
    assert tail.labels_read == reads


def test_rows_of_other_roles_do_not_make_the_overlap_re_read(sqlite_store: Database) -> None:
    store = sqlite_store
    store.predictions.insert_predictions([row("p0", NOW + 1), row("b0", NOW + 1, role="batch")])
    tail = LogTail(store, "m", NOW, lag_s=10.0, label_lag_s=10.0, clock=lambda: 0.0)
    tail.refresh(NOW + 3)
    store.predictions.insert_predictions([row("b1", NOW + 2, role="batch"),  # late, not held
                                          row("p1", NOW + 2.5)])  # late, held
    tail.refresh(NOW + 4)
    assert tail.ids == ["p0", "p1"]
    read = tail.rows_read
    tail.refresh(NOW + 5)  # the overlap's count matches what was seen: nothing re-read
    assert tail.rows_read == read
