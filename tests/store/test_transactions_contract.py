"""The store's unit of work: repository calls inside ``db.transaction()`` (same thread)
share one transaction, see their own writes and commit or roll back together; other
threads and other databases are unaffected. And the composition root holds no data
methods of its own.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from rampup.store import Database
from rampup.store.database import Database as DatabaseClass
from tests.store.rows import label, pred


def test_a_unit_of_work_commits_across_repositories(store: Database) -> None:
    with store.transaction():
        store.models.ensure_model("m")
        store.predictions.insert_predictions([pred(0)])
        store.feedback.add_feedback([label("p00000", 1)])
        store.events.add_event("ops", "relabel", model="m")
        # reads inside the unit see its writes
        assert store.predictions.count_predictions("m") == 1
        assert len(store.feedback.list_feedback("p00000")) == 1
    assert store.models.get_model("m") is not None
    assert [e.action for e in store.events.list_events("m")] == ["relabel"]


def test_a_failure_anywhere_rolls_the_whole_unit_back(store: Database) -> None:
    store.models.ensure_model("m")

    def unit() -> None:
        with store.transaction():
            store.predictions.insert_predictions([pred(0)])
            store.feedback.add_feedback([label("p00000", 1)])
            store.deployments.append_deployment("m", {"routes": {"v1": 100}}, "ops")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        unit()
    assert store.predictions.count_predictions() == 0
    assert store.feedback.list_feedback("p00000") == []
    assert store.deployments.current_deployment("m") is None
    assert store.events.list_events("m") == []


def test_other_threads_do_not_join_an_open_unit(store: Database) -> None:
    store.models.ensure_model("m")
    seen: list[int] = []

    def other() -> None:  # its own connection: the uncommitted row is invisible
        seen.append(store.predictions.count_predictions("m"))

    def unit() -> None:
        with store.transaction():
            store.predictions.insert_predictions([pred(0)])
            t = threading.Thread(target=other)
            t.start()
            t.join()
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError, match="undo"):
        unit()
    assert seen == [0]
    store.predictions.insert_predictions([pred(1)])  # the store still works afterwards
    assert store.predictions.count_predictions("m") == 1


def test_units_of_two_databases_are_independent(store: Database, tmp_path: Path) -> None:
    other = Database.open(f"sqlite:///{tmp_path / 'other.db'}")

    def unit() -> None:
        with store.transaction():
            store.models.ensure_model("m")
            other.models.ensure_model("kept")  # commits on its own database
            raise RuntimeError("undo")

    try:
        with pytest.raises(RuntimeError, match="undo"):
            unit()
        assert store.models.get_model("m") is None
        assert other.models.get_model("kept") is not None
    finally:
        other.close()


def test_nested_units_are_one(store: Database) -> None:
    def unit() -> None:
        with store.transaction() as outer:
            with store.transaction() as inner:
                assert inner is outer
                store.models.ensure_model("m")
            raise RuntimeError("outer")

    with pytest.raises(RuntimeError, match="outer"):
        unit()
    assert store.models.list_models() == []


def test_the_database_holds_repositories_not_data_methods() -> None:
    public = {n for n in vars(DatabaseClass) if not n.startswith("_")}
    assert public == {"open", "dialect", "transaction", "reads", "close", "ping"}
    assert set(DatabaseClass.__annotations__) == {
        "models", "evaluations", "deployments", "rollouts", "predictions", "feedback",
        "partitions", "events", "windows", "alerts", "retrain", "review", "automation",
        "dead_letters", "credentials"}


async def test_a_thread_given_a_copy_of_the_context_does_not_join(store: Database) -> None:
    def count() -> int:
        return store.predictions.count_predictions("m")

    with store.transaction():
        store.predictions.insert_predictions([pred(0)])
        # asyncio.to_thread copies this context into its worker thread
        assert await asyncio.to_thread(count) == 0
        assert count() == 1
    assert await asyncio.to_thread(count) == 1


def test_reads_share_one_connection_and_writes_still_commit(store: Database) -> None:
    import sqlalchemy as sa

    store.models.ensure_model("m")
    store.predictions.insert_predictions([pred(0)])
    checkouts: list[object] = []

    def checkout(*args: object) -> None:
        checkouts.append(args)

    sa.event.listen(store.engine, "checkout", checkout)
    try:
        with store.reads():
            for _ in range(3):
                assert store.predictions.count_predictions("m") == 1
            assert len(checkouts) == 1
            # a write inside is its own transaction, committed at once
            store.predictions.insert_predictions([pred(1)])
            assert store.predictions.count_predictions("m") == 2
            other: list[int] = []
            t = threading.Thread(target=lambda: other.append(
                store.predictions.count_predictions("m")))
            t.start()
            t.join()
            assert other == [2]  # another thread reads through its own connection
            # a read that fails does not take the later ones down with it (on PostgreSQL
            # a failed statement aborts the transaction it ran in)
            with pytest.raises(sa.exc.DBAPIError), store.tx.reading() as conn:
                conn.execute(sa.text("SELECT * FROM no_such_table"))
            assert store.predictions.count_predictions("m") == 2
        assert store.predictions.count_predictions("m") == 2
    finally:
        sa.event.remove(store.engine, "checkout", checkout)
