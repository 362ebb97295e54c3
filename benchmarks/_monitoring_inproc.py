"""In-process parts of the monitoring benchmark: memory over a million predictions, the
cost of one snapshot flush, and the per-record cost of the monitor's work.

Records look like what the predict route hands the monitor for the benchmark model: 16
numeric inputs (256 real rows in turn), the response item, a confidence, a latency and a
request key (one of 50,000 users, so the repeat detector's key limit is reached).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd
import psutil

from rampup.monitor.recorder import Monitor
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import compute_profile, infer_schema
from rampup.store import Database, VersionRecord

MODEL = "loan-default"
USERS = 50_000


class SimClock:
    """Simulated time: predictions arrive every ``dt`` seconds."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def register(store: Database, frame: pd.DataFrame, features: list[str],
             versions: tuple[str, ...] = ("v1",)) -> None:
    schema = infer_schema(frame[features])
    profile = compute_profile(frame, schema, "y")
    store.models.ensure_model(MODEL)
    for v in versions:
        if store.models.get_version(MODEL, v) is None:
            store.models.add_version(VersionRecord(
                MODEL, v, store.models.next_version_seq(MODEL), "sklearn", "-", f"sha256:{v}",
                schema.to_dict(), {"kind": "class", "classes": [0, 1],
                                   "has_probabilities": True}, profile, {}, 0.0, "bench"))


def records(rows: list[dict[str, Any]], start: int, n: int, t0: float, dt: float,
            version: str = "v1", role: str = "answer") -> Iterator[list[PredictionRecord]]:
    """One list per request (one record each), as the predict route offers them."""
    rng = np.random.default_rng(start)
    p1 = rng.random(n)
    users = rng.integers(0, USERS, n)
    lat = rng.gamma(2.0, 0.4, n)
    for i in range(n):
        k = start + i
        p = float(p1[i])
        rid = f"r{k:012d}"
        item = {"prediction": int(p >= 0.5), "probabilities": {"0": 1.0 - p, "1": p},
                "confidence": max(p, 1.0 - p), "id": rid}
        yield [PredictionRecord(rid, rid, t0 + k * dt, MODEL, version, role, rows[k % len(rows)],
                                item, max(p, 1.0 - p), float(lat[i]), None,
                                f"user{users[i]}")]


def _rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def memory(url: str, frame: pd.DataFrame, features: list[str], rows: list[dict[str, Any]],
           total: int, first: int = 10_000, rate: float = 1000.0) -> dict[str, Any]:
    """Feed ``total`` predictions at ``rate``/s of simulated time, processing every 0.5 s
    and flushing every 5 s as the monitor thread does; RSS after ``first`` and ``total``."""
    store = Database.open(url)
    register(store, frame, features)
    dt = 1.0 / rate
    base = 1_700_000_000.0
    clock = SimClock(base)
    mon = Monitor(store, clock=clock, replica="bench")
    per_tick, per_flush = int(0.5 * rate), int(5 * rate)
    marks: dict[int, dict[str, Any]] = {}
    done = 0
    t0 = time.perf_counter()
    busy = 0.0
    for start in range(0, total, per_tick):
        n = min(per_tick, total - start)
        for req in records(rows, start, n, base, dt):
            mon.offer(req)
        done += n
        clock.t += n * dt
        b0 = time.perf_counter()
        mon.process()
        if done % per_flush == 0 or done == total:
            mon.flush()
        busy += time.perf_counter() - b0
        if done in (first, total):
            marks[done] = {"predictions": done, "rss_mb": _rss_mb(),
                           "windows": mon.windows_in_memory(), "repeat_keys": len(mon.repeats),
                           "window_json_kb": sum(len(orjson.dumps(a.to_dict()))
                                                 for a in mon.snapshot().values()) / 1024}
    store.close()
    return {"total": total, "rate_per_s": rate, "seconds": time.perf_counter() - t0,
            "monitor_us_per_record": 1e6 * busy / total, "marks": [marks[first], marks[total]],
            "rows_written": mon.stats.rows_written}


def flush_cost(url: str, frame: pd.DataFrame, features: list[str], rows: list[dict[str, Any]],
               repeats: int = 20) -> dict[str, Any]:
    """One flush of a replica serving two versions, each answering and shadowing (4 windows
    of 16 features): median time of ``repeats`` flushes, each after fresh traffic."""
    store = Database.open(url)
    register(store, frame, features, ("v1", "v2"))
    clock = SimClock(1_700_000_000.0)
    mon = Monitor(store, clock=clock, replica="bench")
    times = []
    for k in range(repeats + 1):
        for v, role in (("v1", "answer"), ("v2", "answer"), ("v1", "shadow"), ("v2", "shadow")):
            for req in records(rows, k * 1000, 250, clock.t, 0.001, v, role):
                mon.offer(req)
        mon.process()
        t = time.perf_counter()
        written = mon.flush()
        if k:  # the first flush inserts; the rest update, as in steady state
            times.append(time.perf_counter() - t)
        assert written == 4, written
    size = sum(len(orjson.dumps(a.to_dict())) for a in mon.snapshot().values())
    store.close()
    backend = url.split(":", 1)[0].split("+", 1)[0]
    return {"backend": backend, "windows": 4, "median_ms": 1e3 * statistics.median(times),
            "max_ms": 1e3 * max(times), "json_kb": size / 1024}


def hot_path_cost(rows: list[dict[str, Any]], n: int = 200_000) -> dict[str, Any]:
    """What serving pays per request: :meth:`Monitor.offer` (a deque append)."""
    mon = Monitor(None, replica="bench", max_pending=n + 1)  # type: ignore[arg-type]
    reqs = list(records(rows, 0, n, 1_700_000_000.0, 0.001))
    t = time.perf_counter()
    for req in reqs:
        mon.offer(req)
    return {"offer_ns": 1e9 * (time.perf_counter() - t) / n}
