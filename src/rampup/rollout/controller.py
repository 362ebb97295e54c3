"""The rollout controller: judges every active rollout's current step and moves it on.

:meth:`RolloutController.tick` is one pass (testable with an injected clock);
:meth:`RolloutController.run` loops in a background thread of the server, but only in
the process that holds the leader lock. State lives in the store, so a restarted
controller resumes where the last one stopped.

Every decision names what it was made on: the rollout's revision and the model's
deployment read at the start of the pass. A pass that was slow (or a leader that was
paused and lost its lock meanwhile) finds its decision refused by the store and recorded
as superseded; the next pass judges the new state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from rampup.errors import ConflictError, SupersededError
from rampup.rollout.checks import parse_check
from rampup.rollout.incremental import StepWindows
from rampup.rollout.judge import judge_all
from rampup.rollout.machine import Decision, Rollout, decide
from rampup.rollout.service import Rollouts, from_row
from rampup.rollout.window import PairedStats, WindowStats, measure, paired
from rampup.runtime import DeadLetters, Supervisor, classify
from rampup.runtime.leader import LeaderLoop
from rampup.store import Database

log = logging.getLogger("rampup.rollout")

ACTOR = "rollout-controller"
WORKER = "rollout-controller"
STALL_AFTER_S = 600.0  # judging reads step windows from the log: can be slow, not this slow
BASELINE_LOOKBACK_S = 300.0
RECORD_EVERY_S = 10.0


@dataclass
class TickResult:
    rollout_id: int
    model: str
    verdict: str
    decision: str
    reason: str


class RolloutController:
    def __init__(self, store: Database, *, clock: Callable[[], float] = time.time,
                 rollouts: Rollouts | None = None, min_requests: int = 100,
                 min_labelled: int = 50, dead_letters: DeadLetters | None = None,
                 incremental: bool = True) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.clock = clock
        self.rollouts = rollouts or Rollouts(store, clock=clock)
        self.min_requests = min_requests
        self.min_labelled = min_labelled
        self._last_record: dict[int, tuple[float, str, str]] = {}
        #: step windows kept between ticks (None: re-read the log every tick)
        self.windows = StepWindows(store, clock=clock) if incremental else None
        self._last_tick: float | None = None
        self._keys: set[tuple[int, int, float]] = set()

    def tick(self) -> list[TickResult]:
        with self.store.reads():  # the pass's reads share one connection
            return self._tick()

    def _tick(self) -> list[TickResult]:
        now = self.clock()
        if self.windows is not None and self._last_tick is not None and \
                not 0 <= now - self._last_tick <= self.windows.lag_s:
            self.windows.keep(set())  # leadership came back after a gap: rebuild
        self._last_tick = now
        self._keys = set()
        seen = self.store.deployments.latest_deployment_ids()  # what this pass decides on
        out: list[TickResult] = []
        for row in self.store.rollouts.list_rollouts(active_only=True, limit=1000):
            r, rev = from_row(row)
            try:
                res = self._step(r, rev, now, seen.get(r.model))
            except SupersededError as exc:  # recorded as an info event by the store
                log.info("rollout #%d of %s: %s", r.id, r.model, exc.message)
                continue
            except ConflictError as exc:
                log.info("rollout #%d of %s: not applied (%s); re-read next pass",
                         r.id, r.model, exc.message)
                continue
            except Exception as exc:  # one broken rollout must not stop the others
                if classify(exc) == "transient":
                    raise  # the store, not this rollout: the loop retries the pass
                log.exception("rollout #%d of %s: tick failed", r.id, r.model)
                if self.dead_letters is not None:
                    self.dead_letters.add(WORKER, exc, row, key=f"rollout#{r.id}",
                                          model=r.model)
                continue
            if res is not None:
                out.append(res)
        if self.windows is not None:
            self.windows.keep(self._keys)
        for row in self.store.rollouts.list_rollouts(limit=50):
            if row["state"] == "promoted" and not row["standby_released"]:
                r, rev = from_row(row)
                if r.promoted_at is None or now - r.promoted_at < r.plan.standby_keep_s:
                    continue
                try:
                    self.rollouts.release_standby(r, rev, ACTOR, seen=seen.get(r.model))
                except SupersededError as exc:
                    log.info("standby of rollout #%d of %s: %s", r.id, r.model, exc.message)
                except Exception:
                    log.exception("standby of rollout #%d of %s: release failed", r.id,
                                  r.model)
        return out

    def _step(self, r: Rollout, rev: int, now: float, seen: int | None) -> TickResult | None:
        step = r.current_step
        if step is None or r.state not in ("shadow", "canary", "bluegreen"):
            return None
        checks = [parse_check(c) for c in r.plan.checks_for(step)]
        since = r.step_started_at
        key = (r.id, r.step, since)
        if step.kind == "shadow":
            cand = self._measure(key, r, r.candidate, since, now, ("shadow",))
            base = self._measure(key, r, r.baseline, since, now, ("answer",))
            pairs = self._paired(key, r, since, now)
        else:
            cand = self._measure(key, r, r.candidate, since, now, ("answer",))
            base = self._baseline(key, r, since, now)
            pairs = None
        verdict = judge_all(checks, cand, base, pairs, alpha=r.plan.alpha,
                            min_requests=self.min_requests, min_labelled=self.min_labelled)
        failed = [f"{res.check_text} ({res.reason})" for res in verdict.results
                  if res.verdict == "fail"]
        decision = decide(r, now, verdict.verdict, cand.requests, failed)
        self._record(r, now, verdict.verdict, decision,
                     [res.to_dict() for res in verdict.results])
        if decision.action == "advance" or decision.action == "promote":
            self.rollouts.advance(r, rev, ACTOR, decision.reason, seen=seen)
        elif decision.action == "fail":
            self.rollouts.fail(r, rev, ACTOR, decision.reason, seen=seen)
        return TickResult(r.id, r.model, verdict.verdict, decision.action, decision.reason)

    def _measure(self, key: tuple[int, int, float], r: Rollout, version: str, since: float,
                 until: float, roles: tuple[str, ...]) -> WindowStats:
        """``version``'s window: from the step's tail (incremental), or re-read."""
        if self.windows is None:
            return measure(self.store, r.model, version, since=since, until=until, roles=roles)
        self._keys.add(key)
        return self.windows.measure(key, r.model, version, since=since, until=until,
                                    roles=roles)

    def _paired(self, key: tuple[int, int, float], r: Rollout, since: float, now: float
                ) -> PairedStats:
        if self.windows is None:
            return paired(self.store, r.model, r.candidate, r.baseline, since=since, until=now)
        self._keys.add(key)
        return self.windows.paired(key, r.model, r.candidate, r.baseline, since=since,
                                   until=now)

    def _baseline(self, key: tuple[int, int, float], r: Rollout, since: float, now: float
                  ) -> WindowStats:
        """The baseline over the same window; when it gets no traffic there (blue/green,
        canary 100%), its traffic in the ``BASELINE_LOOKBACK_S`` seconds before the step
        began: a fixed window, so a long step does not reach ever further back into a
        world that may have changed since (a window as long as the step once compared a
        retrained version in a drifted world with its predecessor's pre-drift accuracy,
        and held the step for good)."""
        base = self._measure(key, r, r.baseline, since, now, ("answer",))
        if base.requests >= self.min_requests:
            return base
        return self._measure(key, r, r.baseline, since - BASELINE_LOOKBACK_S, since,
                             ("answer",))

    def _record(self, r: Rollout, now: float, verdict: str, decision: Decision,
                results: list[dict[str, object]]) -> None:
        last = self._last_record.get(r.id)
        due = last is None or last[1] != verdict or last[2] != decision.action or \
            decision.action != "wait" or now - last[0] >= RECORD_EVERY_S
        if due:
            self.store.rollouts.add_rollout_check(r.id, r.step, now, verdict, decision.action,
                                                  decision.reason, results)
            self._last_record[r.id] = (now, verdict, decision.action)

    # -- background loop ----------------------------------------------------------------

    def start(self, interval: float = 2.0, supervisor: Supervisor | None = None
              ) -> LeaderLoop:
        """Tick every ``interval`` seconds as the supervised worker ``rollout-controller``,
        on the leader only."""
        return LeaderLoop(self.store, WORKER, self.tick, interval,
                          stall_after=STALL_AFTER_S).start(supervisor)
