"""The dead-letter place: records a worker could not write, kept with the reason.

Every background worker hands what the store refuses (after isolation, see
:mod:`rampup.runtime.isolate`) to :meth:`DeadLetters.add`: the payload is made safe
(JSON when possible, else a bounded repr; escaped, size-capped), counted in
``rampup_dead_letters_total{worker}``, logged, and written to the ``dead_letters``
table. While the store is unreachable they wait in memory (bounded; overflow is counted
as ``lost``) and go out with the next dead letter or :meth:`flush`. The same failure of
the same item repeated within ``repeat_s`` (a poisoned rollout judged every pass) is
counted but stored once, and at most ``max_per_minute`` are stored per worker and minute
(a systemic failure, or a flood of hostile records, must not flood the database too);
the rest are counted (the metric, ``suppressed``) and logged once a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from rampup.runtime.faults import classify, describe, safe_payload, safe_text

if TYPE_CHECKING:
    from rampup.store import Database

log = logging.getLogger("rampup.runtime")

NAME_LIMIT = 63
KEY_LIMIT = 255


@dataclass
class DeadLetterStats:
    added: int = 0  # every bad record handed over (the metric)
    stored: int = 0
    suppressed: int = 0  # repeats within repeat_s, or over max_per_minute
    lost: int = 0  # could not be kept (store down and the buffer full, or broken)
    pending: int = 0


class DeadLetters:
    def __init__(self, store: Database, *, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time, replica: str = "",
                 max_pending: int = 10_000, repeat_s: float = 3600.0,
                 remember: int = 10_000, max_per_minute: int = 120) -> None:
        self.store = store
        self.clock = clock
        self.replica = replica[:128]
        self.max_pending = max_pending
        self.repeat_s = repeat_s
        self.remember = remember
        self.max_per_minute = max_per_minute
        self._minute: dict[str, tuple[float, int]] = {}  # worker -> (minute began, stored)
        self.stats = DeadLetterStats()
        self._pending: list[dict[str, Any]] = []
        self._seen: OrderedDict[tuple[str, str | None, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self.counter = Counter("rampup_dead_letters", "Records a background worker could "
                               "not write (kept in the dead_letters table)", ["worker"],
                               registry=registry or CollectorRegistry())

    def add(self, worker: str, error: BaseException | str, payload: Any, *,
            key: str | None = None, model: str | None = None) -> None:
        """Keep ``payload`` as a dead letter of ``worker`` because of ``error``. Never
        raises: a dead-letter place that fails must not take its worker down."""
        try:
            self._add(worker, error, payload, key, model)
        except Exception:  # pragma: no cover - defensive: the caller must go on
            log.exception("dead letter of %s could not be kept", worker)
            with self._lock:
                self.stats.lost += 1

    def _add(self, worker: str, error: BaseException | str, payload: Any,
             key: str | None, model: str | None) -> None:
        reason = describe(error) if isinstance(error, BaseException) else safe_text(error, 500)
        key_text = None if key is None else safe_text(key, KEY_LIMIT - 40)
        self.counter.labels(worker).inc()
        now = self.clock()
        with self._lock:
            self.stats.added += 1
            memo = (worker, key_text, reason)
            last = self._seen.get(memo)
            if last is not None and now - last < self.repeat_s:
                self.stats.suppressed += 1
                return
            self._seen[memo] = now
            self._seen.move_to_end(memo)
            while len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            began, stored = self._minute.get(worker, (now, 0))
            if now - began >= 60.0:
                began, stored = now, 0
            self._minute[worker] = (began, stored + 1)
            if stored >= self.max_per_minute:
                self.stats.suppressed += 1
                if stored == self.max_per_minute:
                    log.error("dead letters of %s: over %d this minute; the rest are "
                              "counted, not stored", worker, self.max_per_minute)
                return
        text, chars = safe_payload(payload)
        log.error("dead letter from %s%s: %s", worker,
                  f" (record {key_text})" if key_text else "", reason)
        row = {"ts": now, "worker": worker[:NAME_LIMIT], "reason": reason, "key": key_text,
               "model": None if model is None else safe_text(model, NAME_LIMIT)[:NAME_LIMIT],
               "payload": text, "payload_chars": chars, "replica": self.replica}
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.stats.lost += 1
                log.error("dead letters: %d waiting for the store; one more lost",
                          len(self._pending))
            else:
                self._pending.append(row)
            self.stats.pending = len(self._pending)
        self.flush()

    def flush(self) -> bool:
        """Write what waits; True when nothing is left waiting."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return True
        try:
            self.store.dead_letters.add_dead_letters(rows)
        except Exception as exc:
            if classify(exc) == "transient":
                with self._lock:
                    self._pending[:0] = rows
                    self.stats.pending = len(self._pending)
                return False
            # The rows are safe text, so this is the table itself (an old schema?)
            log.exception("dead letters: %d could not be stored", len(rows))
            with self._lock:
                self.stats.lost += len(rows)
                self.stats.pending = len(self._pending)
            return False
        with self._lock:
            self.stats.stored += len(rows)
            self.stats.pending = len(self._pending)
        return True

    def describe(self) -> dict[str, int]:
        with self._lock:
            return dict(vars(self.stats))

