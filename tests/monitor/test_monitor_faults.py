"""The monitor survives any record: one that breaks an update is dead-lettered alone, a
window holding unstorable text is stored escaped, a crash is restarted (both stores)."""

from __future__ import annotations

import time

import pytest

from rampup.monitor.loop import MonitorLoop
from rampup.monitor.query import StoreMetricSource
from rampup.monitor.recorder import Monitor
from rampup.runtime import Backoff, DeadLetters, Supervisor
from rampup.store import Database
from tests.monitor.helpers import make_records, register

FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.0)


def test_hostile_records_are_isolated_and_windows_stay_writable(store: Database) -> None:
    register(store)
    mon = Monitor(store, replica="r1", dead_letters=DeadLetters(store))
    recs = make_records(40, seed=1, t0=time.time())
    recs[3].inputs = {**recs[3].inputs, "x": int("9" * 401)}  # breaks the float update
    recs[7].inputs = {**recs[7].inputs, "city": "\ud800"}  # a category no JSON can hold
    recs[12].outputs = {"prediction": "\ud800"}
    mon.offer(recs)
    mon.process()
    assert mon.flush() >= 1
    mon.offer(make_records(10, seed=2, t0=time.time()))  # later rounds go on as usual
    mon.process()
    mon.flush()
    assert StoreMetricSource(store).value("m", "predictions", window_s=600) == 49
    letters = {r["key"]: r for r in store.dead_letters.list_dead_letters(worker="monitor")}
    assert "OverflowError" in letters[recs[3].id]["reason"]
    (window,) = [r for k, r in letters.items() if k.startswith("m/v1/answer/")]
    assert "surrogates not allowed" in window["reason"]
    assert "inputs.features.city.cats.counts.\\\\ud800" in window["payload"]
    row = store.windows.metric_windows("m", since=0, until=time.time() + 120)[0]
    assert row["data"]["inputs"]["features"]["city"]["cats"]["counts"]["\\ud800"] == 1
    assert mon.stats.windows_lost == 0
    assert mon.stats.dead_letters == 2


def test_a_monitor_worker_that_dies_is_restarted(sqlite_store: Database,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    register(sqlite_store)
    mon = Monitor(sqlite_store, replica="r1")
    real = mon.process
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise KeyError("a bug in a round")
        return real()

    monkeypatch.setattr(mon, "process", failing)
    sup = Supervisor(backoff=FAST)
    loop = MonitorLoop(mon, tick=0.01, flush_interval=0.02).start(sup)
    mon.offer(make_records(20, seed=1, t0=time.time()))
    deadline = time.monotonic() + 30
    while not sqlite_store.windows.metric_windows("m", since=0, until=time.time() + 60):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop.stop()
    assert sup.health()["monitor"]["restarts"] == 2
    assert StoreMetricSource(sqlite_store).value("m", "predictions", window_s=600) == 20
