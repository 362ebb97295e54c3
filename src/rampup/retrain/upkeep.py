"""Retraining never gets stuck: the background loop's pass, the ``retrain`` alert action,
and ending runs that will never finish on their own.

A queued run that no server starts within ``retrain.queue_timeout`` *expires*; a running
run whose process is gone (same host, its pid no longer alive) or that outlived its
timeout is *failed* as interrupted. Each gets its reason and an event, so the one
queued-or-running run the database allows per model can never be a dead one. The
alert action says clearly why it queued nothing (retraining off on this server, no
``retrain:`` section, a guard, or an alert measured on a deployment that no longer
serves).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rampup.errors import ConflictError, NotFoundError, RetrainRefusedError, SupersededError
from rampup.retrain.triggers import schedule_due, stale

if TYPE_CHECKING:
    from rampup.alerts.actions import ActionContext
    from rampup.project import ProjectFile
    from rampup.retrain.spec import RetrainSpec
    from rampup.rollout.service import Seen
    from rampup.store import Database

log = logging.getLogger("rampup.retrain")

HOST = socket.gethostname()

Notify = Callable[[str, str], None]
"""Called with (stage, message) as a run progresses: queued, running, dataset, trained,
registered, evaluated, replayed, verdict, rollout, failed."""


class RetrainerLike(Protocol):
    """What the upkeep needs from :class:`rampup.retrain.service.Retrainer`, which calls
    it (this module sits below the service)."""

    store: Database
    project: ProjectFile
    clock: Callable[[], float]
    cancel: threading.Event
    executes: bool

    def models(self) -> list[str]: ...

    def spec(self, model: str) -> RetrainSpec: ...

    def get(self, run_id: int) -> dict[str, Any]: ...

    def runs(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]: ...

    def request(self, model: str, *, trigger: str = ..., actor: str = ..., reason: str = ...,
                details: dict[str, Any] | None = ..., since: float | None = ...,
                force: bool = ..., claim: bool = ..., record_refusal: bool = ...,
                seen: Seen = ...) -> dict[str, Any]: ...

    def execute(self, run_id: int, notify: Notify = ...) -> dict[str, Any]: ...


def clear_stale(r: RetrainerLike, model: str | None = None, *, actor: str = "retrain",
                notify: Notify | None = None) -> list[dict[str, Any]]:
    """End the queued or running runs that will never finish on their own (see
    :func:`rampup.retrain.triggers.stale`), each with its reason and an event."""
    now = r.clock()
    ended = []
    for run in r.store.retrain.list_retrain_runs(model, states=["queued", "running"], limit=100):
        declared = r.project.models.get(run["model"])
        retrain = declared.retrain if declared is not None else None
        why = stale(run["state"], created_at=run["created_at"], started_at=run["started_at"],
                    now=now, timeout_s=retrain.timeout_s if retrain else 3600.0,
                    queue_timeout_s=retrain.queue_timeout_s if retrain else 900.0,
                    worker_gone=gone((run["details"] or {}).get("worker") or {}))
        if why is None:
            continue
        state = "expired" if run["state"] == "queued" else "failed"
        if not r.store.retrain.update_retrain_run(run["id"], {
                "state": state, "finished_at": now, "updated_at": now, "error": why},
                expect_states=[run["state"]]):
            continue  # it moved meanwhile (started, finished): not stale after all
        r.store.events.add_event(actor, f"retrain_{state}", model=run["model"], details={
            "run_id": run["id"], "error": why, "cleared_by": actor})
        if notify is not None:
            notify(state, f"run #{run['id']} {state}: {why}")
        ended.append(r.get(run["id"]))
    return ended


def tick(r: RetrainerLike, notify: Notify) -> list[dict[str, Any]]:
    """One pass: end runs that will never finish, start due scheduled runs, execute
    queued runs (oldest first)."""
    now = r.clock()
    clear_stale(r, notify=notify)
    for model in r.models():
        spec = r.spec(model)
        if spec.schedule_s is None:
            continue
        history = r.runs(model, limit=1)
        if schedule_due(spec.schedule_s, history[0]["created_at"] if history else None, now):
            try:
                r.request(model, trigger="schedule", actor="retrain-scheduler",
                          reason=f"scheduled (every {spec.schedule})", record_refusal=False)
            except (RetrainRefusedError, NotFoundError) as exc:
                log.debug("scheduled retraining of %s not started: %s", model, exc)
    out = []
    for queued in reversed(r.store.retrain.list_retrain_runs(states=["queued"], limit=100)):
        if r.cancel.is_set():
            break
        try:
            out.append(r.execute(queued["id"], notify))
        except ConflictError as exc:  # started, expired or cleared meanwhile
            log.info("retraining run #%d not executed here: %s", queued["id"], exc.message)
    return out


def alert_action(r: RetrainerLike, ctx: ActionContext) -> str:
    """The ``retrain`` alert action: queue a run saying which alert asked and why, fenced
    on the deployment the alert was measured on; or say clearly why none was queued."""
    rule = ctx.rule
    details = {"alert": rule.name, "metric": rule.metric, "value": ctx.alert.get("value"),
               "threshold": rule.condition.threshold, "condition": rule.condition.text,
               "severity": rule.severity}
    refused = None
    if rule.model not in r.models():
        refused = ("not_configured", f"{rule.model} has no retrain: section in rampup.yaml",
                   f"add models.{rule.model}.retrain")
    elif not r.executes:
        refused = ("disabled", "retraining is off on this server (RAMPUP_RETRAIN=false), so "
                   "a queued run would never start",
                   f"turn it on (RAMPUP_RETRAIN=true) or run it by hand: rampup retrain "
                   f"{rule.model}")
    if refused is not None:
        r.store.events.add_event(ctx.actor, "retrain_refused", model=rule.model, details={
            "trigger": "alert", "guard": refused[0], "message": refused[1],
            "fix": refused[2], "reason": ctx.reason, **details})
        return f"retraining not started: {refused[1]} (fix: {refused[2]})"
    try:
        run = r.request(rule.model, trigger="alert", actor=ctx.actor, reason=ctx.reason,
                        details=details, seen=ctx.deployment_id)
    except SupersededError as exc:
        return exc.message
    except RetrainRefusedError as exc:
        return f"retraining not started: {exc.message}"
    return f"retraining run #{run['id']} queued"


def worker() -> dict[str, Any]:
    """Where a run executes (so a run left behind by a dead process can be told apart)."""
    return {"host": HOST, "pid": os.getpid()}


def gone(worker: dict[str, Any]) -> bool:
    """A run's process on this host that no longer exists.

    >>> gone({"host": HOST, "pid": os.getpid()}), gone({"host": "elsewhere", "pid": 1})
    (False, False)
    """
    pid = worker.get("pid")
    if worker.get("host") != HOST or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
