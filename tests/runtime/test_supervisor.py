"""The supervisor's thread runner: a worker that dies is restarted with backoff, one
that is stopped is not, and its health shows in ``down()`` and on ``/metrics``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from rampup.runtime import Backoff, Supervisor, WorkerContext

FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.0)


def until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def idle(ctx: WorkerContext) -> None:
    ctx.wait(60.0)


def test_a_crashing_worker_is_restarted_until_it_runs() -> None:
    sup = Supervisor(backoff=FAST)
    runs: list[int] = []
    done = threading.Event()

    def work(ctx: WorkerContext) -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise RuntimeError(f"crash {len(runs)}")
        while not ctx.wait(0.01):
            done.set()

    handle = sup.start("w", work)
    until(done.is_set)
    health = sup.health()["w"]
    assert health["restarts"] == 3
    assert health["up"]
    assert health["state"] == "running"
    assert health["last_error"] == "RuntimeError: crash 3"
    assert sup.down() == {}
    assert handle.stop(10.0)
    assert sup.health()["w"]["state"] == "stopped"


def test_down_names_the_worker_while_it_waits_to_restart() -> None:
    sup = Supervisor(backoff=Backoff(initial=60.0, maximum=60.0, jitter=0.0))
    handle = sup.start("log-writer", lambda ctx: (_ for _ in ()).throw(KeyError("k")))
    until(lambda: "log-writer" in sup.down())
    reason = sup.down()["log-writer"]
    assert "KeyError: 'k'" in reason
    assert "restart 1 in" in reason
    t0 = time.monotonic()
    assert handle.stop(10.0)  # stopping interrupts the backoff wait
    assert time.monotonic() - t0 < 30
    assert sup.down() == {}


def test_returning_while_not_stopped_counts_as_dying() -> None:
    sup = Supervisor(backoff=FAST)
    calls: list[int] = []

    def work(ctx: WorkerContext) -> None:
        calls.append(1)
        if len(calls) > 1:
            ctx.wait(60.0)

    handle = sup.start("w", work)
    until(lambda: len(calls) == 2)
    assert sup.health()["w"]["last_error"] == "returned while the server was running"
    handle.stop(10.0)


def test_even_system_exit_does_not_end_supervision() -> None:
    sup = Supervisor(backoff=FAST)
    calls: list[int] = []

    def work(ctx: WorkerContext) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit(3)
        ctx.wait(60.0)

    handle = sup.start("w", work)
    until(lambda: len(calls) == 2)
    handle.stop(10.0)


def test_a_stopped_worker_is_never_restarted_and_names_are_unique() -> None:
    sup = Supervisor(backoff=FAST)
    calls: list[int] = []

    def work(ctx: WorkerContext) -> None:
        calls.append(1)
        while not ctx.wait(0.01):
            pass
        raise RuntimeError("failing on the way out")  # logged, not restarted

    handle = sup.start("w", work)
    with pytest.raises(RuntimeError, match="already running"):
        sup.start("w", work)
    until(lambda: sup.health()["w"]["state"] == "running")
    assert handle.stop(10.0)
    assert calls == [1]
    assert sup.health()["w"]["state"] == "stopped"
    again = sup.start("w", work)  # a stopped name may start again
    again.stop(10.0)
    assert calls == [1, 1]


def test_stop_all_and_stall_detection() -> None:
    sup = Supervisor(backoff=FAST)
    release = threading.Event()

    def stuck(ctx: WorkerContext) -> None:
        ctx.beat()
        release.wait(60.0)  # hangs without beating

    sup.start("stuck", stuck, stall_after=0.05)
    sup.start("fine", idle)
    until(lambda: "stuck" in sup.down())
    assert "no heartbeat" in sup.down()["stuck"]
    assert "fine" not in sup.down()
    release.set()
    sup.stop_all(10.0)
    assert all(h["state"] == "stopped" for h in sup.health().values())


def test_worker_metrics_are_computed_when_scraped() -> None:
    registry = CollectorRegistry()
    sup = Supervisor(backoff=Backoff(initial=60.0, maximum=60.0, jitter=0.0),
                     registry=registry)
    ok = sup.start("monitor", idle)
    bad = sup.start("log-writer", lambda ctx: (_ for _ in ()).throw(RuntimeError("x")))
    until(lambda: "log-writer" in sup.down())
    text = generate_latest(registry).decode()
    assert 'rampup_worker_up{worker="monitor"} 1.0' in text
    assert 'rampup_worker_up{worker="log-writer"} 0.0' in text
    assert 'rampup_worker_restarts_total{worker="log-writer"} 0.0' in text
    assert 'rampup_worker_heartbeat_age_seconds{worker="monitor"}' in text
    ok.stop(10.0)
    bad.stop(10.0)
    assert "rampup_worker_up{" not in generate_latest(registry).decode()  # stopped: gone
