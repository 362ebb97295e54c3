"""Retention by age: the leader deletes predictions, feedback and review items older than
the project's (or the model's own) retention, in small batches.

A pass deletes at most ``batch * max_batches`` rows per model and kind, each batch its
own short transaction, and after each batch it rests three times as long as the batch
took (the deletes hold the database and a CPU at most a quarter of the time), so
serving's log inserts and reads never queue behind a run of deletes; what is left goes
in the next pass. Aggregates (metric windows, evaluations) and the audit trail (events,
deployments, rollouts, retraining runs) are kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rampup.host import WorkerHost
    from rampup.project import ProjectFile
    from rampup.runtime.leader import LeaderLoop
    from rampup.store import Database

log = logging.getLogger("rampup.retention")

KINDS = ("predictions", "feedback", "review")
LOCK_NAME = "retention"


@dataclass
class RetentionReport:
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    more: bool = False  # a kind hit the pass's limit: more rows are due

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def configured(project: ProjectFile) -> bool:
    return any(project.retention.seconds(k) is not None for k in KINDS) or any(
        m.retention is not None and any(m.retention.seconds(k) is not None for k in KINDS)
        for m in project.models.values())


def apply_retention(store: Database, project: ProjectFile, *, now: float | None = None,
                    batch: int = 1000, max_batches: int = 50,
                    models: list[str] | None = None, rest: float = 3.0,
                    sleep: Callable[[float], None] = time.sleep) -> RetentionReport:
    """One pass over every model (registered or declared); after each batch, pause
    ``rest`` times as long as it took (0: no pause)."""
    now = time.time() if now is None else now
    names = models if models is not None else sorted(
        {m.name for m in store.models.list_models()} | set(project.models))
    deleters: dict[str, Callable[[str, float, int], int]] = {
        "predictions": store.predictions.delete_predictions_before,
        "feedback": store.feedback.delete_feedback_before,
        "review": store.review.delete_review_before}
    report = RetentionReport()
    for model in names:
        for kind, delete in deleters.items():
            keep_s = project.retention_s(model, kind)
            if keep_s is None:
                continue
            for _ in range(max_batches):
                t0 = time.perf_counter()
                n = delete(model, now - keep_s, batch)
                report.deleted[kind] += n
                if n < batch:
                    break
                if rest > 0:
                    sleep(rest * (time.perf_counter() - t0))
            else:
                report.more = True
    if report.total:
        log.info("retention: deleted %s", ", ".join(f"{n} {k}" for k, n in
                                                    report.deleted.items() if n))
    return report


def start_retention(state: WorkerHost) -> LeaderLoop | None:
    """The leader's retention loop (None when off or nothing is configured)."""
    from rampup.runtime.leader import LeaderLoop

    if not state.settings.retention or not configured(state.project):
        return None

    def tick() -> Any:
        return apply_retention(state.store, state.project)

    return LeaderLoop(state.store, LOCK_NAME, tick, state.settings.retention_interval,
                      worker="retention").start(state.supervisor)
