"""The automation level inside a serving process: decide per record, queue review items.

:meth:`AutomationRuntime.annotate` runs on the hot path after the model answered: it
adds ``status``/``decided_by`` (and ``review_id``) to each response item and hands
review items to a bounded in-memory queue. One supervised background worker
(``review-writer``) writes those items to the store in batches (an item the store
refuses is dead-lettered, the rest written) and, every ``refresh_interval``, re-reads
the run-time level overrides (set by the CLI or admin API), the calibration maps and the
queue lengths, so a level change reaches every replica within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from rampup.automation.confidence import Calibrator, ConfidenceFn, load_function
from rampup.automation.levels import HUMAN_ONLY, decide, sample_weight
from rampup.automation.media import item_inputs
from rampup.automation.spec import AutomationSpec
from rampup.host import WorkerHost
from rampup.project import ProjectFile
from rampup.registry.predictor import PredictionBatch
from rampup.registry.schema import OutputSpec
from rampup.runtime import (
    DeadLetters,
    Supervised,
    Supervisor,
    WorkerContext,
    classify,
    describe,
    write_isolated,
)
from rampup.runtime.faults import json_safe
from rampup.security.privacy import Privacy
from rampup.store import Database

log = logging.getLogger("rampup.automation")

HUMAN = "human"  # the built-in pseudo-version (rampup.serving.human.HUMAN)
WORKER = "review-writer"
STALL_AFTER_S = 120.0
PRIORITY = {"human_only": 10, "shadow": 10, "assist": 10, "low_confidence": 10, "audit": 0}
_DEFAULT = AutomationSpec()


class AutomationRuntime:
    def __init__(self, store: Database, project: ProjectFile, *,
                 registry: CollectorRegistry | None = None, queue_size: int = 50_000,
                 flush_interval: float = 0.05, refresh_interval: float = 1.0,
                 clock: Callable[[], float] = time.time,
                 dead_letters: DeadLetters | None = None) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.privacy: Privacy | None = None  # protected fields never reach a review item
        self.specs = {n: m.automation for n, m in project.models.items()}
        self.overrides: dict[str, str] = {}
        self.calibrators: dict[tuple[str, str], Calibrator] = {}
        self.queue_lengths: dict[str, int] = {}
        self._functions: dict[str, ConfidenceFn] = {}
        self._q: deque[dict[str, Any]] = deque()
        self._queue_size = queue_size
        self._flush_interval = flush_interval
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._enqueued = 0
        self._written = 0
        self.dropped = 0
        self.dropped_in_write = 0
        self.dead_lettered = 0
        self._wake = threading.Event()
        self._handle: Supervised | None = None
        self._children: dict[tuple[str, str], Any] = {}
        r = registry or CollectorRegistry()
        self.decisions = Counter("rampup_automation_decisions",
                                 "Answered records by automation status (decided, suggestion, "
                                 "pending_review, pending_human)",
                                 ["model", "status"], registry=r)
        self.queued = Counter("rampup_review_items_queued", "Review items queued, by reason",
                              ["model", "reason"], registry=r)
        self.queue_length = Gauge("rampup_review_queue_length",
                                  "Open and disputed review items (store, refreshed each "
                                  "second)", ["model"], registry=r, multiprocess_mode="max")

    # -- configuration --------------------------------------------------------------------

    def spec(self, model: str) -> AutomationSpec:
        return self.specs.get(model, _DEFAULT)

    def level(self, model: str) -> str:
        return self.overrides.get(model) or self.spec(model).level

    def skips_model(self, model: str) -> bool:
        """At ``human_only`` the model is not called."""
        return self.level(model) == "human_only"

    # -- hot path -------------------------------------------------------------------------

    def annotate(self, model: str, version: str, output: OutputSpec, records: list[Any],
                 out: PredictionBatch, ids: list[str], request_id: str,
                 preds: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add the decision to each item of ``preds`` (kept whole for the prediction log)
        and return the items for the response (the model's output removed where humans
        decide without seeing it)."""
        level = self.level(model)
        spec = self.spec(model)
        if version != HUMAN and level == "full" and spec.audit_rate == 0:
            for item in preds:
                item["status"] = "decided"
                item["decided_by"] = "model"
            self._count(model, "decided", len(preds))
            return preds
        conf = self._confidence(model, version, spec, records, out)
        now = self._clock()
        shown: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for i, item in enumerate(preds):
            pid = ids[i]
            if version == HUMAN:
                dec = HUMAN_ONLY
            else:
                dec = decide(spec, level, out.predictions[i], conf[i] if conf else None, pid)
            if version != HUMAN or level == "human_only":
                item["status"] = dec.status  # the pseudo-version keeps "pending_human"
            item["decided_by"] = dec.decided_by
            if dec.reason is not None:
                if dec.reason != "audit":
                    item["review_id"] = pid
                self._enqueue(self._row(model, version, output, spec, dec.reason,
                                        dec.show, records[i], item, conf[i] if conf else None,
                                        pid, request_id, now, sample_weight(dec, spec)))
            counts[item["status"]] = counts.get(item["status"], 0) + 1
            if dec.show:
                shown.append(item)
            else:
                shown.append({"id": pid, "prediction": None, "status": item["status"],
                              "decided_by": dec.decided_by, "review_id": pid})
        for status, n in counts.items():
            self._count(model, status, n)
        return shown

    def _count(self, model: str, status: str, n: int) -> None:
        child = self._children.get((model, status))
        if child is None:  # labels() is a lock + dict lookup; keep the child instead
            child = self._children[(model, status)] = self.decisions.labels(model, status)
        child.inc(n)

    def _confidence(self, model: str, version: str, spec: AutomationSpec,
                    records: list[Any], out: PredictionBatch) -> list[float | None] | None:
        conf = out.confidence
        if spec.confidence == "calibrated" and conf is not None:
            cal = self.calibrators.get((model, version))
            return cal.apply(conf) if cal is not None else conf
        if spec.confidence == "function" and spec.confidence_function and version != HUMAN:
            fn = self._functions.get(spec.confidence_function)
            if fn is None:
                fn = self._functions[spec.confidence_function] = load_function(
                    spec.confidence_function)
            values: list[float | None] = []
            for i, rec in enumerate(records):
                v = fn(rec, out.record(i))
                values.append(None if v is None else float(v))
            return values
        return conf

    @staticmethod
    def _row(model: str, version: str, output: OutputSpec, spec: AutomationSpec, reason: str,
             show: bool, record: Any, item: dict[str, Any], confidence: float | None,
             pid: str, request_id: str, now: float, weight: float) -> dict[str, Any]:
        suggestion = None
        if version != HUMAN:
            suggestion = {k: item[k] for k in ("prediction", "probabilities") if k in item}
        choices = list(spec.labels) if spec.labels else (
            list(output.classes) if output.classes is not None else None)
        return {"id": pid, "model": model, "version": version, "request_id": request_id,
                "created_at": now, "reason": reason, "priority": PRIORITY[reason],
                "status": "open", "inputs": record, "suggestion": suggestion,
                "confidence": confidence, "show_suggestion": show, "choices": choices,
                "weight": weight, "reviewers_needed": spec.reviewers_per_item, "n_labels": 0}

    def _enqueue(self, row: dict[str, Any]) -> None:
        if self.privacy is not None:
            row["inputs"] = self.privacy.scrub(row["model"], row["inputs"])
        if len(self._q) >= self._queue_size:
            self.dropped += 1
            log.warning("review queue buffer full: item %s dropped", row["id"])
            return
        self._q.append(row)
        self._enqueued += 1
        self.queued.labels(row["model"], row["reason"]).inc()

    # -- background -----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Items queued here and not yet written to the store (nor dead-lettered)."""
        return self._enqueued - self._written - self.dropped_in_write - self.dead_lettered

    def start(self, supervisor: Supervisor | None = None) -> AutomationRuntime:
        self.refresh()
        self._handle = (supervisor or Supervisor()).start(WORKER, self._run,
                                                          stall_after=STALL_AFTER_S)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._handle is not None:
            self._handle.request_stop()
            self._wake.set()
            self._handle.join(timeout)
            self._handle = None
        try:
            self._write()  # whatever is left
        except Exception:
            log.exception("review items: the last write failed")
        if self._q:
            self.dropped_in_write += len(self._q)
            log.error("%d review items could not be written before shutdown", len(self._q))
            self._q.clear()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every item queued so far is in the store (or dead-lettered)."""
        target = self._enqueued
        deadline = time.monotonic() + timeout
        while self._written + self.dropped_in_write + self.dead_lettered < target:
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.005)
        return True

    def refresh(self) -> None:
        """Re-read level overrides, calibration maps and queue lengths from the store."""
        self.overrides = {m: v["level"] for m,
                          v in self.store.automation.automation_levels().items()}
        cals: dict[tuple[str, str], Calibrator] = {}
        for model, spec in self.specs.items():
            if spec.confidence != "calibrated":
                continue
            for ev in reversed(self.store.evaluations.list_evaluations(model, kind="calibration",
                                                                       limit=50)):
                cals[(model, ev.version)] = Calibrator.from_dict(ev.result)
        self.calibrators = cals
        lengths = self.store.review.review_queue_lengths()
        for model in set(lengths) | set(self.queue_lengths):
            self.queue_length.labels(model).set(lengths.get(model, 0))
        self.queue_lengths = lengths

    def _run(self, ctx: WorkerContext) -> None:
        last = time.monotonic()
        while not ctx.stopping:
            ctx.beat()
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            self._write()
            if time.monotonic() - last >= self._refresh_interval:
                last = time.monotonic()
                try:
                    self.refresh()
                except Exception as exc:  # the store may be briefly unreachable
                    if classify(exc) != "transient":
                        raise
                    log.warning("automation refresh failed (%s); will retry", describe(exc))

    def _write(self) -> None:
        """Write the queued items in batches. An item the store refuses is dead-lettered
        and the rest of its batch written; while the store is unreachable the batch goes
        back to the front of the queue for the next round."""
        while self._q:
            batch: list[dict[str, Any]] = []
            while self._q and len(batch) < 1000:
                row = self._q.popleft()
                # images/audio ride along as bytes while the item waits (off the hot path)
                row["inputs"] = item_inputs(row["inputs"])
                batch.append(row)
            try:
                written = write_isolated(batch, self._insert, self._dead)
                self._written += written  # after the call: _dead counts repaired ones
            except Exception as exc:
                self._q.extendleft(reversed(batch))
                if classify(exc) != "transient":
                    raise
                log.warning("could not write %d review items (%s); will retry", len(batch),
                            describe(exc))
                return

    def _insert(self, rows: Sequence[dict[str, Any]]) -> int:
        self.store.review.insert_review_items(rows)
        return len(rows)  # ids already queued count as written: they are in the store

    def _dead(self, row: dict[str, Any], exc: BaseException) -> None:
        """The store refused this item even alone: store it with the offending values
        escaped when that is enough (its review id was given out), and dead-letter it as
        it came either way."""
        safe, changed = json_safe(row)
        stored = False
        if changed:
            try:
                self.store.review.insert_review_items([safe])
                stored = True
            except Exception as again:
                if classify(again) != "record":
                    raise
        outcome = f"stored with escaped values at {', '.join(changed)}" if stored \
            else "not stored"
        if stored:
            self._written += 1
        else:
            self.dead_lettered += 1
        if self.dead_letters is not None:
            self.dead_letters.add(WORKER, f"{describe(exc)}; {outcome}", row, key=row["id"],
                                  model=row["model"])
        else:
            log.error("review item %s: %s; %s", row["id"], describe(exc), outcome)


class _Metrics(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


class AutomationHost(WorkerHost, Protocol):
    """A :class:`~rampup.host.WorkerHost` with the app's metrics registry and privacy
    rules; the runtime it starts is kept in ``automation``."""

    automation: AutomationRuntime | None

    @property
    def metrics(self) -> _Metrics: ...

    @property
    def privacy(self) -> Privacy | None: ...


def start_automation(state: AutomationHost) -> AutomationRuntime:
    """Create the app's automation runtime (its metrics on the app's registry) and start
    its writer/refresh worker under the app's supervisor; the app stops it on shutdown."""
    rt = AutomationRuntime(state.store, state.project, registry=state.metrics.registry,
                           dead_letters=state.dead_letters)
    rt.privacy = state.privacy
    state.automation = rt.start(state.supervisor)
    return rt
