"""The dead-letter place on both stores: hostile payloads stored safely, counted,
deduplicated, buffered while the store is down."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from rampup.runtime import DeadLetters
from rampup.store import Database

HOSTILE: list[Any] = [
    {"age": 10**30, "region": "\ud800"},
    {"credit_score": int("9" * 401)},
    "text with a NUL \x00 and a surrogate \udfff",
    b"\xff\xfe raw bytes",
    {"deep": [[[[[[[[[[["x"]]]]]]]]]]]},
]


def test_hostile_payloads_are_stored_safely_and_counted(store: Database) -> None:
    registry = CollectorRegistry()
    dl = DeadLetters(store, registry=registry, replica="host:1")
    for i, payload in enumerate(HOSTILE):
        dl.add("log-writer", TypeError(f"bad value \ud800 #{i}"), payload, key=f"id-\x00{i}",
               model="m")
    assert dl.stats.stored == len(HOSTILE)
    assert dl.stats.pending == 0
    rows = store.dead_letters.list_dead_letters(worker="log-writer")
    assert len(rows) == len(HOSTILE)
    newest = rows[0]
    assert newest["key"] == "id-\\x004"
    assert newest["model"] == "m"
    assert newest["replica"] == "host:1"
    by_key = {r["key"]: r for r in rows}
    first = by_key["id-\\x000"]
    assert "<int" not in first["payload"]
    assert "1000000000000000000000000000000" in first["payload"]
    assert "\\ud800" in first["payload"]
    assert first["reason"].startswith("TypeError: bad value")
    assert "<int of 401 digits>" in by_key["id-\\x001"]["payload"]
    assert "\x00" not in by_key["id-\\x002"]["payload"]
    assert store.dead_letters.count_dead_letters() == {"log-writer": len(HOSTILE)}
    text = generate_latest(registry).decode()
    assert f'rampup_dead_letters_total{{worker="log-writer"}} {float(len(HOSTILE))}' in text


def test_big_payloads_are_capped_with_their_size_kept(store: Database) -> None:
    dl = DeadLetters(store)
    dl.add("monitor", "too big", {"blob": "x" * 100_000}, key="k")
    row = store.dead_letters.list_dead_letters()[0]
    assert len(row["payload"]) < 9000
    assert "cut at 8192" in row["payload"]
    assert row["payload_chars"] > 100_000


def test_the_same_failure_is_stored_once_but_always_counted(store: Database) -> None:
    now = [1000.0]
    dl = DeadLetters(store, clock=lambda: now[0], repeat_s=3600.0)
    for _ in range(5):  # a poisoned rollout judged every pass
        dl.add("rollout-controller", "ValueError: x", {"id": 1}, key="rollout#1")
    dl.add("rollout-controller", "ValueError: y", {"id": 1}, key="rollout#1")
    assert (dl.stats.added, dl.stats.stored, dl.stats.suppressed) == (6, 2, 4)
    now[0] += 3600.0
    dl.add("rollout-controller", "ValueError: x", {"id": 1}, key="rollout#1")
    assert dl.stats.stored == 3
    assert len(store.dead_letters.list_dead_letters(since=0.0)) == 3
    assert len(store.dead_letters.list_dead_letters(since=4000.0)) == 1
    assert store.dead_letters.delete_dead_letters(before=4000.0) == 2


class DownStore:
    """A store whose server is unreachable until ``up`` is set (then it writes through)."""

    def __init__(self, real: Database) -> None:
        self.real = real
        self.up = False
        self.dead_letters = self

    def add_dead_letters(self, rows: Sequence[dict[str, Any]]) -> int:
        if not self.up:
            raise sa.exc.OperationalError("INSERT", {}, ConnectionRefusedError("refused"))
        return self.real.dead_letters.add_dead_letters(rows)


def test_dead_letters_wait_while_the_store_is_down(sqlite_store: Database) -> None:
    down = DownStore(sqlite_store)
    dl = DeadLetters(down, max_pending=3)  # type: ignore[arg-type]
    for i in range(5):
        dl.add("review-writer", "DataError", {"i": i}, key=str(i))
    assert dl.stats.pending == 3
    assert dl.stats.lost == 2
    assert dl.stats.added == 5
    assert not dl.flush()
    down.up = True
    assert dl.flush()
    assert [r["key"] for r in sqlite_store.dead_letters.list_dead_letters()] == ["2", "1", "0"]


def test_a_flood_is_counted_but_only_so_much_is_stored(sqlite_store: Database) -> None:
    now = [0.0]
    registry = CollectorRegistry()
    dl = DeadLetters(sqlite_store, clock=lambda: now[0], max_per_minute=5, registry=registry)
    for i in range(50):  # a systemic failure: every record of a big batch, all different
        dl.add("monitor", "ValueError: broken", {"i": i}, key=f"r{i}")
    dl.add("log-writer", "TypeError: x", {}, key="other")  # another worker has its own quota
    assert len(sqlite_store.dead_letters.list_dead_letters(worker="monitor", limit=100)) == 5
    assert len(sqlite_store.dead_letters.list_dead_letters(worker="log-writer")) == 1
    assert (dl.stats.added, dl.stats.suppressed) == (51, 45)
    assert 'rampup_dead_letters_total{worker="monitor"} 50.0' in \
        generate_latest(registry).decode()
    now[0] = 61.0
    dl.add("monitor", "ValueError: broken", {}, key="later")
    assert len(sqlite_store.dead_letters.list_dead_letters(worker="monitor", limit=100)) == 6
