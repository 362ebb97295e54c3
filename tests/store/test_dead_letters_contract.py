"""DeadLetters repository contract: what background workers could not write.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from typing import Any

from rampup.store import Database


def letter(ts: float, worker: str = "log-writer", **extra: Any) -> dict[str, Any]:
    return {"ts": ts, "worker": worker, "reason": "DataError: NUL", "key": f"id-{ts:g}",
            "model": "m", "payload": '{"x": "\\u0000"}', "payload_chars": 14, "replica": "r1",
            **extra}


def test_letters_are_listed_newest_first_counted_and_aged_out(store: Database) -> None:
    assert store.dead_letters.add_dead_letters([]) == 0
    assert store.dead_letters.add_dead_letters([
        letter(1.0), letter(2.0, "review-writer", model=None), letter(3.0),
        letter(4.0, replica="r2")]) == 4
    rows = store.dead_letters.list_dead_letters()
    assert [r["ts"] for r in rows] == [4.0, 3.0, 2.0, 1.0]
    assert (rows[0]["replica"], rows[1]["replica"]) == ("r2", "r1")
    assert [r["key"] for r in store.dead_letters.list_dead_letters(worker="review-writer")] == [
        "id-2"]
    assert len(store.dead_letters.list_dead_letters(model="m")) == 3
    assert [r["ts"] for r in store.dead_letters.list_dead_letters(since=2.0, until=4.0)] == [
        3.0, 2.0]
    assert len(store.dead_letters.list_dead_letters(limit=1)) == 1
    assert store.dead_letters.count_dead_letters() == {"log-writer": 3, "review-writer": 1}
    assert store.dead_letters.count_dead_letters(since=3.0) == {"log-writer": 2}
    assert store.dead_letters.delete_dead_letters(before=3.0) == 2
    assert [r["ts"] for r in store.dead_letters.list_dead_letters()] == [4.0, 3.0]
