"""A bounded load generator for the demo: predictions at a target rate, delayed labels.

:func:`drive` sends prediction requests for rows of a record source (each row holds the
features and the true label) to a rampup server at a target rate, with a request key
(``user-0`` … ``user-N``) per request. For most answered predictions it keeps the true
label and sends it later through the feedback API, after a random delay (labels arrive
late in real life); now and then it reports a user event (``repeated_query``,
``clicked``). A small share of requests is deliberately malformed (a number sent as
text) to show the server's 422 answers. It is bounded by a request count and/or a
duration, so it always stops by itself, and it only talks to this machine.

Randomness comes from one seeded NumPy generator, latencies are measured client-side.

>>> sample = LatencySample(capacity=100, recent=10, seed=0)
>>> for ms in range(1, 1001):
...     sample.add(float(ms))
>>> sample.count, sample.recent_quantile(0.5)
(1000, 995.5)
>>> 300 < (sample.quantile(0.5) or 0) < 700
True
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import orjson

from rampup.errors import ValidationError
from rampup_demo.data import FEATURES, LABEL, LoanGenerator

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_EVENTS: Mapping[str, float] = {"repeated_query": 0.03, "clicked": 0.10}
EVENT_DELAY_S = (0.2, 2.0)
FEEDBACK_CHUNK = 200
TRUTHS_KEPT = 100_000
_CATCH_UP_S = 1.0  # behind schedule by more than this: skip the missed slots, no burst


class LatencySample:
    """Latencies in ms: a seeded uniform reservoir over the whole run plus the latest ones."""

    def __init__(self, capacity: int = 10_000, recent: int = 1000, seed: int = 0) -> None:
        self.capacity = capacity
        self.count = 0
        self._reservoir: list[float] = []
        self._recent: deque[float] = deque(maxlen=recent)
        self._rng = np.random.default_rng(seed)

    def add(self, ms: float) -> None:
        self.count += 1
        self._recent.append(ms)
        if len(self._reservoir) < self.capacity:
            self._reservoir.append(ms)
            return
        slot = int(self._rng.integers(self.count))
        if slot < self.capacity:
            self._reservoir[slot] = ms

    def quantile(self, q: float) -> float | None:
        """Quantile over the whole run (``None`` before the first value)."""
        return float(np.quantile(self._reservoir, q)) if self._reservoir else None

    def recent_quantile(self, q: float) -> float | None:
        """Quantile over the latest values only (for a live status line)."""
        return float(np.quantile(list(self._recent), q)) if self._recent else None


@dataclass
class TrafficStats:
    """What :func:`drive` did. Updated live; read it from ``on_progress``."""

    sent: int = 0  # prediction requests, the deliberately bad ones included
    ok: int = 0
    client_errors: int = 0  # 4xx answers
    server_errors: int = 0  # 5xx answers
    transport_errors: int = 0  # timeouts, refused or dropped connections
    bad_sent: int = 0  # deliberately malformed requests
    bad_rejected: int = 0  # ... that were answered with 422 as they should be
    labels_sent: int = 0  # labels the server accepted
    labels_failed: int = 0
    labels_pending: int = 0  # scheduled, not sent (still due when the run ended)
    events_sent: int = 0
    elapsed_s: float = 0.0
    latency: LatencySample = field(default_factory=LatencySample, repr=False)

    @property
    def p50_ms(self) -> float | None:
        return self.latency.quantile(0.5)

    @property
    def p99_ms(self) -> float | None:
        return self.latency.quantile(0.99)

    @property
    def achieved_rate(self) -> float:
        """Prediction requests per second over the run so far."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def unexpected_errors(self) -> int:
        """Errors other than the 422s the bad requests asked for."""
        return (self.client_errors - self.bad_rejected + self.server_errors
                + self.transport_errors)

    def as_dict(self) -> dict[str, float | int | None]:
        names = ("sent", "ok", "client_errors", "server_errors", "transport_errors",
                 "bad_sent", "bad_rejected", "labels_sent", "labels_failed",
                 "labels_pending", "events_sent", "elapsed_s")
        out: dict[str, float | int | None] = {n: getattr(self, n) for n in names}
        out.update(p50_ms=self.p50_ms, p99_ms=self.p99_ms,
                   achieved_rate=round(self.achieved_rate, 3))
        return out


def check_local(base_url: str) -> httpx.URL:
    """The URL, if it points at this machine over HTTP; else a ValidationError.

    >>> str(check_local("http://127.0.0.1:8000"))
    'http://127.0.0.1:8000'
    >>> check_local("https://example.com")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    rampup.errors.ValidationError: the load generator only targets this machine, not ...
    """
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or url.host not in LOCAL_HOSTS:
        raise ValidationError(
            f"the load generator only targets this machine, not {url.host or base_url!r}",
            fix="start the server locally and use http://127.0.0.1:PORT", field="base_url")
    return url


def generator_source(generator: LoanGenerator, chunk: int = 256) -> Iterator[dict[str, Any]]:
    """An endless stream of generated rows, drawn ``chunk`` at a time."""
    while True:
        yield from generator.records(chunk)


def malformed(record: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A copy of ``record`` with one number sent as text (a wrong type: the server says 422).

    >>> malformed({"age": 41, "region": "x"}, np.random.default_rng(0))
    {'age': 'not a number', 'region': 'x'}
    """
    out = dict(record)
    numeric = [k for k, v in out.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if numeric:
        out[numeric[int(rng.integers(len(numeric)))]] = "not a number"
    else:
        out["unexpected_field"] = "not a feature"
    return out


class _Driver:
    """One run of :func:`drive`: the client, the schedule of pending feedback, the stats."""

    def __init__(self, client: httpx.AsyncClient, model: str, *, features: Sequence[str],
                 label: str, concurrency: int, key_pool: int, label_delay_s: tuple[float, float],
                 label_fraction: float, event_rates: Mapping[str, float], bad_fraction: float,
                 seed: int, on_progress: Callable[[TrafficStats], None] | None,
                 truths: MutableMapping[str, Any] | None = None) -> None:
        self.client = client
        self.predict_url = f"/v1/models/{model}/predict"
        self.feedback_url = f"/v1/models/{model}/feedback"
        self.features, self.label = list(features), label
        self.key_pool, self.label_delay_s = key_pool, label_delay_s
        self.label_fraction, self.bad_fraction = label_fraction, bad_fraction
        self.event_rates = dict(event_rates)
        self.rng = np.random.default_rng(seed)
        self.stats = TrafficStats(latency=LatencySample(seed=seed))
        self.on_progress = on_progress
        self.truths = truths
        self.slots = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending: list[tuple[float, int, str, dict[str, Any]]] = []  # (due, seq, kind, item)
        self._seq = itertools.count()
        self.started = time.perf_counter()

    def tick(self) -> None:
        self.stats.elapsed_s = time.perf_counter() - self.started
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _later(self, delay: float, kind: str, item: dict[str, Any]) -> None:
        heapq.heappush(self.pending, (time.monotonic() + delay, next(self._seq), kind, item))
        self.stats.labels_pending += kind == "label"

    def launch(self, row: Mapping[str, Any]) -> None:
        record = {k: row.get(k) for k in self.features}
        bad = bool(self.rng.random() < self.bad_fraction)
        if bad:
            record = malformed(record, self.rng)
        key = f"user-{int(self.rng.integers(self.key_pool))}"
        task = asyncio.create_task(self._predict(record, key, row.get(self.label), bad))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _predict(self, record: dict[str, Any], key: str, label: Any, bad: bool) -> None:
        s = self.stats
        s.sent += 1
        s.bad_sent += bad
        try:
            t0 = time.perf_counter()
            try:
                response = await self.client.post(
                    self.predict_url, content=orjson.dumps(record),
                    headers={"content-type": "application/json", "x-request-key": key})
            except httpx.HTTPError:
                s.transport_errors += 1
                return
            ms = (time.perf_counter() - t0) * 1000.0
            if response.status_code >= 500:
                s.server_errors += 1
            elif response.status_code >= 400:
                s.client_errors += 1
                s.bad_rejected += bad and response.status_code == 422
            else:
                s.ok += 1
                s.latency.add(ms)
                request_id = str(response.json()["request_id"])
                self._remember(request_id, label)
                self._schedule_feedback(request_id, label)
        finally:
            self.slots.release()
            self.tick()

    def _remember(self, request_id: str, label: Any) -> None:
        """Keep the true label by request id (for a simulated reviewer), newest
        ``TRUTHS_KEPT`` only."""
        if self.truths is None or label is None:
            return
        self.truths[request_id] = label
        if len(self.truths) > TRUTHS_KEPT:
            del self.truths[next(iter(self.truths))]

    def _schedule_feedback(self, request_id: str, label: Any) -> None:
        if label is not None and self.rng.random() < self.label_fraction:
            self._later(float(self.rng.uniform(*self.label_delay_s)), "label",
                        {"request_id": request_id, "label": label, "source": "demo"})
        for name, rate in self.event_rates.items():
            if self.rng.random() < rate:
                self._later(float(self.rng.uniform(*EVENT_DELAY_S)), "event",
                            {"request_id": request_id, "events": [name], "source": "demo"})

    async def send_due(self, now: float) -> None:
        """POST every pending feedback item due by ``now`` (monotonic), in chunks."""
        due: list[tuple[str, dict[str, Any]]] = []
        while self.pending and self.pending[0][0] <= now:
            _, _, kind, item = heapq.heappop(self.pending)
            due.append((kind, item))
        for i in range(0, len(due), FEEDBACK_CHUNK):
            await self._post_feedback(due[i:i + FEEDBACK_CHUNK])

    async def _post_feedback(self, chunk: list[tuple[str, dict[str, Any]]]) -> None:
        s = self.stats
        labels = sum(kind == "label" for kind, _ in chunk)
        s.labels_pending -= labels
        try:
            response = await self.client.post(
                self.feedback_url, content=orjson.dumps([item for _, item in chunk]),
                headers={"content-type": "application/json"})
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            s.labels_sent += labels
            s.events_sent += len(chunk) - labels
        else:
            s.labels_failed += labels
        self.tick()

    async def feedback_loop(self, done: asyncio.Event) -> None:
        while not done.is_set():
            await self.send_due(time.monotonic())
            await _wait(done, 0.2)


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``event``; True if it is set."""
    if timeout > 0 and not event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
    return event.is_set()


async def drive(
    base_url: str, model: str, records_source: Iterable[Mapping[str, Any]], *,
    rate_per_s: float, duration_s: float | None = None, max_requests: int | None = None,
    concurrency: int = 8, key_pool: int = 500, label_delay_s: tuple[float, float] = (2.0, 10.0),
    label_fraction: float = 0.8, event_rates: Mapping[str, float] = DEFAULT_EVENTS,
    bad_fraction: float = 0.01, send_pending_labels: bool = True,
    headers: Mapping[str, str] | None = None,
    on_progress: Callable[[TrafficStats], None] | None = None,
    stop: asyncio.Event | None = None, seed: int = 0, timeout_s: float = 10.0,
    features: Sequence[str] = FEATURES, label: str = LABEL,
    truths: MutableMapping[str, Any] | None = None,
) -> TrafficStats:
    """Send predictions for rows of ``records_source`` to ``model`` at ``base_url``.

    Stops after ``max_requests`` requests, after ``duration_s`` seconds, when ``stop``
    is set or when the source runs dry, whichever comes first (at least one of the two
    bounds is required). In-flight requests are then awaited; labels not yet due are
    sent at once with ``send_pending_labels`` (so the log ends complete), otherwise
    they are counted in ``labels_pending``. ``headers`` go with every request (e.g. a
    prediction token). ``truths``, when given, receives request id → true label of each
    answered request (the newest 100,000), for a simulated reviewer.
    """
    check_local(base_url)
    if duration_s is None and max_requests is None:
        raise ValidationError("the load generator needs a bound",
                              fix="pass duration_s and/or max_requests")
    if not rate_per_s > 0 or concurrency < 1 or key_pool < 1:
        raise ValidationError(
            f"rate_per_s must be > 0, concurrency and key_pool >= 1 (got {rate_per_s!r}, "
            f"{concurrency}, {key_pool})", fix="pass e.g. rate_per_s=20, concurrency=8")
    lo, hi = label_delay_s
    if not 0 <= lo <= hi:
        raise ValidationError(f"label_delay_s must be (low, high) with 0 <= low <= high, got "
                              f"{label_delay_s!r}", fix="pass e.g. label_delay_s=(2, 10)")
    stop = stop or asyncio.Event()
    limits = httpx.Limits(max_connections=concurrency + 2,
                          max_keepalive_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=base_url, headers=dict(headers or {}),
                                 timeout=timeout_s, limits=limits, trust_env=False) as client:
        d = _Driver(client, model, features=features, label=label, concurrency=concurrency,
                    key_pool=key_pool, label_delay_s=(lo, hi), label_fraction=label_fraction,
                    event_rates=event_rates, bad_fraction=bad_fraction, seed=seed,
                    on_progress=on_progress, truths=truths)
        done = asyncio.Event()
        feedback = asyncio.create_task(d.feedback_loop(done))
        try:
            await _schedule(d, iter(records_source), rate_per_s, duration_s, max_requests, stop)
            if d.tasks:
                await asyncio.gather(*d.tasks, return_exceptions=True)
        except BaseException:
            for task in list(d.tasks):
                task.cancel()
            done.set()
            feedback.cancel()
            raise
        done.set()
        await feedback
        await d.send_due(math.inf if send_pending_labels else time.monotonic())
        d.tick()
    return d.stats


async def _schedule(d: _Driver, rows: Iterator[Mapping[str, Any]], rate: float,
                    duration_s: float | None, max_requests: int | None,
                    stop: asyncio.Event) -> None:
    """Launch one request per slot of a fixed-rate schedule until a bound is reached."""
    interval = 1.0 / rate
    t0 = time.monotonic()
    deadline = t0 + duration_s if duration_s is not None else math.inf
    for i in itertools.count():
        if max_requests is not None and i >= max_requests:
            return
        now = time.monotonic()
        if now - (t0 + i * interval) > _CATCH_UP_S:
            t0 = now - i * interval
        target = t0 + i * interval
        if target >= deadline or await _wait(stop, target - now):
            return
        await d.slots.acquire()
        if stop.is_set() or time.monotonic() >= deadline:
            d.slots.release()
            return
        row = next(rows, None)
        if row is None:
            d.slots.release()
            return
        d.launch(row)
