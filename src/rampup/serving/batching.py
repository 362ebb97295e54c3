"""Adaptive micro-batching: concurrent requests to one version share one ``predict`` call.

The batcher never adds latency to a lone request: it flushes as soon as no other
request for the same version is on its way (``expect``/``submit`` bookkeeping), and
waits at most ``max_wait`` otherwise. A batch is also flushed when it reaches
``max_batch_size`` records.

At most ``max_in_flight`` batches of a version run at once; requests that arrive while
they run wait and go together in the next call. A model whose ``predict`` holds the GIL
(scikit-learn pipelines on pandas frames: milliseconds of Python per call, almost
independent of the number of rows) then costs one call per batch instead of one thread
per request competing for the interpreter, so a busy server answers more requests with
a shorter tail instead of thrashing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rampup.registry.predictor import FeatureBatch, PredictionBatch

RunFn = Callable[[FeatureBatch], Awaitable[PredictionBatch]]


class MicroBatcher:
    def __init__(self, run: RunFn, *, max_batch_size: int = 64, max_wait: float = 0.002,
                 max_in_flight: int = 1) -> None:
        self._run = run
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.max_in_flight = max(1, max_in_flight)
        self._in_flight = 0
        self._pending: list[tuple[FeatureBatch, asyncio.Future[PredictionBatch]]] = []
        self._size = 0
        self._expected = 0
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.batches = 0
        self.records = 0

    def expect(self) -> None:
        """A request for this version has started; it will call :meth:`submit` or :meth:`cancel`."""
        self._expected += 1

    def cancel(self) -> None:
        self._expected = max(0, self._expected - 1)
        if self._wake is not None:
            self._wake.set()

    async def submit(self, batch: FeatureBatch) -> PredictionBatch:
        self._expected = max(0, self._expected - 1)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PredictionBatch] = loop.create_future()
        self._pending.append((batch, fut))
        self._size += batch.n
        if self._flusher is None:
            self._start()  # unless max_in_flight batches run: the first to finish starts it
        elif self._size >= self.max_batch_size or self._expected == 0:
            assert self._wake is not None
            self._wake.set()
        return await fut

    def _start(self) -> None:
        if self._flusher is None and self._pending and self._in_flight < self.max_in_flight:
            self._wake = asyncio.Event()
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # let handlers that are already running reach submit()
            deadline = loop.time() + self.max_wait
            while self._expected > 0 and self._size < self.max_batch_size:
                left = deadline - loop.time()
                if left <= 0:
                    break
                assert self._wake is not None
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except TimeoutError:
                    break
        finally:
            items, self._pending, self._size = self._pending, [], 0
            self._flusher = None
            self._wake = None
        await self._execute(items)

    async def _execute(self, items: list[tuple[FeatureBatch, asyncio.Future[PredictionBatch]]]
                       ) -> None:
        # Split into calls of at most max_batch_size records (a request is never split).
        group: list[tuple[FeatureBatch, asyncio.Future[PredictionBatch]]] = []
        n = 0
        for item in items:
            if group and n + item[0].n > self.max_batch_size:
                await self._call(group)
                group, n = [], 0
            group.append(item)
            n += item[0].n
        if group:
            await self._call(group)

    async def _call(self, group: list[tuple[FeatureBatch, asyncio.Future[PredictionBatch]]]
                    ) -> None:
        self.batches += 1
        combined = FeatureBatch.concat([b for b, _ in group])
        self.records += combined.n
        self._in_flight += 1
        try:
            out = await self._run(combined)
        except Exception as exc:
            self._done()
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            # One bad request must not fail its neighbours: retry each on its own.
            for item in group:
                await self._call([item])
            return
        self._done()
        start = 0
        for b, fut in group:
            if not fut.done():
                fut.set_result(out.slice(start, start + b.n))
            start += b.n

    def _done(self) -> None:
        """A batch finished: requests that queued meanwhile go next."""
        self._in_flight -= 1
        self._start()
