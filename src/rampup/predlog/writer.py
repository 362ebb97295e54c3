"""The prediction log writer: a bounded queue drained by one thread in batched inserts.

Serving hands records over with :meth:`LogWriter.try_submit` (never touches the
database). When the queue is full the policy is explicit: :meth:`submit_async` waits up
to ``block_timeout`` for room, then drops the records and counts them in
``stats.dropped`` (a metric) — never silently. Batch jobs use :meth:`submit_blocking`,
which waits for room, so nothing is dropped. Records are serialised and written off
the hot path; on shutdown the queue is drained.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from rampup.store import Store

log = logging.getLogger("rampup.predlog")

_DUMP_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class PredictionRecord:
    """One logged prediction, as the hot path builds it (serialised later)."""

    __slots__ = ("confidence", "error", "id", "inputs", "latency_ms", "model", "outputs",
                 "request_id", "request_key", "role", "stage", "ts", "version")

    def __init__(self, id: str, request_id: str, ts: float, model: str, version: str,
                 role: str, inputs: Any, outputs: Any, confidence: float | None,
                 latency_ms: float, error: str | None = None, request_key: str | None = None,
                 stage: str | None = None) -> None:
        self.id = id
        self.request_id = request_id
        self.ts = ts
        self.model = model
        self.version = version
        self.role = role
        self.stage = stage
        self.inputs = inputs
        self.outputs = outputs
        self.confidence = confidence
        self.latency_ms = latency_ms
        self.error = error
        self.request_key = request_key

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id, "request_id": self.request_id, "ts": self.ts, "model": self.model,
            "version": self.version, "role": self.role, "stage": self.stage,
            "inputs": _dumps(self.inputs),
            "outputs": None if self.outputs is None else _dumps(self.outputs),
            "confidence": self.confidence, "latency_ms": self.latency_ms,
            "error": self.error, "request_key": self.request_key,
        }


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_DUMP_OPTS).decode()
    except TypeError:
        return orjson.dumps(value, default=str, option=_DUMP_OPTS).decode()


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    duplicates: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str | None = None


class LogWriter:
    """Background writer of prediction records into the store."""

    def __init__(self, store: Store, *, queue_size: int = 100_000, batch_size: int = 2000,
                 flush_interval: float = 0.2, block_timeout: float = 0.05,
                 retry_backoff: float = 0.5) -> None:
        self.store = store
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.block_timeout = block_timeout
        self.retry_backoff = retry_backoff
        self.stats = WriterStats()
        self._queue: deque[PredictionRecord] = deque()
        self._pending_ids: set[str] = set()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> LogWriter:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="rampup-log-writer",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Drain the queue and stop; records still queued after ``timeout`` count as dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._cond:
            if self._queue:
                lost = len(self._queue)
                self.stats.dropped += lost
                log.error("prediction log: %d records could not be written before shutdown", lost)
                self._queue.clear()
                self._pending_ids.clear()

    def __enter__(self) -> LogWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- submitting ---------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return len(self._queue)

    def try_submit(self, records: Sequence[PredictionRecord]) -> bool:
        """Queue all records if there is room for all of them; never blocks."""
        with self._cond:
            if len(self._queue) + len(records) > self.queue_size:
                return False
            self._queue.extend(records)
            self._pending_ids.update(r.id for r in records)
            self.stats.submitted += len(records)
            if len(self._queue) >= self.batch_size:
                self._cond.notify()
        return True

    async def submit_async(self, records: Sequence[PredictionRecord]) -> bool:
        """Queue records; when full, wait up to ``block_timeout`` then drop and count them."""
        if self.try_submit(records):
            return True
        deadline = time.monotonic() + self.block_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.001)
            if self.try_submit(records):
                return True
        self._drop(len(records))
        return False

    def submit_blocking(self, records: Sequence[PredictionRecord],
                        timeout: float | None = None) -> bool:
        """Queue records, waiting for room as long as needed (batch jobs: lose nothing)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        step = max(1, min(len(records), self.queue_size // 2))
        for i in range(0, len(records), step):
            part = records[i:i + step]
            while not self.try_submit(part):
                if deadline is not None and time.monotonic() > deadline:
                    self._drop(len(records) - i)
                    return False
                with self._cond:
                    self._cond.notify()
                time.sleep(0.005)
        return True

    def _drop(self, n: int) -> None:
        with self._cond:
            self.stats.dropped += n
        log.warning("prediction log queue full (%d): dropped %d records", self.queue_size, n)

    def is_pending(self, prediction_id: str) -> bool:
        """True while a record is queued or being written (not yet visible in the store)."""
        return prediction_id in self._pending_ids

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or failed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
                self._cond.notify_all()
        return True

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._stopping:
                    self._cond.wait(self.flush_interval)
                if not self._queue:
                    if self._stopping:
                        return
                    continue
                n = min(len(self._queue), self.batch_size)
                batch = [self._queue.popleft() for _ in range(n)]
                self._in_flight = n
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._pending_ids.difference_update(r.id for r in batch)
                    self._cond.notify_all()

    def _write(self, batch: list[PredictionRecord]) -> None:
        rows = [r.to_row() for r in batch]
        attempt = 0
        while True:
            try:
                # ids already stored are skipped, so a retry after an ambiguous failure
                # (committed, but the connection dropped) never duplicates a record.
                n = self.store.insert_predictions(rows)
                self.stats.written += n
                self.stats.duplicates += len(rows) - n
                self.stats.batches += 1
                return
            except sa.exc.IntegrityError:
                self._write_one_by_one(rows)
                return
            except sa.exc.SQLAlchemyError as exc:
                # The store is down or busy: keep the records and retry, unless shutting down
                # has gone on too long (stop() then counts what is left as dropped).
                attempt += 1
                self.stats.retries += 1
                self.stats.last_error = str(exc.__cause__ or exc)[:500]
                if attempt == 1 or attempt % 20 == 0:
                    log.warning("prediction log: write failed (%s); retrying",
                                self.stats.last_error)
                if self._stopping and attempt >= 3:
                    self.stats.failed += len(rows)
                    log.error("prediction log: gave up on %d records at shutdown", len(rows))
                    return
                time.sleep(min(self.retry_backoff * attempt, 5.0))

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            try:
                self.store.insert_predictions([row])
                self.stats.written += 1
            except sa.exc.IntegrityError as exc:
                self.stats.failed += 1
                self.stats.last_error = str(exc.orig)[:500]
                log.error("prediction log: record %s rejected: %s", row["id"], exc.orig)
        self.stats.batches += 1
