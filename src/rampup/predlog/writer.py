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
from pathlib import Path
from typing import Any

import orjson

from rampup.runtime import (
    DeadLetters,
    Supervised,
    Supervisor,
    WorkerContext,
    classify,
    describe,
    map_isolated,
    write_isolated,
)
from rampup.runtime.faults import json_safe
from rampup.security.privacy import Privacy
from rampup.store import Database

log = logging.getLogger("rampup.predlog")

_DUMP_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class PredictionRecord:
    """One logged prediction, as the hot path builds it (serialised later)."""

    __slots__ = ("confidence", "error", "id", "inputs", "latency_ms", "model", "outputs",
                 "protected", "request_id", "request_key", "role", "stage", "ts", "version")

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
        self.protected = False  # privacy rules applied (rampup.security.privacy)

    def to_row(self) -> dict[str, Any]:
        return self.to_row_of(self.inputs, self.outputs)

    def to_safe_row(self) -> tuple[dict[str, Any], list[str]]:
        """:meth:`to_row` with what no store accepts escaped (lone surrogates, NUL,
        integers beyond 64 bits; see :func:`~rampup.runtime.faults.json_safe`), and the
        paths that changed."""
        inputs, changed_in = json_safe(self.inputs)
        outputs, changed_out = json_safe(self.outputs)
        row = {**self.to_row_of(inputs, outputs)}
        row, changed_cols = json_safe(row)
        return row, ([f"inputs.{p}" for p in changed_in] + [f"outputs.{p}" for p in changed_out]
                     + [c for c in changed_cols if c not in ("inputs", "outputs")])

    def to_row_of(self, inputs: Any, outputs: Any) -> dict[str, Any]:
        return {
            "id": self.id, "request_id": self.request_id, "ts": self.ts, "model": self.model,
            "version": self.version, "role": self.role, "stage": self.stage,
            "inputs": _dumps(inputs), "outputs": None if outputs is None else _dumps(outputs),
            "confidence": self.confidence, "latency_ms": self.latency_ms,
            "error": self.error, "request_key": self.request_key,
        }

    def to_payload(self) -> dict[str, Any]:
        """The record as it was handed over (for a dead letter: nothing serialised)."""
        return {k: getattr(self, k) for k in self.__slots__ if k != "protected"}


def _loggable(v: Any) -> Any:
    """A decoded image or audio input logs as its summary (hash, size, input metrics),
    computed here, on the writer's thread; anything else unknown as its text."""
    to_log = getattr(v, "to_log", None)
    return to_log() if callable(to_log) else str(v)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_DUMP_OPTS).decode()
    except TypeError:
        return orjson.dumps(value, default=_loggable, option=_DUMP_OPTS).decode()


@dataclass
class WriterStats:
    submitted: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str | None = None


WORKER = "log-writer"
STALL_AFTER_S = 120.0  # a batch insert, or one retry wait, never takes this long


class LogWriter:
    """Background writer of prediction records into the store, run by a
    :class:`~rampup.runtime.Supervisor` (its own when none is given).

    A record that cannot be serialised or stored goes to the dead letters and the rest
    of its batch is written (:func:`~rampup.runtime.write_isolated`); while the store is
    unreachable the batch is retried and the queue holds the rest; if the thread dies
    anyway, the batch it held goes back to the front of the queue and the supervisor
    starts it again.
    """

    def __init__(self, store: Database, *, queue_size: int = 100_000, batch_size: int = 2000,
                 flush_interval: float = 0.2, block_timeout: float = 0.05,
                 retry_backoff: float = 0.5, dead_letters: DeadLetters | None = None,
                 input_bytes_dir: Path | None = None) -> None:
        self.store = store
        # where the bytes of image/audio inputs are kept (off by default): one file per
        # content hash, <dir>/<sha256[:2]>/<sha256>.<format>; the row keeps the hash
        self.input_bytes_dir = input_bytes_dir
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.block_timeout = block_timeout
        self.retry_backoff = retry_backoff
        self.dead_letters = dead_letters or DeadLetters(store)
        #: the project's privacy rules, applied to every record handed over (None: none)
        self.privacy: Privacy | None = None
        self.stats = WriterStats()
        self._queue: deque[PredictionRecord] = deque()
        self._pending_ids: set[str] = set()
        self._cond = threading.Condition()
        self._batch: list[PredictionRecord] = []  # taken from the queue, not yet written
        self._in_flight = 0
        self._dead_rows = 0  # rows of the batch being written that the store refused
        self._stopping = False
        self._handle: Supervised | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, supervisor: Supervisor | None = None) -> LogWriter:
        if self._handle is None:
            self._stopping = False
            self._handle = (supervisor or Supervisor()).start(
                WORKER, self._run, stall_after=STALL_AFTER_S)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Drain the queue and stop; records still queued after ``timeout`` count as dropped."""
        handle = self._handle
        if handle is not None:
            handle.request_stop()  # first: the loop may end as soon as it sees _stopping
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if handle is not None:
            handle.join(timeout)
            self._handle = None
        with self._cond:
            self._queue.extendleft(reversed(self._batch))
            self._batch = []
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
        if self.privacy is not None:
            self.privacy.protect(records)
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

    def _run(self, ctx: WorkerContext) -> None:
        with self._cond:  # a batch held when the last run died goes first
            self._queue.extendleft(reversed(self._batch))
            self._batch = []
            self._in_flight = 0
        while True:
            ctx.beat()
            with self._cond:
                if not self._queue and not self._stopping:
                    self._cond.wait(self.flush_interval)
                if not self._queue:
                    if self._stopping:
                        return
                    continue
                n = min(len(self._queue), self.batch_size)
                self._batch = [self._queue.popleft() for _ in range(n)]
                self._in_flight = n
            batch = self._batch
            self._write(batch, ctx)
            with self._cond:
                self._batch = []
                self._in_flight = 0
                self._pending_ids.difference_update(r.id for r in batch)
                self._cond.notify_all()

    def _keep_bytes(self, batch: list[PredictionRecord]) -> None:
        """Write the bytes of the batch's binary inputs (each content once)."""
        assert self.input_bytes_dir is not None
        for record in batch:
            values = record.inputs.values() if isinstance(record.inputs, dict) else ()
            for v in values:
                data, sha, fmt = (getattr(v, "data", None), getattr(v, "sha256", None),
                                  getattr(v, "format", None))
                if not isinstance(data, bytes) or not isinstance(sha, str):
                    continue
                path = self.input_bytes_dir / sha[:2] / f"{sha}.{str(fmt).lower()}"
                if path.exists():
                    continue
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".part")
                    tmp.write_bytes(data)
                    tmp.replace(path)
                except OSError as exc:  # a full disk must not stop the log itself
                    self.stats.last_error = f"input bytes not kept: {exc}"

    def _write(self, batch: list[PredictionRecord], ctx: WorkerContext) -> None:
        if self.input_bytes_dir is not None:
            self._keep_bytes(batch)
        rows = map_isolated(batch, PredictionRecord.to_row, self._repair_record)
        attempt = 0
        while True:
            try:
                # ids already stored are skipped, so a retry after an ambiguous failure
                # (committed, but the connection dropped) never duplicates a record.
                self._dead_rows = 0
                n = write_isolated(rows, self.store.predictions.insert_predictions, self._dead_row)
                self.stats.written += n
                self.stats.duplicates += len(rows) - n - self._dead_rows
                self.stats.batches += 1
                if self.dead_letters.stats.pending:
                    self.dead_letters.flush()
                return
            except Exception as exc:
                if classify(exc) != "transient":
                    raise  # a bug or a broken store: the supervisor restarts us
                # The store is down or busy: keep the records and retry, unless shutting down
                # has gone on too long (stop() then counts what is left as dropped).
                attempt += 1
                self.stats.retries += 1
                self.stats.last_error = describe(exc)
                if attempt == 1 or attempt % 20 == 0:
                    log.warning("prediction log: write failed (%s); retrying",
                                self.stats.last_error)
                if self._stopping and attempt >= 3:
                    self.stats.failed += len(rows)
                    log.error("prediction log: gave up on %d records at shutdown", len(rows))
                    return
                ctx.beat()
                time.sleep(min(self.retry_backoff * attempt, 5.0))

    # A record the store cannot take is stored with those values escaped when that is
    # enough (its id was acknowledged: feedback must find it), and always dead-lettered
    # as it came, with the reason; only a record that cannot be stored even so is lost
    # to the log (and kept in the dead letters).

    def _repair_record(self, record: PredictionRecord, exc: BaseException) -> dict[str, Any]:
        """Serialising failed: the escaped row, to be written with the batch."""
        row, changed = record.to_safe_row()
        self._note(exc, record.to_payload(), record.id, record.model,
                   f"stored with escaped values at {', '.join(changed) or '?'}")
        return row

    def _dead_row(self, row: dict[str, Any], exc: BaseException) -> None:
        """The store refused this row even alone: try it escaped, else only keep it as a
        dead letter."""
        self._dead_rows += 1
        safe, changed = json_safe(row)
        try:
            stored = bool(changed) and self.store.predictions.insert_predictions([safe]) >= 0
        except Exception as again:
            if classify(again) != "record":
                raise
            stored = False
        if stored:
            self.stats.written += 1
        self._note(exc, row, row["id"], row["model"],
                   f"stored with escaped values at {', '.join(changed)}" if stored
                   else "not stored")

    def _note(self, exc: BaseException, payload: Any, key: str, model: str,
              outcome: str) -> None:
        self.stats.dead_letters += 1
        self.stats.last_error = describe(exc)
        self.dead_letters.add(WORKER, f"{describe(exc)}; {outcome}", payload, key=key,
                              model=model)
