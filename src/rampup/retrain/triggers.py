"""When may a retraining run start? Pure decisions over the run history.

:func:`check_guards` takes what the store knows (earlier runs, labelled rows received
since the last run, whether a rollout is in progress) and the time, and returns None
(go) or a :class:`Refusal` naming the guard, why and what to do.
:func:`schedule_due` says whether a scheduled run is due; :func:`stale` whether a queued
or running run will never finish on its own (so it must not block the next one).

>>> g = Guards(min_new_labels=50, cooldown="1h", max_runs_per_day=2)
>>> runs = [RunSummary(1, "succeeded", created_at=1000.0)]
>>> check_guards(g, runs, new_labels=80, rollout_active=False, now=2000.0).guard
'cooldown'
>>> check_guards(g, runs, new_labels=10, rollout_active=False, now=9000.0).guard
'min_new_labels'
>>> check_guards(g, runs, new_labels=80, rollout_active=False, now=9000.0) is None
True
>>> check_guards(g, runs, new_labels=0, rollout_active=False, now=2000.0, force=True) is None
True
>>> schedule_due(3600.0, last_run_at=1000.0, now=4700.0), schedule_due(3600.0, None, now=5.0)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rampup.durations import format_duration
from rampup.errors import RetrainRefusedError
from rampup.retrain.spec import Guards

Trigger = Literal["manual", "schedule", "alert"]
TRIGGERS: tuple[str, ...] = ("manual", "schedule", "alert")
DAY_S = 86_400.0
#: runs in these states block a new one
ACTIVE = ("queued", "running")
#: runs that count for the cooldown and the daily limit (a refused trigger, or a queued run
#: that expired without running, is no run)
COUNTED = ("queued", "running", "succeeded", "awaiting_approval", "rolled_out", "rejected",
           "failed", "superseded")
#: a running run whose process left no trace is given this long past its timeout
STALE_GRACE_S = 300.0


@dataclass(frozen=True)
class RunSummary:
    """What the guards need of an earlier run."""

    id: int
    state: str
    created_at: float


@dataclass(frozen=True)
class Refusal:
    guard: str
    message: str
    fix: str

    def error(self, model: str) -> RetrainRefusedError:
        return RetrainRefusedError(f"retraining {model} refused: {self.message}", fix=self.fix,
                                   guard=self.guard)


def check_guards(guards: Guards, runs: Sequence[RunSummary], *, new_labels: int,
                 rollout_active: bool | str, now: float, force: bool = False) -> Refusal | None:
    """Go (None) or the first guard that refuses. ``runs`` newest first. ``force`` (a
    manual run) skips the cooldown, the daily limit and the minimum of new labels, never
    the one-run-at-a-time and no-run-during-a-rollout guards."""
    active = next((r for r in runs if r.state in ACTIVE), None)
    if active is not None:
        return Refusal("concurrent_run", f"run #{active.id} is {active.state}; one run at a "
                       "time", f"wait for it to finish: rampup retrain show {active.id}")
    if rollout_active:
        what = rollout_active if isinstance(rollout_active, str) else "a rollout"
        return Refusal("rollout_in_progress", f"{what} is in progress; a new candidate would "
                       "have nothing stable to be compared with",
                       "let the rollout finish (rampup rollout status), or abort it")
    if force:
        return None
    counted = [r for r in runs if r.state in COUNTED]
    if counted:
        last = counted[0]
        wait = last.created_at + guards.cooldown_s - now
        if wait > 0:
            return Refusal("cooldown", f"the last run (#{last.id}) started "
                           f"{format_duration(round(now - last.created_at))} ago; the cooldown "
                           f"is {format_duration(guards.cooldown_s)}",
                           f"try again in {format_duration(round(wait) or 1)}, or run it by "
                           "hand with --force")
    today = [r for r in counted if r.created_at > now - DAY_S]
    if len(today) >= guards.max_runs_per_day:
        oldest = min(r.created_at for r in today)
        return Refusal("max_runs_per_day", f"{len(today)} runs in the last 24 h (at most "
                       f"{guards.max_runs_per_day})",
                       f"try again in {format_duration(round(oldest + DAY_S - now) or 1)}, "
                       "raise guards.max_runs_per_day, or use --force")
    if new_labels < guards.min_new_labels:
        return Refusal("min_new_labels", f"only {new_labels} new labelled prediction(s) "
                       f"since the last run (at least {guards.min_new_labels} needed)",
                       "send more labels (POST /v1/models/NAME/feedback), lower "
                       "guards.min_new_labels, or use --force")
    return None


def labels_since(runs: Sequence[RunSummary], window_start: float | None) -> float | None:
    """Where 'new labels' are counted from: the last counted run's start, else the
    dataset window's start.

    >>> labels_since([RunSummary(2, "failed", 50.0)], 10.0), labels_since([], 10.0)
    (50.0, 10.0)
    """
    counted = [r for r in runs if r.state in COUNTED]
    return counted[0].created_at if counted else window_start


def schedule_due(interval_s: float | None, last_run_at: float | None, now: float) -> bool:
    """A scheduled run is due when ``interval_s`` passed since the last run (or none ran)."""
    if interval_s is None:
        return False
    return last_run_at is None or now - last_run_at >= interval_s


def stale(state: str, *, created_at: float, started_at: float | None, now: float,
          timeout_s: float, queue_timeout_s: float, worker_gone: bool = False) -> str | None:
    """Why a queued or running run will never finish on its own (None: it may).

    A queued run that nothing started within ``queue_timeout_s`` expires (retraining is
    off on the servers, or no replica leads); a running run whose process is gone
    (``worker_gone``: same host, pid no longer alive) or that outlived its timeout by
    :data:`STALE_GRACE_S` was interrupted.

    >>> stale("queued", created_at=0.0, started_at=None, now=1000.0, timeout_s=60,
    ...       queue_timeout_s=900)[:40]
    'expired: queued 16m40s ago and no server'
    >>> stale("running", created_at=0.0, started_at=10.0, now=100.0, timeout_s=60,
    ...       queue_timeout_s=900) is None
    True
    >>> stale("running", created_at=0.0, started_at=10.0, now=100.0, timeout_s=60,
    ...       queue_timeout_s=900, worker_gone=True)
    'interrupted: the process running it is gone'
    """
    if state == "queued":
        if now - created_at <= queue_timeout_s:
            return None
        return (f"expired: queued {format_duration(round(now - created_at))} ago and no "
                f"server started it within {format_duration(queue_timeout_s)} (runs are "
                "executed by the leader replica of 'rampup serve' with RAMPUP_RETRAIN on); "
                "run it by hand with: rampup retrain MODEL --force")
    if state != "running":
        return None
    if worker_gone:
        return "interrupted: the process running it is gone"
    if (started_at or created_at) < now - timeout_s - STALE_GRACE_S:
        return "interrupted: the process running it stopped"
    return None
