"""The log writer survives any record: hostile values never stop logging, a bad record
never costs its batch, a crash never loses what was queued (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from rampup.predlog.writer import LogWriter, PredictionRecord
from rampup.runtime import Backoff, DeadLetters, Supervisor
from rampup.store import Database

FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.0)


def rec(i: int, **inputs: Any) -> PredictionRecord:
    return PredictionRecord(f"id-{i}", f"id-{i}", time.time(), "m", "v1", "answer",
                            {"x": i, **inputs}, {"prediction": i % 2}, 0.9, 1.5)


HOSTILE = {
    5: {"age": 10**30},  # the BOM + huge int reproducer's value
    11: {"credit_score": int("9" * 401)},
    17: {"region": "\ud800"},
    23: {"note": "nul \x00 inside"},
}


def batch_with_hostile_records() -> list[PredictionRecord]:
    out = [rec(i, **HOSTILE.get(i, {})) for i in range(30)]
    out[29].request_key = "key\x00with nul"  # PostgreSQL text cannot hold NUL
    return out


def test_hostile_records_never_cost_the_batch(store: Database) -> None:
    dead = DeadLetters(store)
    writer = LogWriter(store, flush_interval=0.01, dead_letters=dead).start(
        Supervisor(backoff=FAST))
    assert writer.try_submit(batch_with_hostile_records())
    assert writer.flush(30.0)
    after = [rec(100 + i) for i in range(20)]
    writer.try_submit(after)
    writer.stop()
    # every record is in the log: the bad ones with the offending values escaped
    assert store.predictions.count_predictions("m") == 50
    rows = {r["id"]: r for r in store.predictions.get_predictions([f"id-{i}" for i in range(30)])}
    assert orjson.loads(rows["id-5"]["inputs"])["age"] == 1e30
    assert orjson.loads(rows["id-11"]["inputs"])["credit_score"] == "<int of 401 digits>"
    assert orjson.loads(rows["id-17"]["inputs"])["region"] == "\\ud800"
    assert orjson.loads(rows["id-23"]["inputs"])["note"] == "nul \x00 inside"  # JSON-escaped
    # and each is a dead letter, with the reason and what was changed
    letters = {r["key"]: r for r in store.dead_letters.list_dead_letters(worker="log-writer")}
    assert {"id-5", "id-11", "id-17"} <= set(letters)
    assert "Integer exceeds 64-bit range" in letters["id-5"]["reason"]
    assert "stored with escaped values at inputs.age" in letters["id-5"]["reason"]
    assert "inputs.region" in letters["id-17"]["reason"]
    assert "1000000000000000000000000000000" in letters["id-5"]["payload"]
    if store.dialect == "postgresql":
        assert "stored with escaped values at request_key" in letters["id-29"]["reason"]
        assert rows["id-29"]["request_key"] == "key\\x00with nul"
    assert writer.stats.dead_letters == len(letters)
    assert writer.stats.dropped == 0
    assert writer.stats.failed == 0


class RefusingStore:
    """Refuses one id even when escaped (a value no repair can make storable)."""

    def __init__(self, real: Database, refused: str) -> None:
        self.real = real
        self.refused = refused
        self.predictions = self  # the writer's two repositories
        self.dead_letters = real.dead_letters

    def insert_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        if any(r["id"] == self.refused for r in rows):
            raise ValueError(f"row {self.refused} refused")
        return self.real.predictions.insert_predictions(rows)


def test_a_record_the_store_never_takes_is_only_a_dead_letter(sqlite_store: Database) -> None:
    fake = RefusingStore(sqlite_store, "id-3")
    writer = LogWriter(fake, flush_interval=0.01,  # type: ignore[arg-type]
                       dead_letters=DeadLetters(sqlite_store)).start(Supervisor(backoff=FAST))
    writer.try_submit([rec(i) for i in range(10)])
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 9
    (letter,) = sqlite_store.dead_letters.list_dead_letters()
    assert letter["key"] == "id-3"
    assert letter["reason"] == "ValueError: row id-3 refused; not stored"
    assert writer.stats.written == 9
    assert writer.stats.duplicates == 0


def test_a_writer_that_dies_is_restarted_and_loses_nothing(
        sqlite_store: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sqlite_store.predictions.insert_predictions
    calls: list[int] = []

    def crashing(rows: Sequence[dict[str, Any]]) -> int:
        calls.append(len(rows))
        if len(calls) <= 2:
            raise KeyError("a bug, not the data")  # fatal: the worker dies
        return real(rows)

    monkeypatch.setattr(sqlite_store.predictions, "insert_predictions", crashing)
    sup = Supervisor(backoff=FAST)
    writer = LogWriter(sqlite_store, flush_interval=0.01).start(sup)
    writer.try_submit([rec(i) for i in range(40)])
    assert writer.flush(30.0)
    writer.stop()
    assert sqlite_store.predictions.count_predictions() == 40
    assert sup.health()["log-writer"]["restarts"] == 2
    assert "KeyError" in (sup.health()["log-writer"]["last_error"] or "")
    assert writer.stats.dead_letters == 0
