"""The per-process monitor: takes prediction records, errors and feedback off the hot
path and keeps the aggregates of each open window.

Serving only appends to deques (:meth:`Monitor.offer`, :meth:`note_error`,
:meth:`note_dropped`, :meth:`feedback`: tens of nanoseconds each). The monitor's own
thread (:mod:`rampup.monitor.loop`) calls :meth:`process` twice a second, which groups
records by window key and updates the aggregates in large vectorised batches, and
:meth:`flush` every few seconds, which upserts this replica's changed windows into the
store (see :mod:`rampup.monitor.snapshots`). Tests drive both by hand with an injected
clock. A record's window comes from its own timestamp; the clock decides when closed
windows leave memory.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rampup.monitor.aggregates import NO_STAGE, WindowAggregate, WindowKey
from rampup.monitor.custom import InputMetric
from rampup.monitor.features import VersionInfo
from rampup.monitor.ingest import RecordLike, ingest
from rampup.monitor.labels import apply_event, apply_label, previous_label
from rampup.monitor.repeats import RepeatDetector
from rampup.monitor.snapshots import MonitorStats, Slot, SnapshotWriter
from rampup.runtime import DeadLetters, describe

if TYPE_CHECKING:
    from rampup.monitor.prometheus import MonitorPrometheus
    from rampup.store import Database, FeedbackRecord

log = logging.getLogger("rampup.monitor")

WORKER = "monitor"
CHUNK = 2000  # records per update; the thread yields between chunks (serving waits less)
HUMAN = "human"


def replica_id() -> str:
    """``host:pid:random``: distinct per process, so a restart never overwrites old rows."""
    return f"{socket.gethostname()[:96]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class Samples:
    """Levels sampled at a tick: process-wide, and per (model, version)."""

    process: dict[str, float] = field(default_factory=dict)
    versions: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)


class Monitor:
    def __init__(self, store: Database, *, window_s: float = 60.0, keep_s: float = 600.0,
                 retention_days: float = 30.0, clock: Callable[[], float] = time.time,
                 replica: str | None = None,
                 input_metrics: Mapping[str, Mapping[str, InputMetric]] | None = None,
                 max_pending: int = 100_000, repeat_keys: int = 10_000,
                 max_windows: int = 5000,
                 prometheus: MonitorPrometheus | None = None,
                 dead_letters: DeadLetters | None = None,
                 pipelines: Mapping[str, str] | None = None) -> None:
        self.store = store
        # pipeline -> its last stage's model: the end-to-end rows (version "v1+v2") are
        # scored like that stage's version (WER for a transcriber's transcripts)
        self.pipelines = dict(pipelines or {})
        self.window_s = float(window_s)
        self.clock = clock
        self.replica = replica or replica_id()
        self.input_metrics = {m: dict(fns) for m, fns in (input_metrics or {}).items()}
        self.max_pending = max_pending
        self.prometheus = prometheus
        self.dead_letters = dead_letters
        self.stats = MonitorStats()
        self.repeats = RepeatDetector(horizon_s=self.window_s, max_keys=repeat_keys)
        self._intake: deque[Sequence[RecordLike]] = deque()
        self._errors: deque[tuple[str, str, str, float, float, str]] = deque()
        self._dropped: deque[tuple[str, str, int, float]] = deque()
        self._feedback: deque[FeedbackRecord] = deque()
        self._lock = threading.Lock()
        self._windows: dict[WindowKey, Slot] = {}
        self._infos: dict[tuple[str, str], VersionInfo] = {}
        self.snapshots = SnapshotWriter(self, keep_s=keep_s, retention_days=retention_days,
                                        max_windows=max_windows)

    # -- intake: any thread, cheap ------------------------------------------------------

    def offer(self, records: Sequence[RecordLike]) -> None:
        """Hand over the records of one request (never blocks; counted when full)."""
        if len(self._intake) < self.max_pending:
            self._intake.append(records)
        else:
            self.stats.dropped += len(records)
            if self.prometheus is not None:
                self.prometheus.dropped.inc(len(records))

    def note_error(self, model: str, version: str, kind: str, latency_ms: float, *,
                   role: str = "answer") -> None:
        """A request that failed before producing records (bad input, auth, ...);
        ``role`` ``pinned`` keeps a version-pinned request out of the routed windows."""
        if len(self._errors) < self.max_pending:
            self._errors.append((model, version, kind, latency_ms, self.clock(), role))

    def note_dropped(self, model: str, version: str, n: int) -> None:
        """``n`` records of this version did not make it into the prediction log."""
        self._dropped.append((model, version, n, self.clock()))

    def feedback(self, records: Sequence[FeedbackRecord]) -> None:
        """Newly stored feedback (duplicates already filtered by the store)."""
        if len(self._feedback) < self.max_pending:
            self._feedback.extend(records)
        else:
            self.stats.dropped += len(records)

    @property
    def pending(self) -> int:
        return len(self._intake)

    # -- processing: the monitor thread -------------------------------------------------

    def start_of(self, ts: float) -> float:
        return math.floor(ts / self.window_s) * self.window_s

    def process(self) -> int:
        """Move everything handed over so far into the window aggregates."""
        records: list[RecordLike] = []
        while self._intake:
            records.extend(self._intake.popleft())
            if len(records) >= CHUNK:
                self._ingest(records)
                records = []
                time.sleep(0)  # let the event loop run between chunks
        self._ingest(records)
        self._process_errors()
        self._process_feedback()
        self.stats.rounds += 1
        return self.stats.processed

    def _ingest(self, records: list[RecordLike]) -> None:
        if not records:
            return
        groups: dict[tuple[str, str, str, str, float], list[RecordLike]] = {}
        w = self.window_s
        for r in records:
            k = (r.model, r.version, r.role, r.stage or NO_STAGE, math.floor(r.ts / w) * w)
            group = groups.get(k)
            if group is None:
                groups[k] = [r]
            else:
                group.append(r)
        for k, recs in groups.items():
            key = WindowKey(*k)
            info = self.version_info(key.model, key.version)
            self._absorb(key, self._isolated(key, recs, info))
        self.stats.processed += len(records)

    def _isolated(self, key: WindowKey, records: list[RecordLike],
                  info: VersionInfo) -> WindowAggregate:
        """The records' aggregate; when the (pure, vectorised) update fails, the group is
        split in halves until each failing record is alone, and dead-lettered."""
        delta = WindowAggregate()
        try:
            ingest(delta, records, info, custom=self.input_metrics.get(key.model),
                   detector=self.repeats)
            return delta
        except Exception as exc:
            if len(records) == 1:
                self.stats.dead_letters += 1
                self.stats.last_error = describe(exc)
                r = records[0]
                if self.dead_letters is not None:
                    self.dead_letters.add(WORKER, exc, {
                        "id": r.id, "model": r.model, "version": r.version, "role": r.role,
                        "stage": r.stage, "ts": r.ts, "inputs": r.inputs,
                        "outputs": r.outputs}, key=r.id, model=r.model)
                return WindowAggregate()
        mid = len(records) // 2
        out = self._isolated(key, records[:mid], info)
        out.merge(self._isolated(key, records[mid:], info))
        return out

    def _absorb(self, key: WindowKey, delta: WindowAggregate) -> None:
        with self._lock:
            slot = self._windows.get(key)
            if slot is None:
                self._windows[key] = Slot(delta, dirty=True, touched=self.clock())
            else:
                slot.agg.merge(delta)
                slot.dirty = True
        if self.prometheus is not None:
            self.prometheus.observe(key, delta)

    def _process_errors(self) -> None:
        deltas: dict[WindowKey, WindowAggregate] = {}
        while self._errors:
            model, version, kind, ms, ts, role = self._errors.popleft()
            key = WindowKey(model, version, role, NO_STAGE, self.start_of(ts))
            d = deltas.get(key) or deltas.setdefault(key, WindowAggregate())
            d.requests += 1
            d.errors[kind] = d.errors.get(kind, 0) + 1
            d.latency.update(ms)
        while self._dropped:
            model, version, n, ts = self._dropped.popleft()
            key = WindowKey(model, version, "answer", NO_STAGE, self.start_of(ts))
            d = deltas.get(key) or deltas.setdefault(key, WindowAggregate())
            d.log_dropped += n
        for key, d in deltas.items():
            self._absorb(key, d)

    def _process_feedback(self) -> None:
        items: list[FeedbackRecord] = []
        while self._feedback:
            items.append(self._feedback.popleft())
        if not items:
            return
        try:
            targets = self.store.predictions.feedback_targets([f.prediction_id for f in items])
            history = self.store.feedback.label_history([f.prediction_id for f in items
                                                         if f.kind == "label"])
        except Exception:  # the store may be down: try again next round
            if len(self._feedback) < self.max_pending:
                self._feedback.extendleft(reversed(items))
            raise
        deltas: dict[WindowKey, WindowAggregate] = {}
        for fb in items:
            rows = targets.get(fb.prediction_id, [])
            for row in rows:
                key = WindowKey(row["model"], row["version"], row["role"],
                                row["stage"] or NO_STAGE, self.start_of(row["ts"]))
                d = deltas.get(key) or deltas.setdefault(key, WindowAggregate())
                if fb.kind == "label":
                    info = self.version_info(key.model, key.version)
                    prev = previous_label(history.get(fb.prediction_id, []), fb.dedupe_key)
                    apply_label(d, row, info, label=fb.value, previous=prev)
                elif fb.kind == "event" and fb.name and row["id"] == fb.prediction_id:
                    apply_event(d, fb.name)
        for key, d in deltas.items():
            self._ensure_loaded(key)
            self._absorb(key, d)
        self.stats.feedback += len(items)

    def _ensure_loaded(self, key: WindowKey) -> None:
        """A closed window no longer in memory: take this replica's stored row back, so
        the next flush writes the row whole again."""
        with self._lock:
            if key in self._windows:
                self._windows[key].touched = self.clock()
                return
        row = self.store.windows.metric_window(key.model, key.version, key.role, key.stage,
                                               key.start, self.replica)
        agg = WindowAggregate.from_dict(row["data"]) if row else WindowAggregate()
        with self._lock:
            if key not in self._windows:
                self._windows[key] = Slot(agg, dirty=True, touched=self.clock())

    def version_info(self, model: str, version: str) -> VersionInfo:
        cached = self._infos.get((model, version))
        if cached is not None:
            return cached
        if version in (HUMAN, "-"):
            info = VersionInfo.free()
        elif model in self.pipelines:
            info = self._end_to_end_info(model, version)
        else:
            try:
                rec = self.store.models.get_version(model, version)
            except Exception:  # store briefly down: aggregate without a schema, retry later
                log.warning("monitor: cannot read %s@%s from the store", model, version)
                return VersionInfo.free()
            info = VersionInfo.free() if rec is None else VersionInfo.from_parts(
                rec.input_schema, rec.output, rec.profile)
        self._infos[(model, version)] = info
        return info

    def _end_to_end_info(self, pipeline: str, version: str) -> VersionInfo:
        """A pipeline's end-to-end rows: free-form inputs, the output task of the version
        its last stage ran (the last part of ``v1+v2``)."""
        last = self.version_info(self.pipelines[pipeline], version.rsplit("+", 1)[-1])
        return VersionInfo.free() if last.output_task is None else VersionInfo(
            (), free_form=True, output_kind="free", classes=None, has_text=False,
            output_task=last.output_task)

    def sample(self, samples: Samples) -> None:
        """Record sampled levels into this replica's current answer windows."""
        start = self.start_of(self.clock())
        with self._lock:
            for key, slot in self._windows.items():
                if key.start != start or key.role != "answer":
                    continue
                for name, value in samples.process.items():
                    slot.agg.gauge(name).sample(value)
                for name, value in samples.versions.get((key.model, key.version), {}).items():
                    slot.agg.gauge(name).sample(value)
                slot.dirty = True

    # -- reads ----------------------------------------------------------------------------

    def snapshot(self, model: str | None = None, *, since: float | None = None,
                 until: float | None = None) -> dict[WindowKey, WindowAggregate]:
        """Copies of the windows in memory (this replica only), optionally filtered."""
        with self._lock:
            return {k: s.agg.copy() for k, s in self._windows.items()
                    if (model is None or k.model == model)
                    and (since is None or k.start >= since)
                    and (until is None or k.start < until)}

    def live(self, model: str, *, version: str | None = None, role: str = "answer",
             stage: str | None = None) -> WindowAggregate:
        """This replica's current window, merged across versions unless one is given."""
        start = self.start_of(self.clock())
        out = WindowAggregate()
        for k, agg in self.snapshot(model, since=start).items():
            if k.role == role and k.stage == (stage or NO_STAGE) and (
                    version is None or k.version == version):
                out.merge(agg)
        return out

    def windows_in_memory(self) -> int:
        return len(self._windows)

    # -- snapshots --------------------------------------------------------------------------

    def flush(self) -> int:
        """Upsert this replica's changed windows; evict closed ones. Returns rows written."""
        return self.snapshots.flush()

    def cleanup(self) -> int:
        """Delete stored windows older than the retention period."""
        return self.snapshots.cleanup()

    def locked_windows(self) -> tuple[threading.Lock, dict[WindowKey, Slot]]:
        """For :class:`SnapshotWriter` only."""
        return self._lock, self._windows

    def describe(self) -> dict[str, Any]:
        return {"replica": self.replica, "window_s": self.window_s,
                "windows_in_memory": len(self._windows), "pending": self.pending,
                "repeat_keys": len(self.repeats), **vars(self.stats)}
