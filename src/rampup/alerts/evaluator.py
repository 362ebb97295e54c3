"""The alert evaluator: every few seconds, on the leader only, measure each enabled rule's
metric, advance its state, write the history, notify and act.

:meth:`AlertEvaluator.tick` is one pass (testable with an injected clock);
:meth:`AlertEvaluator.run` loops in a background thread of the server while holding the
``alert-evaluator`` leader lock. States live in the store, so a new leader carries on
where the last one stopped (a firing alert is not notified again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from rampup.alerts.actions import ActionContext, ActionRegistry
from rampup.alerts.dispatch import Delivery, Dispatcher
from rampup.alerts.machine import AlertState, Step, advance
from rampup.alerts.notifiers import LogNotifier, Notifier
from rampup.alerts.rules import AlertRule
from rampup.monitor.names import MetricSource
from rampup.runtime import DeadLetters, Supervisor, classify, describe, write_isolated
from rampup.runtime.leader import LeaderLoop
from rampup.store import Database

log = logging.getLogger("rampup.alerts")

LOCK_NAME = "alert-evaluator"
WORKER = "alert-evaluator"
STALL_AFTER_S = 600.0  # a pass with drift checks over long windows can take minutes


@dataclass
class Evaluation:
    """What one tick did for one rule."""

    rule: str
    model: str
    value: float | None
    state: str
    transition: tuple[str, str] | None = None
    notified: str | None = None
    actions: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class AlertEvaluator:
    def __init__(self, store: Database, source: MetricSource, *,
                 notifiers: Mapping[str, Notifier] | None = None,
                 actions: ActionRegistry | None = None,
                 clock: Callable[[], float] = time.time, base_url: str | None = None,
                 workers: int = 4, dispatcher: Dispatcher | None = None,
                 dead_letters: DeadLetters | None = None) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.source = source
        self.actions = actions or ActionRegistry()
        self.clock = clock
        self.base_url = (base_url or "").rstrip("/")
        self.dispatcher = dispatcher or Dispatcher(
            notifiers if notifiers is not None else {"log": LogNotifier()}, workers=workers)
        self.dispatcher.on_result = self._record_delivery
        self.dispatcher.on_dead = lambda d, exc: self._dead(
            f"{d.alert.get('model')}/{d.alert.get('rule')}", d.alert.get("model"), exc,
            {"notifier": d.notifier, "ok": d.ok, "error": d.error, "alert": dict(d.alert)})

    # -- one pass -----------------------------------------------------------------------

    def tick(self) -> list[Evaluation]:
        with self.store.reads():  # the pass's reads share one connection
            return self._tick()

    def _tick(self) -> list[Evaluation]:
        now = self.clock()
        states = self.store.alerts.alert_states()
        # What this pass decides on: actions are fenced on it (see rampup.alerts.actions).
        seen = self.store.deployments.latest_deployment_ids()
        rollouts = {row["model"]: (int(row["id"]), int(row["revision"]))
                    for row in self.store.rollouts.list_rollouts(active_only=True, limit=1000)}
        out: list[Evaluation] = []
        saves: list[tuple[str, str, str, float | None, dict[str, Any]]] = []
        events: list[dict[str, Any]] = []
        for row in self.store.alerts.list_alert_rules(enabled_only=True):
            try:
                out.append(self._evaluate(AlertRule.from_row(row), states, now, saves,
                                          events, seen, rollouts))
            except Exception as exc:  # one broken rule must not stop the others
                if classify(exc) == "transient":
                    raise
                self._dead(f"{row.get('model')}/{row.get('name')}", row.get("model"), exc,
                           row)
        write_isolated(saves, self._save_states,
                       lambda s, exc: self._dead(f"{s[0]}/{s[1]}", s[0], exc, s))
        write_isolated(events, self._add_events,
                       lambda e, exc: self._dead(f"{e['model']}/{e['rule']}", e["model"],
                                                 exc, e))
        return out

    def _evaluate(self, rule: AlertRule, states: Mapping[tuple[str, str], Any], now: float,
                  saves: list[tuple[str, str, str, float | None, dict[str, Any]]],
                  events: list[dict[str, Any]], seen: Mapping[str, int],
                  rollouts: Mapping[str, tuple[int, int]]) -> Evaluation:
        prev = AlertState.from_dict(states.get((rule.model, rule.name)))
        value, error = self._measure(rule, now)
        step = advance(rule, prev, value, now)
        if step.notify == "firing" or (step.transition is not None
                                       and step.transition[1] == "pending"):
            step = self._explained(rule, step, now)
        ev = Evaluation(rule.name, rule.model, value, step.state.state, step.transition,
                        error=error)
        saves.append((rule.model, rule.name, step.state.state, step.state.since,
                      step.state.to_dict()))
        events += self._history(rule, prev, step, now)
        if step.notify is not None:
            alert = self.payload(rule, step, now)
            self.dispatcher.submit(rule.spec.notify, alert)
            ev.notified = step.notify
        if step.run_actions:
            ev.actions = self._act(rule, step, now, events, seen.get(rule.model),
                                   rollouts.get(rule.model))
        return ev

    def _save_states(self, saves: Sequence[tuple[str, str, str, float | None,
                                                 dict[str, Any]]]) -> int:
        self.store.alerts.save_alert_states(list(saves))
        return len(saves)

    def _add_events(self, events: Sequence[dict[str, Any]]) -> int:
        self.store.alerts.add_alert_events(list(events))
        return len(events)

    def _dead(self, key: str, model: Any, exc: BaseException, payload: Any) -> None:
        if self.dead_letters is not None:
            self.dead_letters.add(WORKER, exc, payload, key=key,
                                  model=model if isinstance(model, str) else None)
        else:
            log.error("alert %s: %s", key, describe(exc))

    def _measure(self, rule: AlertRule, now: float) -> tuple[float | None, str | None]:
        try:
            value = self.source.value(rule.model, rule.metric, version=rule.spec.version,
                                      role=rule.spec.role, stage=rule.spec.stage,
                                      window_s=rule.window_s, now=now)
        except Exception as exc:  # a broken metric must not stop the other rules
            log.warning("alert %s: reading %s failed: %s", rule.key, rule.metric, exc)
            return None, f"{type(exc).__name__}: {exc}"
        return (None if value is None else float(value)), None

    def _explained(self, rule: AlertRule, step: Step, now: float) -> Step:
        """The step with the source's account of the metric appended to its message (drift
        alerts say which features moved and by how much), when the source offers one."""
        explain = getattr(self.source, "explain", None)
        if explain is None:
            return step
        try:
            text = explain(rule.model, rule.metric, version=rule.spec.version,
                           window_s=rule.window_s, now=now)
        except Exception as exc:  # an explanation is a bonus: never fail the alert over it
            log.warning("alert %s: explaining %s failed: %s", rule.key, rule.metric, exc)
            return step
        return replace(step, message=f"{step.message}; {text}") if text else step

    def _history(self, rule: AlertRule, prev: AlertState, step: Step,
                 now: float) -> list[dict[str, Any]]:
        base = {"model": rule.model, "rule": rule.name, "ts": now, "value": step.state.value,
                "threshold": rule.condition.threshold, "severity": rule.severity,
                "message": step.message}
        rows = []
        if step.transition is not None:
            rows.append({**base, "kind": "state", "state": step.transition[1],
                         "details": {"from": step.transition[0],
                                     "condition": rule.condition.text}})
        if step.state.no_data and not prev.no_data and prev.evaluated_at is not None:
            # data stopped coming (a rule that never had any is not news)
            rows.append({**base, "kind": "no_data", "state": step.state.state,
                         "details": {"no_data": rule.no_data}})
        return rows

    def _act(self, rule: AlertRule, step: Step, now: float, events: list[dict[str, Any]],
             deployment_id: int | None, rollout: tuple[int, int] | None) -> dict[str, str]:
        ctx = ActionContext(self.store, rule, self.payload(rule, step, now), now,
                            deployment_id=deployment_id, rollout=rollout)
        results: dict[str, str] = {}
        for name in rule.spec.actions:
            try:
                text = self.actions.run(name, ctx)
                kind = "action"
            except Exception as exc:  # an action failing is recorded, never fatal
                log.exception("alert %s: action %s failed", rule.key, name)
                text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                kind = "action_failed"
            results[name] = text
            events.append({"model": rule.model, "rule": rule.name, "ts": now, "kind": kind,
                           "state": step.state.state, "value": step.state.value,
                           "threshold": rule.condition.threshold, "severity": rule.severity,
                           "message": text, "details": {"action": name}})
        return results

    # -- notifications ------------------------------------------------------------------

    def payload(self, rule: AlertRule, step: Step, now: float) -> dict[str, Any]:
        """The alert as notifiers receive it (JSON-able)."""
        s = step.state
        m, r = quote(rule.model, safe=""), quote(rule.name, safe="")
        return {
            "rule": rule.name, "model": rule.model, "state": step.notify or s.state,
            "severity": rule.severity, "metric": rule.metric, "op": rule.condition.op,
            "condition": rule.condition.text, "value": s.value,
            "threshold": rule.condition.threshold, "window_s": rule.window_s,
            "for_s": rule.for_s, "started_at": s.started_at, "resolved_at": s.resolved_at,
            "ts": now, "message": step.message, "repeat": step.repeat,
            "version": rule.spec.version, "role": rule.spec.role, "stage": rule.spec.stage,
            "labels": dict(rule.spec.labels), "description": rule.spec.description,
            "links": {
                "alerts": f"{self.base_url}/v1/models/{m}/alerts",
                "history": f"{self.base_url}/v1/admin/models/{m}/alerts/{r}/history",
                "metric": f"{self.base_url}/v1/models/{m}/metrics?metric="
                          f"{quote(rule.metric, safe='')}",
            },
        }

    def _record_delivery(self, d: Delivery) -> None:
        a = d.alert
        self.store.alerts.add_alert_events([{
            "model": a.get("model", ""), "rule": a.get("rule", ""), "ts": self.clock(),
            "kind": "notified" if d.ok else "notify_failed", "state": a.get("state"),
            "value": a.get("value"), "threshold": a.get("threshold"),
            "severity": a.get("severity"),
            "message": f"{d.notifier}: ok" if d.ok else f"{d.notifier}: {d.error}",
            "details": {"notifier": d.notifier, "elapsed_s": round(d.elapsed_s, 4),
                        "error": d.error, "repeat": a.get("repeat", False)}}])

    # -- background loop ----------------------------------------------------------------

    def start(self, interval: float = 10.0, supervisor: Supervisor | None = None
              ) -> LeaderLoop:
        """Evaluate every ``interval`` seconds on the leader only (worker
        ``alert-evaluator``; the notifier pool's watchdog is worker ``alert-notifier``);
        stopping lets queued notifications finish (up to 2 s)."""
        supervisor = supervisor or Supervisor()
        self.dispatcher.start(supervisor)
        return LeaderLoop(self.store, lock_name(self.store), self.tick, interval,
                          on_stop=lambda t: self.dispatcher.close(min(t, 2.0)),
                          worker=WORKER, stall_after=STALL_AFTER_S).start(supervisor)


def lock_name(store: Database) -> str:
    """The leader lock's name. PostgreSQL advisory locks span the whole database, so the
    schema is part of the name: installations in different schemas elect separately."""
    if store.dialect != "postgresql":
        return LOCK_NAME
    with store.engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    return f"{LOCK_NAME}:{schema}"



