"""The Monitor with an injected clock and the real store (SQLite and PostgreSQL): window
rollover, snapshots, replicas merged by readers, late labels, bounded memory."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.ingest import ingest
from rampup.monitor.loop import MonitorLoop
from rampup.monitor.query import StoreMetricSource
from rampup.monitor.recorder import Monitor, Samples
from rampup.predlog.feedback import FeedbackItem, to_records
from rampup.predlog.writer import PredictionRecord
from rampup.store import Database
from tests.monitor.helpers import info, make_records, register

W0 = 1_000_020.0  # a window start (60 s windows)
T0 = W0 + 20.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def starts(records: list[PredictionRecord]) -> dict[float, int]:
    out: dict[float, int] = {}
    for r in records:
        s = math.floor(r.ts / 60) * 60
        out[s] = out.get(s, 0) + 1
    return out


def test_window_rollover_flush_and_eviction(store: Database) -> None:
    register(store)
    clock = Clock(T0)
    mon = Monitor(store, window_s=60, keep_s=120, clock=clock, replica="r1")
    records = make_records(1500, seed=1, dt=0.1)  # 150 s: three windows
    for i in range(0, len(records), 7):
        mon.offer(records[i:i + 7])
    mon.process()
    assert mon.windows_in_memory() == 3
    assert mon.stats.processed == 1500
    assert mon.flush() == 3
    assert mon.flush() == 0  # nothing changed since
    rows = store.windows.metric_windows("m", since=0, until=2e6)
    assert [r["window_start"] for r in rows] == sorted(starts(records))
    assert {r["replica"] for r in rows} == {"r1"}

    clock.t = T0 + 150 + 60 + 121  # every window closed more than keep_s ago
    mon.flush()
    assert mon.windows_in_memory() == 0
    source = StoreMetricSource(store, clock=clock)
    series = source.series("m", "predictions", since=W0, until=W0 + 180, step_s=60)
    assert [v for _, v in series] == [float(n) for _, n in sorted(starts(records).items())]


def test_two_replicas_merge_like_one(store: Database) -> None:
    register(store)
    clock = Clock(T0 + 30)
    records = make_records(2000, seed=2, dt=0.01)  # one window
    a, b = (Monitor(store, clock=clock, replica=r) for r in ("a", "b"))
    rng = np.random.default_rng(0)
    for r in records:
        (a if rng.random() < 0.4 else b).offer([r])
    for m in (a, b):
        m.process()
        m.flush()
    source = StoreMetricSource(store, clock=clock)
    whole = WindowAggregate()
    ingest(whole, records, info())
    for metric in ("requests", "errors", "latency_p50", "latency_p99", "null_fraction",
                   "feature[x].mean", "feature[x].missing_fraction", "class_share[1]",
                   "feature[city].unseen_fraction", "confidence_p10"):
        from rampup.monitor.compute import metric_value

        assert source.value("m", metric, window_s=300, now=clock.t) == pytest.approx(
            metric_value(whole, metric, 1.0)), metric
    assert len(store.windows.metric_windows("m", since=0, until=2e6)) == 2


def test_late_labels_go_to_the_prediction_window(store: Database) -> None:
    register(store)
    clock = Clock(T0)
    mon = Monitor(store, clock=clock, keep_s=60, replica="r1")
    records = make_records(400, seed=3, dt=0.5, error_rate=0.0)  # ~200 s: 4 windows
    shadow = make_records(400, seed=3, dt=0.5, role="shadow", error_rate=0.0)
    for rec in shadow:  # the shadow answered the opposite class every time
        if rec.outputs and rec.outputs.get("prediction") is not None:
            rec.outputs = {**rec.outputs, "prediction": 1 - rec.outputs["prediction"]}
    store.predictions.insert_predictions([r.to_row() for r in records + shadow])
    mon.offer(records)
    mon.offer(shadow)
    mon.process()
    mon.flush()
    clock.t = T0 + 3 * 3600  # labels arrive three hours later
    mon.flush()
    assert mon.windows_in_memory() == 0

    first = [r for r in records if r.ts < W0 + 60]  # the first window only
    labels = {r.id: (r.outputs["prediction"] if i % 4 else 1 - (r.outputs["prediction"] or 0))
              for i, r in enumerate(first)}
    fb = [f for pid, y in labels.items()
          for f in to_records(FeedbackItem(request_id=pid, label=y), "m", clock.t)]
    fresh = store.feedback.add_feedback(fb)
    mon.feedback([f for f, new in zip(fb, fresh, strict=True) if new])
    mon.process()
    mon.flush()

    scored = [r for r in first if r.outputs["prediction"] is not None]
    exact = sum(labels[r.id] == r.outputs["prediction"] for r in scored) / len(scored)
    source = StoreMetricSource(store, clock=clock)
    window = {"since": W0, "until": W0 + 60, "step_s": 60.0}
    [(_, acc)] = source.series("m", "accuracy", **window)
    assert acc == pytest.approx(exact)
    [(_, n)] = source.series("m", "labelled", **window)
    assert n == len(first)
    [(_, shadow_acc)] = source.series("m", "accuracy", role="shadow", **window)
    assert shadow_acc == pytest.approx(1 - exact)
    later = source.series("m", "labelled", since=W0 + 60, until=W0 + 240, step_s=60)
    assert all(v == 0.0 for _, v in later)

    # a corrected label replaces the earlier one (here: the first wrong one made right)
    wrong = next(r for r in scored if labels[r.id] != r.outputs["prediction"])
    fix = to_records(FeedbackItem(request_id=wrong.id, label=wrong.outputs["prediction"]),
                     "m", clock.t)
    assert store.feedback.add_feedback(fix) == [True]
    mon.feedback(fix)
    mon.process()
    mon.flush()
    [(_, acc2)] = source.series("m", "accuracy", **window)
    assert acc2 == pytest.approx(exact + 1 / len(scored))
    [(_, n2)] = source.series("m", "labelled", **window)
    assert n2 == len(first)


def test_events_errors_drops_and_gauges(store: Database) -> None:
    register(store)
    clock = Clock(T0)
    mon = Monitor(store, clock=clock, replica="r1")
    records = make_records(100, seed=4, error_rate=0.0)
    store.predictions.insert_predictions([r.to_row() for r in records])
    mon.offer(records)
    mon.note_error("m", "v1", "invalid_input", 1.5)
    mon.note_error("m", "v1", "invalid_input", 2.5)
    mon.note_dropped("m", "v1", 3)
    ids = [r.id for r in records[:10]]
    fb = [f for pid in ids for f in to_records(
        FeedbackItem(request_id=pid, events=["clicked"]), "m", clock.t)]
    store.feedback.add_feedback(fb)
    mon.feedback(fb)
    mon.process()
    mon.sample(Samples(process={"in_flight": 4.0, "cpu_percent": 50.0},
                       versions={("m", "v1"): {"batch_queue_depth": 2.0}}))
    mon.sample(Samples(process={"in_flight": 2.0, "cpu_percent": 30.0}))
    mon.flush()
    src = StoreMetricSource(store, clock=clock)
    n = len({r.request_id for r in records})
    assert src.value("m", "requests", window_s=60) == n + 2
    assert src.value("m", "invalid_input_rate", window_s=60) == pytest.approx(2 / (n + 2))
    assert src.value("m", "log_dropped", window_s=60) == 3
    assert src.value("m", "event_rate[clicked]", window_s=60) == pytest.approx(10 / 100)
    assert src.value("m", "event_rate[switched_to_typing]", window_s=60) == 0.0
    assert src.value("m", "in_flight", window_s=60) == 3.0
    assert src.value("m", "batch_queue_depth", window_s=60) == 2.0
    assert src.value("m", "cpu_percent", window_s=60) == 40.0
    assert src.value("m", "memory_rss_mb", window_s=60) is None
    assert src.value("m", "requests", window_s=60, version="v2") is None
    assert src.value("m", "drift.feature[x].effect", window_s=60) is None


def test_throughput_and_live_overlay(store: Database) -> None:
    register(store)
    clock = Clock(W0 + 55)  # 55 s into the window holding 3000 records (30 s of them)
    mon = Monitor(store, clock=clock, replica="r1")
    records = make_records(3000, seed=5, dt=0.01)
    mon.offer(records)
    mon.process()
    n = len({r.request_id for r in records})
    stored = StoreMetricSource(store, clock=clock)
    assert stored.value("m", "requests", window_s=300) is None  # not flushed yet
    overlay = StoreMetricSource(store, monitor=mon, clock=clock)
    assert overlay.value("m", "requests", window_s=300) == n
    assert overlay.value("m", "throughput", window_s=300) == pytest.approx(n / 55.0)
    mon.flush()
    assert overlay.value("m", "requests", window_s=300) == n  # not counted twice
    assert stored.value("m", "requests", window_s=300) == n
    assert mon.live("m").requests == n
    assert mon.live("m", version="v9").requests == 0


def test_memory_stays_bounded(sqlite_store: Database) -> None:
    register(sqlite_store)
    clock = Clock(T0)
    mon = Monitor(sqlite_store, clock=clock, keep_s=0, max_pending=5, repeat_keys=50,
                  replica="r1")
    for i in range(8):
        mon.offer(make_records(100, seed=i, keys=1000, t0=T0 + 60 * i))
    assert mon.pending == 5
    assert mon.stats.dropped == 300
    mon.process()
    assert len(mon.repeats) == 50
    clock.t = T0 + 3600
    mon.flush()
    assert mon.windows_in_memory() == 0


def test_flush_failure_keeps_windows_until_the_store_is_back(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    broken = Database.open(url, migrate=False)  # no tables yet: every write fails
    clock = Clock(T0)
    mon = Monitor(broken, clock=clock, keep_s=0, replica="r1")
    mon.offer(make_records(50, seed=1))
    mon.process()
    clock.t = T0 + 3600
    assert mon.flush() == 0
    assert mon.stats.flush_errors == 1
    assert mon.windows_in_memory() == 1
    broken.close()
    fixed = Database.open(url)
    mon.store = fixed
    assert mon.flush() == 1
    assert mon.windows_in_memory() == 0
    fixed.close()


def test_unflushable_windows_are_capped(tmp_path: object) -> None:
    broken = Database.open(f"sqlite:///{tmp_path}/empty.db", migrate=False)
    clock = Clock(T0)
    mon = Monitor(broken, clock=clock, max_windows=3, replica="r1")
    mon.offer(make_records(500, seed=1, dt=1.0))  # 500 s: 9 windows
    mon.process()
    assert mon.flush() == 0
    assert mon.windows_in_memory() == 3
    assert mon.stats.windows_lost == 6
    assert {k.start for k in mon.snapshot()} == {W0 + 60 * i for i in (6, 7, 8)}  # newest
    broken.close()


def test_retention_cleanup(store: Database) -> None:
    clock = Clock(T0)
    mon = Monitor(store, clock=clock, retention_days=1, replica="r1")
    mon.offer(make_records(10, seed=1))
    mon.offer(make_records(10, seed=2, t0=T0 + 2 * 86_400))
    mon.process()
    mon.flush()
    clock.t = T0 + 2 * 86_400 + 10
    assert mon.cleanup() == 1
    assert [r["window_start"] for r in store.windows.metric_windows("m", since=0, until=1e7)] == [
        W0 + 2 * 86_400]


def test_loop_thread_processes_flushes_and_stops(sqlite_store: Database) -> None:
    register(sqlite_store)
    mon = Monitor(sqlite_store, replica="r1")
    loop = MonitorLoop(mon, sampler=lambda: Samples(process={"in_flight": 1.0}), tick=0.01,
                       flush_interval=0.02).start()
    mon.offer(make_records(20, seed=1, t0=time.time()))
    deadline = time.monotonic() + 5
    while not sqlite_store.windows.metric_windows("m", since=0, until=time.time() + 60):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    mon.offer(make_records(5, seed=2, t0=time.time()))
    loop.stop()
    src = StoreMetricSource(sqlite_store)
    assert src.value("m", "predictions", window_s=600) == 25
    assert mon.stats.failures == 0


def test_pipeline_stages_have_their_own_windows(sqlite_store: Database) -> None:
    register(sqlite_store)
    clock = Clock(T0 + 30)
    mon = Monitor(sqlite_store, clock=clock, replica="r1")
    whole = make_records(30, seed=1)
    vad = make_records(30, seed=2)
    for r in vad:
        r.stage = "vad"
    mon.offer(whole)
    mon.offer(vad[:12])  # the stage ended 12 requests early (no speech)
    mon.process()
    mon.flush()
    src = StoreMetricSource(sqlite_store, clock=clock)
    assert src.value("m", "predictions") == 30  # stage=None: the model's own records
    assert src.value("m", "predictions", stage="vad") == 12
    assert src.value("m", "predictions", stage="asr") is None
