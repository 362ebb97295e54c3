"""The monitor's background thread: process twice a second, sample levels, flush
snapshots every ``flush_interval`` seconds, apply retention hourly, flush on stop.

A failure in one round is logged and counted; the thread keeps going (monitoring must
never take serving down with it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from rampup.monitor.recorder import Monitor, Samples

log = logging.getLogger("rampup.monitor")

Sampler = Callable[[], Samples]
CLEANUP_EVERY_S = 3600.0


class MonitorLoop:
    def __init__(self, monitor: Monitor, *, sampler: Sampler | None = None,
                 tick: float = 0.5, flush_interval: float = 5.0) -> None:
        self.monitor = monitor
        self.sampler = sampler
        self.tick = tick
        self.flush_interval = flush_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MonitorLoop:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rampup-monitor",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, then process what is left and flush it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._round(flush=True)

    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_interval
        next_cleanup = time.monotonic() + 60.0
        while not self._stop.wait(self.tick):
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
            m.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("monitor round failed; continuing")
        finally:
            # this thread's CPU: what monitoring costs the process besides offer()
            spent = time.thread_time() - t0
            m.stats.cpu_s += spent
            if m.prometheus is not None:
                m.prometheus.cpu.inc(spent)
