"""The supervisor: every background worker runs under it, restarted with backoff when
it dies, with a heartbeat, a restart count and a truthful readiness.

A worker is a function ``run(ctx)`` that loops until ``ctx.stopping`` and calls
``ctx.beat()`` each round (``ctx.wait`` beats too). :meth:`Supervisor.start` runs it on
a daemon thread; if it raises (or returns while not asked to stop), the runner records
the crash, waits the :class:`~rampup.runtime.backoff.Backoff` delay and runs it again,
on the same thread, until the worker's handle is stopped. Records a worker holds must
survive a crash: each worker keeps its in-flight batch on itself and takes it back when
it starts again.

Health lives in :class:`~rampup.runtime.health.WorkerHealth` (pure); this module only
adds the threads, the clock and the Prometheus view: ``rampup_worker_up``,
``rampup_worker_heartbeat_age_seconds`` and ``rampup_worker_restarts_total``, computed
when scraped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from rampup.runtime.backoff import Backoff
from rampup.runtime.faults import describe
from rampup.runtime.health import WorkerHealth

log = logging.getLogger("rampup.runtime")

Target = Callable[["WorkerContext"], None]


class WorkerContext:
    """What a running worker sees: whether to stop, and where to beat."""

    def __init__(self, handle: Supervised) -> None:
        self._handle = handle

    @property
    def name(self) -> str:
        return self._handle.name

    @property
    def stopping(self) -> bool:
        return self._handle.stop_event.is_set()

    def beat(self) -> None:
        self._handle.beat()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (less when stopped); beat; True when stopping."""
        stopping = self._handle.stop_event.wait(max(0.0, seconds))
        self._handle.beat()
        return stopping


class Supervised:
    """One worker under the supervisor: its thread, stop flag and health."""

    def __init__(self, supervisor: Supervisor, name: str, target: Target,
                 stall_after: float | None) -> None:
        self.supervisor = supervisor
        self.name = name
        self.target = target
        self.stop_event = threading.Event()
        self.health = WorkerHealth(name, stall_after=stall_after)
        self.ctx = WorkerContext(self)
        self.thread = threading.Thread(target=self._run, name=f"rampup-{name}", daemon=True)
        self._fault: BaseException | None = None

    # -- control ----------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the worker to finish (it sees ``ctx.stopping``); no restart after this."""
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it did."""
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        self.request_stop()
        return self.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def beat(self) -> None:
        sup = self.supervisor
        now = sup.clock()
        with sup.lock:
            fault = self._fault
            if fault is None:
                self.health.beat(now)
        if fault is not None:
            raise fault.with_traceback(None)

    def inject(self, fault: BaseException | None) -> None:
        """Fault injection (chaos drills, tests): from now on the worker's beats raise
        ``fault`` inside its own loop, so it dies and is restarted, again and again,
        until ``inject(None)`` clears it."""
        with self.supervisor.lock:
            self._fault = fault

    # -- the runner -------------------------------------------------------------------

    def _run(self) -> None:
        sup = self.supervisor
        while True:
            with sup.lock:
                self.health.started(sup.clock())
            error: BaseException | None = None
            try:
                self.target(self.ctx)
            except BaseException as exc:  # the runner outlives anything its worker does
                error = exc
            if self.stop_event.is_set():
                if error is not None:
                    log.warning("worker %s failed while stopping: %s", self.name,
                                describe(error))
                break
            reason = describe(error) if error is not None else \
                "returned while the server was running"
            now = sup.clock()
            with sup.lock:
                h = self.health
                h.streak = sup.backoff.next_streak(h.streak, ran_for=h.ran_for(now))
                delay = sup.backoff.delay(h.streak, sup.rand)
                h.crashed(now, reason, restart_at=now + delay)
            log.error("worker %s died (%s); restarting in %.1f s", self.name, reason, delay,
                      exc_info=error)
            if self.stop_event.wait(delay):
                break
        with sup.lock:
            self.health.stopped()


class Supervisor:
    """Starts workers, restarts the ones that die, reports their health."""

    def __init__(self, *, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.rand = rand if rand is not None else random.Random().random
        self.lock = threading.Lock()
        self.workers: dict[str, Supervised] = {}
        self.collector = WorkerCollector(self)
        if registry is not None:
            registry.register(self.collector)

    def start(self, name: str, target: Target, *, stall_after: float | None = None
              ) -> Supervised:
        """Run ``target`` as worker ``name`` (a name taken by a stopped worker is reused:
        the new worker keeps its restart count)."""
        handle = Supervised(self, name, target, stall_after)
        with self.lock:
            old = self.workers.get(name)
            if old is not None and old.alive:
                raise RuntimeError(f"worker {name!r} is already running")
            if old is not None:
                handle.health.restarts = old.health.restarts
            self.workers[name] = handle
        handle.thread.start()
        return handle

    def stop_all(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        handles = list(self.workers.values())
        for h in handles:
            h.request_stop()
        for h in handles:
            h.join(max(0.0, deadline - time.monotonic()))

    def health(self) -> dict[str, dict[str, Any]]:
        """Each worker's state, restarts, heartbeat age and last error."""
        now = self.clock()
        with self.lock:
            return {n: w.health.to_dict(now) for n, w in sorted(self.workers.items())}

    def down(self) -> dict[str, str]:
        """The workers that are down now, with why (empty: all up)."""
        now = self.clock()
        with self.lock:
            out = {n: w.health.down_reason(now) for n, w in sorted(self.workers.items())}
        return {n: r for n, r in out.items() if r is not None}


class WorkerCollector:
    """The workers' health as Prometheus metrics, computed at scrape time."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("rampup_worker_up", "1 while a background worker runs and "
                               "beats, 0 while it is down (died, restarting, stalled)",
                               labels=["worker"])
        age = GaugeMetricFamily("rampup_worker_heartbeat_age_seconds",
                                "Seconds since the worker last beat", labels=["worker"])
        restarts = CounterMetricFamily("rampup_worker_restarts",
                                       "Times the supervisor restarted the worker",
                                       labels=["worker"])
        for name, h in self.supervisor.health().items():
            if h["state"] == "stopped":
                continue
            up.add_metric([name], 1.0 if h["up"] else 0.0)
            if h["heartbeat_age_s"] is not None:
                age.add_metric([name], float(h["heartbeat_age_s"]))
            restarts.add_metric([name], float(h["restarts"]))
        yield up
        yield age
        yield restarts
