from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import sqlalchemy as sa

from rampup.predlog.writer import LogWriter, PredictionRecord
from rampup.store import Database


def rec(i: int, model: str = "m") -> PredictionRecord:
    return PredictionRecord(f"id-{i}", f"id-{i}", time.time(), model, "v1", "answer",
                            {"x": i, "arr": [1, 2]}, {"prediction": i % 2}, 0.9, 1.5)


def test_writes_everything_and_drains_on_stop(store: Database) -> None:
    writer = LogWriter(store, batch_size=50, flush_interval=0.05).start()
    for i in range(0, 500, 10):
        assert writer.try_submit([rec(j) for j in range(i, i + 10)])
    writer.stop()
    assert store.predictions.count_predictions("m") == 500
    assert writer.stats.written == 500
    assert writer.stats.dropped == 0
    row = store.predictions.get_predictions(["id-7"])[0]
    assert orjson.loads(row["inputs"]) == {"x": 7, "arr": [1, 2]}
    assert orjson.loads(row["outputs"]) == {"prediction": 1}


def test_flush_makes_records_visible_and_pending_is_tracked(sqlite_store: Database) -> None:
    writer = LogWriter(sqlite_store, flush_interval=10.0).start()
    writer.try_submit([rec(1)])
    assert writer.is_pending("id-1")
    assert writer.flush(5.0)
    assert not writer.is_pending("id-1")
    assert sqlite_store.predictions.existing_prediction_ids(["id-1"]) == {"id-1"}
    writer.stop()


def test_full_queue_drops_are_counted_never_silent(sqlite_store: Database) -> None:
    writer = LogWriter(sqlite_store, queue_size=10, block_timeout=0.01)  # not started: no drain
    assert writer.try_submit([rec(i) for i in range(10)])
    assert not writer.try_submit([rec(11)])
    assert asyncio.run(writer.submit_async([rec(12), rec(13)])) is False
    assert writer.stats.dropped == 2
    writer.start()
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 10


def test_submit_async_waits_for_room(sqlite_store: Database) -> None:
    writer = LogWriter(sqlite_store, queue_size=10, block_timeout=2.0, flush_interval=0.01)
    writer.try_submit([rec(i) for i in range(10)])

    async def go() -> bool:
        asyncio.get_running_loop().call_later(0.05, writer.start)
        return await writer.submit_async([rec(99)])

    assert asyncio.run(go()) is True
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 11
    assert writer.stats.dropped == 0


def test_blocking_submit_loses_nothing(sqlite_store: Database) -> None:
    writer = LogWriter(sqlite_store, queue_size=20, batch_size=7, flush_interval=0.01).start()
    assert writer.submit_blocking([rec(i) for i in range(300)])
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 300


def test_duplicate_ids_are_skipped_and_counted(sqlite_store: Database) -> None:
    writer = LogWriter(sqlite_store, flush_interval=0.01).start()
    writer.try_submit([rec(1)])
    writer.flush()
    writer.try_submit([rec(1), rec(2), rec(3)])
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 3
    assert writer.stats.duplicates == 1
    assert writer.stats.written == 3


def test_store_outage_is_retried_without_loss(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    store = Database.open(url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE predictions RENAME TO predictions_away"))
    writer = LogWriter(store, flush_interval=0.01, retry_backoff=0.01).start()
    writer.try_submit([rec(i) for i in range(5)])
    deadline = time.time() + 5
    while writer.stats.retries < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert writer.stats.retries >= 2
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE predictions_away RENAME TO predictions"))
    assert writer.flush(5.0)
    writer.stop()
    assert store.predictions.count_predictions() == 5
    store.close()
