"""A bounded open-loop load generator for benchmarks/rollout.py.

Sends ``{"x": float}`` predictions at a fixed rate with a distinct request key each, at most
``concurrency`` in flight, for a fixed time or until told to stop. Every answer is kept
(send time, client latency, answering version from ``x-model-version``, status), and the
truth (``x > 0.5``) goes back as a label through the feedback API a moment later, so
accuracy checks have labels. Only this machine is a target.

>>> s = Samples()
>>> s.add(1.0, 2.0, "v1", 200); s.add(1.1, 4.0, "v2", 500); s.add(1.2, 3.0, "v1", 200)
>>> s.between(1.05, 2.0).count(), s.between(0.0, 2.0).by_version()
(2, {'v1': 2, 'v2': 1})
>>> s.ok().quantile(0.5)
2.5
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import orjson

LOCAL = ("127.0.0.1", "localhost")
FEEDBACK_EVERY_S = 0.25
FEEDBACK_CHUNK = 500
MISSED_AFTER_S = 1.0  # behind schedule by more than this: drop the slot, no burst


@dataclass
class Samples:
    """One row per answered (or failed) request; status 0 means a transport error."""

    t: list[float] = field(default_factory=list)  # monotonic send time
    ms: list[float] = field(default_factory=list)
    version: list[str] = field(default_factory=list)
    status: list[int] = field(default_factory=list)

    def add(self, t: float, ms: float, version: str, status: int) -> None:
        self.t.append(t)
        self.ms.append(ms)
        self.version.append(version)
        self.status.append(status)

    def _where(self, keep: list[bool]) -> Samples:
        out = Samples()
        for i, k in enumerate(keep):
            if k:
                out.add(self.t[i], self.ms[i], self.version[i], self.status[i])
        return out

    def between(self, start: float, end: float) -> Samples:
        """Requests sent in ``[start, end]``."""
        return self._where([start <= t <= end for t in self.t])

    def ok(self) -> Samples:
        return self._where([s == 200 for s in self.status])

    def count(self, version: str | None = None) -> int:
        return len(self.t) if version is None else sum(v == version for v in self.version)

    def failed(self, version: str | None = None) -> int:
        return sum(s != 200 and (version is None or v == version)
                   for s, v in zip(self.status, self.version, strict=True))

    def by_version(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.version:
            out[v] = out.get(v, 0) + 1
        return dict(sorted(out.items()))

    def last_sent(self, version: str) -> float | None:
        times = [t for t, v in zip(self.t, self.version, strict=True) if v == version]
        return max(times) if times else None

    def quantile(self, q: float) -> float | None:
        return float(np.quantile(self.ms, q)) if self.ms else None


@dataclass
class LoadStats:
    sent: int = 0
    missed: int = 0  # schedule slots dropped because the generator fell behind
    transport_errors: int = 0
    labels_sent: int = 0
    labels_failed: int = 0


class Load:
    """One load generator over one HTTP client; :meth:`run` may be called repeatedly."""

    def __init__(self, base_url: str, model: str, *, rate: float, concurrency: int = 64,
                 seed: int = 0, timeout_s: float = 10.0) -> None:
        if httpx.URL(base_url).host not in LOCAL:
            raise ValueError(f"the load generator only targets this machine, not {base_url}")
        self.base_url, self.rate, self.concurrency = base_url, rate, concurrency
        self.timeout_s = timeout_s
        self.predict_url = f"/v1/models/{model}/predict"
        self.feedback_url = f"/v1/models/{model}/feedback"
        self.rng = np.random.default_rng(seed)
        self.samples = Samples()
        self.stats = LoadStats()
        self._labels: list[dict[str, Any]] = []
        self._n = 0
        self._seed = seed

    async def run(self, duration_s: float, stop: asyncio.Event | None = None) -> Samples:
        """Send for ``duration_s`` seconds (or until ``stop``); returns this run's samples."""
        first = len(self.samples.t)
        limits = httpx.Limits(max_connections=self.concurrency,
                              max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, trust_env=False,
                                     timeout=self.timeout_s) as client:
            slots = asyncio.Semaphore(self.concurrency)
            tasks: set[asyncio.Task[None]] = set()
            done = asyncio.Event()
            feedback = asyncio.create_task(self._feedback_loop(client, done))
            interval = 1.0 / self.rate
            t0 = time.monotonic()
            i = 0
            while True:
                target = t0 + i * interval
                if target - t0 >= duration_s or (stop is not None and stop.is_set()):
                    break
                now = time.monotonic()
                if now - target > MISSED_AFTER_S:
                    skip = int((now - target) / interval)
                    self.stats.missed += skip
                    i += skip
                    continue
                if target > now:
                    await asyncio.sleep(target - now)
                await slots.acquire()
                task = asyncio.create_task(self._one(client, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if tasks:
                await asyncio.gather(*tasks)
            done.set()
            await feedback
            await self._send_labels(client)
        out = Samples()
        for j in range(first, len(self.samples.t)):
            out.add(self.samples.t[j], self.samples.ms[j], self.samples.version[j],
                    self.samples.status[j])
        return out

    async def _one(self, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
        self._n += 1
        x = round(float(self.rng.random()), 4)
        key = f"user-{self._seed}-{self._n}"
        self.stats.sent += 1
        t0 = time.monotonic()
        try:
            r = await client.post(self.predict_url, content=orjson.dumps({"x": x}),
                                  headers={"content-type": "application/json",
                                           "x-request-key": key})
        except httpx.HTTPError:
            self.stats.transport_errors += 1
            self.samples.add(t0, (time.monotonic() - t0) * 1000.0, "-", 0)
            return
        finally:
            slots.release()
        ms = (time.monotonic() - t0) * 1000.0
        self.samples.add(t0, ms, r.headers.get("x-model-version", "-"), r.status_code)
        if r.status_code == 200:
            self._labels.append({"request_id": r.headers["x-request-id"], "label": int(x > 0.5)})

    async def _feedback_loop(self, client: httpx.AsyncClient, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), FEEDBACK_EVERY_S)
            await self._send_labels(client)

    async def _send_labels(self, client: httpx.AsyncClient) -> None:
        items, self._labels = self._labels, []
        for i in range(0, len(items), FEEDBACK_CHUNK):
            chunk = items[i:i + FEEDBACK_CHUNK]
            try:
                r = await client.post(self.feedback_url, content=orjson.dumps(chunk),
                                      headers={"content-type": "application/json"})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                self.stats.labels_sent += len(chunk)
            else:
                self.stats.labels_failed += len(chunk)
