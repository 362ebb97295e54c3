"""Run a schedule: one asyncio generator per process, each sending its share of requests.

Every request is started at its due time (``asyncio`` timers on uvloop), whatever the
server is doing; its latency runs from the due time to the last byte of the answer, so
time spent waiting for a connection or behind a late generator is counted, never hidden.
How late the generator started each request (its *send lag*) is recorded too:
:mod:`rampup.loadtest.verdict` refuses to judge a run where the generator fell behind.

One Python process sends a few thousand requests a second (``benchmarks/loadtest.py``
measures where); ``processes > 1`` splits the schedule round-robin over that many
processes started together, and merges their outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import queue
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from rampup.loadtest.client import Pool, ProtocolError, Target
from rampup.loadtest.latencies import CONNECTION, PROTOCOL, TIMEOUT, UNSENT, Outcomes

TICK_S = 0.25
BURST = 32  # requests started in a row when behind, before yielding to the loop
# Event-loop timers fire on whole milliseconds (uvloop: from 0.4 ms early to 1 ms late,
# median 0.2 ms late, on an idle core). A request is started up to EARLY_S before its due
# time and its latency then runs from the actual send, so a timer's lateness is not
# counted as the server's while an early send never shortens a latency. Spinning to the
# exact time instead costs a fifth of a core at 500 req/s, and on a machine the server
# shares it slowed the server (measured: a 22 ms p50 in one of three runs against 2 ms).
EARLY_S = 0.0005
START_DELAY_S = 0.2


@dataclass(frozen=True)
class Job:
    """What one generator process sends: its due offsets (seconds) and their global
    indexes (which body each request carries), all against ``url``."""

    url: str
    requests: Sequence[bytes]  # complete HTTP requests, used in turn by global index
    due: np.ndarray[Any, Any]
    index: np.ndarray[Any, Any]
    timeout: float = 10.0
    connections: int = 256
    give_up_after: float = math.inf  # offset (s) past which unsent requests are dropped


@dataclass
class Tick:
    """Progress of one process since its previous tick."""

    shard: int
    sent: int = 0
    done: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


def split(url: str, requests: Sequence[bytes], due: np.ndarray[Any, Any], processes: int,
          *, timeout: float, connections: int, give_up_after: float) -> list[Job]:
    """One job per process: request ``i`` goes to process ``i % processes``."""
    index = np.arange(len(due))
    per = max(1, math.ceil(connections / processes))
    return [Job(url, requests, due[k::processes], index[k::processes], timeout, per,
                give_up_after) for k in range(processes)]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_async(coro: Coroutine[Any, Any, Outcomes]) -> Outcomes:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coro)


async def run_shard(job: Job, start_at: float, report: Callable[[Tick], None],
                    shard: int = 0) -> Outcomes:
    """Send ``job``'s requests, the first due at wall-clock time ``start_at``."""
    loop = asyncio.get_running_loop()
    n = len(job.due)
    lag = np.full(n, np.nan)
    latency = np.full(n, np.nan)
    status = np.full(n, UNSENT, dtype=np.int32)
    target = Target.parse(job.url)
    pool = Pool(target, job.connections)
    tick = Tick(shard)
    tasks: set[asyncio.Task[None]] = set()
    requests = job.requests

    clock = time.perf_counter  # uvloop's loop.time() moves in whole milliseconds

    async def one(i: int, due: float) -> None:
        start = clock()
        lag[i] = start - due  # negative: sent early (see EARLY_S)
        origin = min(start, due)
        tick.sent += 1
        try:
            async with asyncio.timeout(job.timeout):
                code = await pool.post(requests[int(job.index[i]) % len(requests)])
        except TimeoutError:
            code = TIMEOUT
        except ProtocolError:
            code = PROTOCOL
        except OSError:
            code = CONNECTION
        took = clock() - origin
        latency[i], status[i] = took, code
        tick.done += 1
        tick.errors += not 200 <= code < 300
        tick.latencies.append(took)

    async def ticker() -> None:
        nonlocal tick
        while True:
            await asyncio.sleep(TICK_S)
            tick, current = Tick(shard), tick
            report(current)

    zero = clock() + (start_at - time.time())
    ticking = asyncio.create_task(ticker())
    try:
        for i in range(n):
            due = zero + float(job.due[i])
            wait = due - clock()
            if wait > EARLY_S:
                await asyncio.sleep(wait - EARLY_S)
            elif clock() - zero > job.give_up_after:
                break  # far behind: the rest stays UNSENT
            if wait <= 0 and i % BURST == 0:
                await asyncio.sleep(0)  # behind: let started requests run (and be counted)
            task = loop.create_task(one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
        for task in tasks:
            task.cancel()
        pool.close()
    report(tick)
    return Outcomes(np.asarray(job.due, dtype=np.float64), lag, latency, status)


def _child(job: Job, shard: int, results: Any, control: Connection) -> None:
    """A generator process: say ready, wait for the start time, run, send the outcomes."""
    try:
        control.send("ready")
        start_at = control.recv()
        outcome = run_async(run_shard(job, start_at, results.put, shard))
        results.put(("done", shard, outcome.lag, outcome.latency, outcome.status))
    except BaseException as exc:  # reported to the parent, which raises it
        results.put(("failed", shard, f"{type(exc).__name__}: {exc}"))


def run(jobs: Sequence[Job], on_tick: Callable[[Tick], None]) -> Outcomes:
    """Run the jobs (one per process; one job runs in this process) and merge them."""
    if len(jobs) == 1:
        return run_async(run_shard(jobs[0], time.time() + START_DELAY_S, on_tick))
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs, controls = [], []
    for shard, job in enumerate(jobs):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(job, shard, results, child), daemon=True,
                           name=f"rampup-loadtest-{shard}")
        proc.start()
        procs.append(proc)
        controls.append(parent)
    try:
        for control in controls:
            if not control.poll(60):
                raise RuntimeError("a load generator process did not start within 60 s")
            control.recv()
        start_at = time.time() + START_DELAY_S
        for control in controls:
            control.send(start_at)
        return _collect(jobs, procs, results, on_tick)
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _collect(jobs: Sequence[Job], procs: list[Any], results: Any,
             on_tick: Callable[[Tick], None]) -> Outcomes:
    parts: dict[int, Outcomes] = {}
    while len(parts) < len(jobs):
        try:
            item = results.get(timeout=1.0)
        except queue.Empty:  # check that the children are still there
            dead = [p.name for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
            if dead:
                raise RuntimeError(f"load generator process(es) died: {', '.join(dead)}"
                                   ) from None
            continue
        if isinstance(item, Tick):
            on_tick(item)
        elif item[0] == "done":
            _, shard, lag, latency, status = item
            job = jobs[shard]
            parts[shard] = Outcomes(np.asarray(job.due, dtype=np.float64), lag, latency,
                                    status)
        else:
            raise RuntimeError(f"load generator process {item[1]} failed: {item[2]}")
    merged = Outcomes.empty()
    for shard in sorted(parts):
        merged = merged.merge(parts[shard])
    return merged
