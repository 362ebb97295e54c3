"""Retention by age: the leader deletes predictions, feedback and review items older than
the project's (or the model's own) retention, in small batches.

On PostgreSQL the prediction log and feedback are partitioned by time
(:mod:`rampup.store.partitions`): a pass first drops every partition whose rows are all
past their model's retention, whole (no DELETE of the bulk, no dead rows to vacuum), and
the batches below then only meet the rows of the partition straddling the cut-off (and
any in the default partition).

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
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rampup.host import WorkerHost
    from rampup.project import ProjectFile
    from rampup.runtime.leader import LeaderLoop
    from rampup.store import Database

log = logging.getLogger("rampup.retention")

KINDS = ("predictions", "feedback", "review")
LOCK_NAME = "retention"


#: the partitioned tables and the kind of retention that ages their rows
PARTITIONED_KINDS = {"predictions": "predictions", "feedback": "feedback"}


@dataclass
class RetentionReport:
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    more: bool = False  # a kind hit the pass's limit: more rows are due
    dropped: list[str] = field(default_factory=list)  # partitions dropped whole

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def configured(project: ProjectFile) -> bool:
    return any(project.retention.seconds(k) is not None for k in KINDS) or any(
        m.retention is not None and any(m.retention.seconds(k) is not None for k in KINDS)
        for m in project.models.values())


def expired(newest: dict[str, float], keep: dict[str, float | None], now: float) -> bool:
    """Whether a partition whose models' newest rows are ``newest`` (``{model: ts}``) holds
    only rows retention would delete: every model has a retention (``keep``, seconds)
    and its newest row is older than it. An empty partition has nothing to keep.

    >>> expired({"a": 10.0, "b": 50.0}, {"a": 100.0, "b": 60.0}, now=200.0)
    True
    >>> expired({"a": 10.0, "b": 150.0}, {"a": 100.0, "b": 60.0}, now=200.0)
    False
    >>> expired({"a": 10.0, "c": 1.0}, {"a": 100.0}, now=200.0)  # c is kept forever
    False
    """
    for model, ts in newest.items():
        keep_s = keep.get(model)
        if keep_s is None or ts >= now - keep_s:
            return False
    return True


def drop_expired_partitions(store: Database, project: ProjectFile, names: list[str],
                            now: float, report: RetentionReport) -> None:
    """Drop the partitions (PostgreSQL) whose every row is past its model's retention."""
    if not store.partitions.partitioned():
        return
    for table, kind in PARTITIONED_KINDS.items():
        keep = {m: project.retention_s(m, kind) for m in names}
        shortest = min((k for k in keep.values() if k is not None), default=None)
        if shortest is None:
            continue
        for part in store.partitions.list_partitions(table):
            # a partition ending after the shortest cut-off holds a row no rule deletes yet
            # (ids and ``ts`` are both the time of the request)
            if part.end is None or part.end > now - shortest:
                continue
            rows = store.partitions.drop_partition_if(
                table, part.name, partial(expired, keep=keep, now=now))
            if rows is not None:
                report.deleted[kind] += rows
                report.dropped.append(part.name)


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
    drop_expired_partitions(store, project, names, now, report)
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
        log.info("retention: deleted %s%s", ", ".join(f"{n} {k}" for k, n in
                                                      report.deleted.items() if n),
                 f" ({len(report.dropped)} partitions dropped whole)" if report.dropped else "")
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
