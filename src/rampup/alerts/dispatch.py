"""Deliver notifications off the evaluator's thread, on a bounded pool with deadlines.

:meth:`Dispatcher.submit` never blocks: a full queue drops the notification (counted and
reported). A watchdog gives up on a delivery that runs past its notifier's deadline
(counted as timed out) and starts a replacement worker, so one hanging notifier cannot
starve the others; the number of abandoned threads is bounded too. The watchdog is a
supervised worker (``alert-notifier``) and also replaces pool threads that died. Every outcome goes
to ``on_result`` (the evaluator writes it to the alert history).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rampup.alerts.notifiers import Notifier
from rampup.runtime import Supervised, Supervisor, WorkerContext

log = logging.getLogger("rampup.alerts")


@dataclass(frozen=True)
class Delivery:
    notifier: str
    ok: bool
    error: str | None
    elapsed_s: float
    alert: Mapping[str, Any]


@dataclass
class NotifierStats:
    sent: int = 0
    failed: int = 0
    timed_out: int = 0
    dropped: int = 0


@dataclass
class _Job:
    name: str
    notifier: Notifier | None
    alert: Mapping[str, Any]


@dataclass
class _Slot:
    job: _Job | None = None
    started: float = 0.0
    abandoned: bool = False
    finishing: bool = False  # delivered, being reported: the watchdog leaves it alone
    thread: threading.Thread | None = field(default=None, repr=False)


ResultFn = Callable[[Delivery], None]
DeadFn = Callable[[Delivery, BaseException], None]
WORKER = "alert-notifier"
STALL_AFTER_S = 60.0


class Dispatcher:
    def __init__(self, notifiers: Mapping[str, Notifier], *, workers: int = 4,
                 queue_size: int = 1000, on_result: ResultFn | None = None,
                 max_abandoned: int = 16, watch_interval: float = 0.1) -> None:
        self.notifiers = dict(notifiers)
        self.workers = workers
        self.on_result = on_result
        self.max_abandoned = max_abandoned
        self.watch_interval = watch_interval
        self.stats: dict[str, NotifierStats] = {}
        self._queue: queue.Queue[_Job] = queue.Queue(maxsize=queue_size)
        self._slots: list[_Slot] = []
        self._abandoned = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._started = False
        self._watchdog: Supervised | None = None
        self._pending = 0  # queued or running, not yet reported
        self._silenced = False
        self.on_dead: DeadFn | None = None  # an outcome that could not be recorded
        self.respawned = 0  # pool threads that died and were replaced

    # -- public -------------------------------------------------------------------------

    def submit(self, names: Sequence[str], alert: Mapping[str, Any]) -> int:
        """Queue ``alert`` for each named notifier; returns how many were queued."""
        self._start()
        queued = 0
        for name in names:
            notifier = self.notifiers.get(name)
            if notifier is None:
                self._report(Delivery(name, False, f"unknown notifier {name!r} (known: "
                                      f"{', '.join(sorted(self.notifiers))})", 0.0, alert))
                continue
            try:
                with self._lock:
                    self._queue.put_nowait(_Job(name, notifier, alert))
                    self._pending += 1
                queued += 1
            except queue.Full:
                with self._lock:
                    self._stat(name).dropped += 1
                self._report(Delivery(name, False, "notification queue full; dropped", 0.0,
                                      alert), count=False)
        return queued

    def send_now(self, names: Sequence[str], alert: Mapping[str, Any]) -> list[Delivery]:
        """Deliver on the calling thread and return the outcomes (``rampup alerts test``)."""
        out = []
        for name in names:
            notifier = self.notifiers.get(name)
            if notifier is None:
                out.append(Delivery(name, False, f"unknown notifier {name!r}", 0.0, alert))
                continue
            out.append(_deliver(_Job(name, notifier, alert)))
        return out

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted delivery is done and reported (given up ones count
        as done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.005)
        return False

    def close(self, timeout: float = 2.0) -> None:
        """Give queued deliveries up to ``timeout`` to finish, drop the rest (reported as
        dropped), stop the workers and the watchdog. Nothing is reported afterwards."""
        deadline = time.monotonic() + timeout
        self.drain(timeout)
        if self._watchdog is not None:
            self._watchdog.request_stop()  # before _closed: its loop ends on either
        self._closed.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                self._stat(job.name).dropped += 1
                self._pending -= 1
            self._report(Delivery(job.name, False, "dropped at shutdown", 0.0, job.alert),
                         count=False)
        with self._lock:
            threads = [s.thread for s in self._slots if not s.abandoned and s.thread]
        if self._watchdog is not None:
            threads.append(self._watchdog.thread)
        for t in threads:
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()) + 0.3)
        self._silenced = True

    def counts(self) -> dict[str, dict[str, int]]:
        """Per notifier: sent, failed, timed_out, dropped (every configured one listed)."""
        with self._lock:
            for name in self.notifiers:
                self._stat(name)
            return {n: vars(s).copy() for n, s in sorted(self.stats.items())}

    # -- workers ------------------------------------------------------------------------

    def start(self, supervisor: Supervisor | None = None) -> Dispatcher:
        """Start the pool and its watchdog (worker ``alert-notifier`` of ``supervisor``,
        or of its own): the watchdog gives up on late deliveries and replaces pool
        threads that died. Called on the first :meth:`submit` if not before."""
        with self._lock:
            if self._started:
                return self
            self._started = True
            for _ in range(self.workers):
                self._spawn()
        self._watchdog = (supervisor or Supervisor()).start(WORKER, self._watch,
                                                            stall_after=STALL_AFTER_S)
        return self

    def _start(self) -> None:
        if not self._started:
            self.start()

    def _spawn(self) -> None:  # caller holds the lock
        slot = _Slot()
        slot.thread = threading.Thread(target=self._work, args=(slot,), daemon=True,
                                       name=f"rampup-notify-{len(self._slots)}")
        self._slots.append(slot)
        slot.thread.start()

    def _work(self, slot: _Slot) -> None:
        while not self._closed.is_set():
            try:
                job = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                slot.job, slot.started = job, time.monotonic()
            result = _deliver(job)
            with self._lock:
                if slot.abandoned:  # the watchdog reported it (and maybe replaced us)
                    slot.job = None
                    self._abandoned -= 1
                    slot.abandoned = False
                    live = sum(1 for s in self._slots if not s.abandoned)
                    if live > self.workers:
                        self._slots.remove(slot)
                        return
                    continue
                slot.finishing = True
            self._report(result)
            with self._lock:  # done only once reported, so drain() covers the recording
                slot.job, slot.finishing = None, False
                self._pending -= 1

    def _watch(self, ctx: WorkerContext) -> None:
        while not ctx.wait(self.watch_interval) and not self._closed.is_set():
            self.reap()
            self.replace_dead()

    def replace_dead(self) -> int:
        """Replace pool threads that ended without being told to (a bug in a notifier's
        reporting path); a delivery one held is reported as failed. Returns how many."""
        dead: list[_Slot] = []
        with self._lock:
            if self._closed.is_set():
                return 0
            for slot in list(self._slots):
                if slot.thread is not None and not slot.thread.is_alive() \
                        and not slot.abandoned:
                    self._slots.remove(slot)
                    dead.append(slot)
                    self.respawned += 1
                    self._spawn()
        for slot in dead:
            log.error("notifier pool thread %s died; replaced",
                      slot.thread.name if slot.thread else "?")
            job = slot.job
            if job is not None and not slot.finishing:
                self._report(Delivery(job.name, False, "the notifier thread died", 0.0,
                                      job.alert))
                with self._lock:
                    self._pending -= 1
        return len(dead)

    def reap(self) -> None:
        """Give up on deliveries past their deadline; replace their workers."""
        now = time.monotonic()
        late: list[tuple[_Job, float]] = []
        with self._lock:
            for slot in list(self._slots):
                job = slot.job
                if job is None or slot.abandoned or slot.finishing or job.notifier is None:
                    continue
                if now - slot.started > job.notifier.deadline_s:
                    slot.abandoned = True
                    self._abandoned += 1
                    self._stat(job.name).timed_out += 1
                    late.append((job, now - slot.started))
                    if self._abandoned <= self.max_abandoned:
                        self._spawn()
        for job, elapsed in late:
            log.warning("notifier %s still running after %.1f s; given up", job.name, elapsed)
            self._report(Delivery(job.name, False, f"timed out after {elapsed:.1f} s (deadline "
                                  f"{job.notifier.deadline_s if job.notifier else 0:g} s)",
                                  elapsed, job.alert), count=False)
            with self._lock:
                self._pending -= 1

    def _report(self, d: Delivery, *, count: bool = True) -> None:
        if self._silenced:
            return
        if count:
            with self._lock:
                st = self._stat(d.notifier)
                if d.ok:
                    st.sent += 1
                else:
                    st.failed += 1
        if not d.ok:
            log.warning("notifier %s failed: %s", d.notifier, d.error)
        if self.on_result is not None:
            try:
                self.on_result(d)
            except Exception as exc:  # recording must not kill the worker
                if self.on_dead is not None:
                    self.on_dead(d, exc)
                else:
                    log.exception("recording a notification outcome failed")

    def _stat(self, name: str) -> NotifierStats:
        return self.stats.setdefault(name, NotifierStats())


def _deliver(job: _Job) -> Delivery:
    t0 = time.monotonic()
    assert job.notifier is not None
    try:
        job.notifier.send(job.alert)
    except Exception as exc:  # any notifier failure is reported, never raised
        return Delivery(job.name, False, str(exc) or type(exc).__name__,
                        time.monotonic() - t0, job.alert)
    return Delivery(job.name, True, None, time.monotonic() - t0, job.alert)
