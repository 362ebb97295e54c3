"""Windows repository contract: the monitor's snapshots, one row per replica and window,
replaced whole.

Every test runs against SQLite and the real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from typing import Any

from rampup.store import Database
from rampup.store.windows import WindowStamp


def window(start: float, *, replica: str = "r1", version: str = "v1", role: str = "answer",
           stage: str = "", updated: float | None = None, n: int = 1) -> dict[str, Any]:
    return {"model": "m", "version": version, "role": role, "stage": stage,
            "window_start": start, "replica": replica, "window_s": 60.0,
            "updated_at": start + 60 if updated is None else updated,
            "data": {"requests": n, "latency": {"p50": 1.5}}}


def test_upsert_replaces_the_replicas_row_whole(store: Database) -> None:
    assert store.windows.upsert_metric_windows([]) == 0
    assert store.windows.upsert_metric_windows([window(0.0), window(0.0, replica="r2")]) == 2
    assert store.windows.upsert_metric_windows([window(0.0, n=7, updated=500.0)]) == 1
    row = store.windows.metric_window("m", "v1", "answer", "", 0.0, "r1")
    assert row is not None
    assert (row["data"], row["updated_at"]) == ({"requests": 7, "latency": {"p50": 1.5}}, 500.0)
    other = store.windows.metric_window("m", "v1", "answer", "", 0.0, "r2")
    assert other is not None
    assert other["data"]["requests"] == 1
    assert store.windows.metric_window("m", "v1", "answer", "", 60.0, "r1") is None


def test_reads_by_time_range_and_key(store: Database) -> None:
    store.windows.upsert_metric_windows([
        window(120.0), window(0.0), window(60.0, version="v2", role="shadow"),
        window(60.0, stage="pipe/1"), window(180.0, replica="r2")])
    rows = store.windows.metric_windows("m", since=0.0, until=180.0)
    assert [r["window_start"] for r in rows] == [0.0, 60.0, 60.0, 120.0]  # oldest first
    assert len(store.windows.metric_windows("m", since=60.0, until=120.0)) == 2
    assert [r["version"] for r in store.windows.metric_windows(
        "m", since=0.0, until=999.0, role="shadow")] == ["v2"]
    assert [r["window_start"] for r in store.windows.metric_windows(
        "m", since=0.0, until=999.0, replica="r2")] == [180.0]
    assert store.windows.metric_windows("other", since=0.0, until=999.0) == []
    assert store.windows.metric_window_keys("m", since=60.0) == [
        ("v1", "answer", ""), ("v1", "answer", "pipe/1"), ("v2", "shadow", "")]


def test_stamps_say_which_rows_changed_without_their_data(store: Database) -> None:
    store.windows.upsert_metric_windows([window(0.0, updated=70.0),
                                         window(60.0, stage="pipe/1", updated=130.0)])
    assert store.windows.metric_window_stamps("m", since=0.0, until=120.0) == [
        WindowStamp("v1", "answer", 0.0, "r1", 70.0),
        WindowStamp("v1", "answer", 60.0, "r1", 130.0)]
    assert store.windows.metric_window_stamps("m", since=0.0, until=120.0, stage="") == [
        WindowStamp("v1", "answer", 0.0, "r1", 70.0)]


def test_retention_drops_old_windows(store: Database) -> None:
    store.windows.upsert_metric_windows([window(0.0), window(60.0), window(120.0)])
    assert store.windows.delete_metric_windows(before=100.0) == 2
    assert [r["window_start"] for r in store.windows.metric_windows(
        "m", since=0.0, until=999.0)] == [120.0]
