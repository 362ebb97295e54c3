"""Snapshots: this replica's windows upserted into the store, and memory kept bounded.

A flush writes every window changed since the last flush, whole (the replica's row of a
window is replaced, never incremented, so a retried flush cannot double count). After
a flush, closed windows that are clean and untouched for ``keep_s`` leave memory; a late
label for one of them loads the stored row back (:meth:`Monitor._ensure_loaded`). If the
store stays unreachable, dirty windows are kept up to ``max_windows``, then the oldest
are dropped and counted (``stats.windows_lost``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rampup.monitor.aggregates import WindowAggregate, WindowKey
from rampup.runtime import classify, describe, write_isolated
from rampup.runtime.faults import json_safe

if TYPE_CHECKING:
    from rampup.runtime import DeadLetters
    from rampup.store import Database

log = logging.getLogger("rampup.monitor")


@dataclass
class Slot:
    agg: WindowAggregate
    dirty: bool
    touched: float


@dataclass
class MonitorStats:
    processed: int = 0
    rounds: int = 0  # completed process() calls
    dropped: int = 0  # records not taken because the intake was full
    feedback: int = 0
    flushes: int = 0
    rows_written: int = 0
    flush_errors: int = 0
    windows_lost: int = 0
    dead_letters: int = 0  # records that broke an update, windows that needed repair
    failures: int = 0
    last_error: str | None = None
    last_flush_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the monitor thread


class WindowHost(Protocol):
    """What the writer needs from its monitor (:class:`rampup.monitor.recorder.Monitor`):
    the windows under their lock, where to write them and what to count."""

    store: Database
    window_s: float
    clock: Callable[[], float]
    replica: str
    stats: MonitorStats
    dead_letters: DeadLetters | None

    def locked_windows(self) -> tuple[threading.Lock, dict[WindowKey, Slot]]: ...


def window_row(key: WindowKey, window_s: float, replica: str, now: float,
               data: dict[str, Any]) -> dict[str, Any]:
    return {"model": key.model, "version": key.version, "role": key.role,
            "stage": key.stage, "window_start": key.start, "window_s": window_s,
            "replica": replica, "updated_at": now, "data": data}


class SnapshotWriter:
    def __init__(self, monitor: WindowHost, *, keep_s: float, retention_days: float,
                 max_windows: int) -> None:
        self.monitor = monitor
        self.keep_s = keep_s
        self.retention_days = retention_days
        self.max_windows = max_windows

    def flush(self) -> int:
        m = self.monitor
        lock, windows = m.locked_windows()
        now = m.clock()
        t0 = time.perf_counter()
        with lock:
            dirty = [(k, s) for k, s in windows.items() if s.dirty]
            rows = [window_row(k, m.window_s, m.replica, now, s.agg.to_dict())
                    for k, s in dirty]
            for _, s in dirty:
                s.dirty = False
        written = 0
        if rows:
            bad: list[dict[str, Any]] = []
            try:
                written = write_isolated(rows, m.store.windows.upsert_metric_windows,
                                         lambda row, exc: bad.append({**row, "error": exc}))
            except Exception as exc:  # the store may be down: keep the windows, retry
                with lock:
                    for k, _ in dirty:
                        if k in windows:
                            windows[k].dirty = True
                m.stats.flush_errors += 1
                m.stats.last_error = describe(exc)
                if classify(exc) != "transient":
                    raise  # not the data, not the network: the supervisor restarts us
                log.warning("monitor: snapshot flush failed (%s); will retry",
                            m.stats.last_error)
            written += sum(self._repair(row) for row in bad)
        m.stats.flushes += 1
        m.stats.rows_written += written
        m.stats.last_flush_s = time.perf_counter() - t0
        self._evict(now)
        return written

    def _repair(self, row: dict[str, Any]) -> int:
        """A window the store refused because of what it holds (a lone surrogate or an
        integer beyond 64 bits among its category keys): write it with those values
        escaped, replace the window in memory by the escaped copy (so the next flush
        does not meet them again) and dead-letter what was changed. Returns rows
        written."""
        m = self.monitor
        error = row.pop("error")
        key = WindowKey(row["model"], row["version"], row["role"], row["stage"],
                        row["window_start"])
        data, changed = json_safe(row["data"])
        m.stats.dead_letters += 1
        m.stats.last_error = describe(error)
        if m.dead_letters is not None:
            m.dead_letters.add("monitor", error, {"window": {k: row[k] for k in _KEY_COLS},
                                                  "escaped": changed},
                               key=_key_text(key), model=key.model)
        try:
            written = m.store.windows.upsert_metric_windows([{**row, "data": data}])
        except Exception as exc:
            if classify(exc) != "record":
                lock, windows = m.locked_windows()
                with lock:
                    if key in windows:
                        windows[key].dirty = True
                raise
            # Still refused: this window cannot be kept; the others are.
            lock, windows = m.locked_windows()
            with lock:
                windows.pop(key, None)
            m.stats.windows_lost += 1
            if m.dead_letters is not None:
                m.dead_letters.add("monitor", exc, row, key=_key_text(key), model=key.model)
            return 0
        lock, windows = m.locked_windows()
        with lock:  # the slot may hold newer records than the row: repair it as it is now
            slot = windows.get(key)
            if slot is not None:
                slot.agg = WindowAggregate.from_dict(json_safe(slot.agg.to_dict())[0])
        return written

    def _evict(self, now: float) -> None:
        lock, windows = self.monitor.locked_windows()
        w = self.monitor.window_s
        with lock:
            old = [k for k, s in windows.items()
                   if not s.dirty and max(k.start + w, s.touched) + self.keep_s <= now]
            for k in old:
                del windows[k]
            extra = len(windows) - self.max_windows
            if extra > 0:
                for k in sorted(windows, key=lambda k: k.start)[:extra]:
                    del windows[k]
                self.monitor.stats.windows_lost += extra
                log.error("monitor: %d unflushed windows dropped (store unreachable?)", extra)

    def cleanup(self) -> int:
        m = self.monitor
        before = m.clock() - self.retention_days * 86_400.0
        try:
            return m.store.windows.delete_metric_windows(before)
        except Exception as exc:
            if classify(exc) != "transient":
                raise
            log.warning("monitor: retention cleanup failed: %s", describe(exc))
            return 0


_KEY_COLS = ("model", "version", "role", "stage", "window_start", "replica")


def _key_text(key: WindowKey) -> str:
    return f"{key.model}/{key.version}/{key.role}/{key.stage or '-'}/{key.start:.0f}"
