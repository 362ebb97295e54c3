"""The monitor's background worker: process twice a second, sample levels, flush
snapshots every ``flush_interval`` seconds, apply retention hourly, flush on stop.

It runs under a :class:`~rampup.runtime.Supervisor`. A record that breaks an update and
a window the store refuses are isolated and dead-lettered by the monitor itself; a round
that fails because the store is unreachable is counted and the next round retries;
anything else ends the worker, and the supervisor restarts it with backoff (monitoring
must never take serving down with it, nor stop silently).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rampup.monitor.recorder import WORKER, Monitor, Samples
from rampup.runtime import Supervised, Supervisor, WorkerContext, classify, describe

log = logging.getLogger("rampup.monitor")

Sampler = Callable[[], Samples]
CLEANUP_EVERY_S = 3600.0
STALL_AFTER_S = 300.0  # a round (process + flush) never takes this long


class MonitorLoop:
    def __init__(self, monitor: Monitor, *, sampler: Sampler | None = None,
                 tick: float = 0.5, flush_interval: float = 5.0) -> None:
        self.monitor = monitor
        self.sampler = sampler
        self.tick = tick
        self.flush_interval = flush_interval
        self._handle: Supervised | None = None

    def start(self, supervisor: Supervisor | None = None) -> MonitorLoop:
        if self._handle is None:
            self._handle = (supervisor or Supervisor()).start(
                WORKER, self._run, stall_after=STALL_AFTER_S)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker, then process what is left and flush it."""
        if self._handle is not None:
            self._handle.stop(timeout)
            self._handle = None
        try:
            self._round(flush=True)
        except Exception:  # stopping must finish; what could not be flushed is lost
            log.exception("monitor: the last flush failed")

    def _run(self, ctx: WorkerContext) -> None:
        next_flush = time.monotonic() + self.flush_interval
        next_cleanup = time.monotonic() + 60.0
        while not ctx.wait(self.tick):
            now = time.monotonic()
            flush = now >= next_flush
            if flush:
                next_flush = now + self.flush_interval
            self._round(flush=flush)
            if now >= next_cleanup:
                next_cleanup = now + CLEANUP_EVERY_S
                self.monitor.cleanup()

    def _round(self, *, flush: bool) -> None:
        m = self.monitor
        t0 = time.thread_time()
        try:
            m.process()
            if self.sampler is not None:
                m.sample(self.sampler())
            if flush:
                m.flush()
        except Exception as exc:
            m.stats.failures += 1
            m.stats.last_error = describe(exc)
            if classify(exc) != "transient":
                raise
            log.warning("monitor round failed (%s); the next one retries", m.stats.last_error)
        finally:
            # this thread's CPU: what monitoring costs the process besides offer()
            spent = time.thread_time() - t0
            m.stats.cpu_s += spent
            if m.prometheus is not None:
                m.prometheus.cpu.inc(spent)
