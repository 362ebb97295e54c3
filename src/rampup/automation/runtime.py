"""The automation level inside a serving process: decide per record, queue review items.

:meth:`AutomationRuntime.annotate` runs on the hot path after the model answered: it
adds ``status``/``decided_by`` (and ``review_id``) to each response item and hands
review items to a bounded in-memory queue. One background thread writes those items to
the store in batches and, every ``refresh_interval``, re-reads the run-time level
overrides (set by the CLI or admin API), the calibration maps and the queue lengths,
so a level change reaches every replica within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from rampup.automation.confidence import Calibrator, ConfidenceFn, load_function
from rampup.automation.levels import HUMAN_ONLY, decide, sample_weight
from rampup.automation.spec import AutomationSpec
from rampup.project import ProjectFile
from rampup.registry.predictor import PredictionBatch
from rampup.registry.schema import OutputSpec
from rampup.store import Store

if TYPE_CHECKING:
    from rampup.serving.state import AppState

log = logging.getLogger("rampup.automation")

HUMAN = "human"  # the built-in pseudo-version (rampup.serving.human.HUMAN)
PRIORITY = {"human_only": 10, "shadow": 10, "assist": 10, "low_confidence": 10, "audit": 0}
_DEFAULT = AutomationSpec()


class AutomationRuntime:
    def __init__(self, store: Store, project: ProjectFile, *,
                 registry: CollectorRegistry | None = None, queue_size: int = 50_000,
                 flush_interval: float = 0.05, refresh_interval: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
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
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
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
        """Items queued here and not yet written to the store."""
        return self._enqueued - self._written - self.dropped_in_write

    def start(self) -> AutomationRuntime:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="rampup-automation",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._write()  # whatever is left

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every item queued so far is in the store."""
        target = self._enqueued
        deadline = time.monotonic() + timeout
        while self._written + self.dropped_in_write < target:
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.005)
        return True

    def refresh(self) -> None:
        """Re-read level overrides, calibration maps and queue lengths from the store."""
        self.overrides = {m: v["level"] for m, v in self.store.automation_levels().items()}
        cals: dict[tuple[str, str], Calibrator] = {}
        for model, spec in self.specs.items():
            if spec.confidence != "calibrated":
                continue
            for ev in reversed(self.store.list_evaluations(model, kind="calibration",
                                                           limit=50)):
                cals[(model, ev.version)] = Calibrator.from_dict(ev.result)
        self.calibrators = cals
        lengths = self.store.review_queue_lengths()
        for model in set(lengths) | set(self.queue_lengths):
            self.queue_length.labels(model).set(lengths.get(model, 0))
        self.queue_lengths = lengths

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            self._write()
            if time.monotonic() - last >= self._refresh_interval:
                last = time.monotonic()
                try:
                    self.refresh()
                except Exception:  # the store may be briefly unreachable; keep serving
                    log.exception("automation refresh failed; will retry")

    def _write(self) -> None:
        while self._q:
            batch: list[dict[str, Any]] = []
            while self._q and len(batch) < 1000:
                batch.append(self._q.popleft())
            try:
                self.store.insert_review_items(batch)
                self._written += len(batch)
            except Exception:
                log.exception("could not write %d review items", len(batch))
                self.dropped_in_write += len(batch)


def start_automation(state: AppState) -> AutomationRuntime:
    """Create the app's automation runtime (its metrics on the app's registry) and start
    its writer/refresh thread; the app stops it on shutdown."""
    rt = AutomationRuntime(state.store, state.project, registry=state.metrics.registry)
    state.automation = rt.start()
    return rt
