"""The bucket cache: the JSON-level merge equals the monitor's merge, unchanged buckets
are reused, changed and live windows are not."""

from __future__ import annotations

from typing import Any

from rampup.dashboard.cache import BucketCache, decode_bucket, grouped_buckets
from rampup.dashboard.panels import Grid
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.ingest import ingest
from rampup.store import Database
from tests.monitor.helpers import info, make_records, register


def _windows(n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        agg = WindowAggregate()
        recs = make_records(40, seed=k, shift=k * 0.5, t0=1_000_000.0 + 60 * k)
        agg.requests = len(recs)
        ingest(agg, recs, info())
        out.append(agg.to_dict())
    return out


def test_json_merge_equals_the_monitor_merge() -> None:
    docs = _windows(4)
    docs[2]["inputs"]["features"]["x"]["hist"]["edges"][1] = -99.0  # other bins
    docs[3]["inputs"]["features"]["k"]["kind"] = "categorical"  # changed kind: skipped
    expected = WindowAggregate()
    for d in docs:
        expected.merge(WindowAggregate.from_dict(d))
    got = decode_bucket(docs, {"inputs", "output", "repeats", "events", "performance"})
    assert got.to_dict() == expected.to_dict()
    assert got.features["x"].hist is None
    light = decode_bucket(docs, set())
    assert light.features == {}
    assert light.requests == expected.requests


def _rows(docs: list[dict[str, Any]], t0: float, updated: float) -> list[dict[str, Any]]:
    return [{"model": "m", "version": "v1", "role": "answer", "stage": "",
             "window_start": t0 + 60 * i, "window_s": 60.0, "replica": "r1",
             "updated_at": updated, "data": d} for i, d in enumerate(docs)]


def test_unchanged_buckets_come_from_the_cache(sqlite_store: Database) -> None:
    register(sqlite_store)
    docs = _windows(6)
    t0 = 1_000_020.0 - 1_000_020.0 % 60
    sqlite_store.windows.upsert_metric_windows(_rows(docs, t0, 1.0))
    grid = Grid(t0, 120.0, 3)
    cache = BucketCache(capacity=100)
    first = grouped_buckets(sqlite_store, "m", grid, t0 + 360, None, cache=cache)
    assert list(first) == [("v1", "answer")]
    assert cache.misses == 3
    assert len(cache) == 3
    again = grouped_buckets(sqlite_store, "m", grid, t0 + 360, None, cache=cache)
    assert cache.hits == 3
    assert again[("v1", "answer")][0] is first[("v1", "answer")][0]
    sqlite_store.windows.upsert_metric_windows(_rows(docs[:1], t0, 2.0))  # labels came for one
    third = grouped_buckets(sqlite_store, "m", grid, t0 + 360, None, cache=cache)
    assert cache.misses == 4
    assert third[("v1", "answer")][0] is not first[("v1", "answer")][0]
    assert third[("v1", "answer")][0].requests == first[("v1", "answer")][0].requests
    tiny = BucketCache(capacity=2)
    grouped_buckets(sqlite_store, "m", grid, t0 + 360, None, cache=tiny)
    assert len(tiny) == 2
    uncached = grouped_buckets(sqlite_store, "m", grid, t0 + 360, {"inputs"})
    assert uncached[("v1", "answer")][2].requests == first[("v1", "answer")][2].requests


def test_window_stamps_on_both_stores(store: Database) -> None:
    register(store)
    docs = _windows(2)
    store.windows.upsert_metric_windows(_rows(docs, 600.0, 5.0))
    store.windows.upsert_metric_windows([{**_rows(docs[:1], 600.0, 7.0)[0], "stage": "asr"}])
    stamps = store.windows.metric_window_stamps("m", since=0.0, until=700.0, stage="")
    assert [tuple(s) for s in stamps] == [("v1", "answer", 600.0, "r1", 5.0),
                                         ("v1", "answer", 660.0, "r1", 5.0)]
    assert len(store.windows.metric_window_stamps("m", since=0.0, until=700.0)) == 3
    assert store.windows.metric_window_stamps("m", since=661.0, until=700.0) == []
