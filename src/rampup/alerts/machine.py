"""The alert state machine: pure, the clock passed in.

States: ``ok`` → ``pending`` (condition true, waiting for the for-duration) → ``firing``
→ ``resolved`` (condition false again) → ``ok``. A pending alert whose condition clears
goes back to ``ok`` without notifying.

De-duplication: a firing alert notifies once when it starts; while it keeps firing it
re-notifies only after the rule's cooldown or when the rule's severity changed. Actions
(rollback, ...) run once per firing episode and never twice within the cooldown, so a
flapping alert cannot roll back twice in a row. No data (the metric has no value in the
window) keeps the state and marks it ``no_data`` unless the rule says to treat it as
``ok`` or as ``firing``.

>>> from rampup.alerts.rules import AlertRule
>>> from rampup.alerts.spec import AlertRuleSpec
>>> rule = AlertRule.from_spec("m", AlertRuleSpec(
...     name="r", condition="error_rate > 0.1 for 60s", actions=["rollback"]))
>>> s = AlertState()
>>> for t, v in [(0, 0.0), (10, 0.5), (40, 0.5), (70, 0.4), (80, 0.0), (90, 0.0)]:
...     step = advance(rule, s, v, float(t))
...     s = step.state
...     print(t, s.state, step.notify, step.run_actions)
0 ok None False
10 pending None False
40 pending None False
70 firing firing True
80 resolved resolved False
90 ok None False
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from rampup.alerts.rules import AlertRule
from rampup.durations import format_duration

State = Literal["ok", "pending", "firing", "resolved"]
Notify = Literal["firing", "resolved"]
STATES: tuple[State, ...] = ("ok", "pending", "firing", "resolved")


@dataclass(frozen=True)
class AlertState:
    """Where one rule stands; persisted per rule so a new leader carries on."""

    state: State = "ok"
    since: float | None = None  # when the current state began
    pending_since: float | None = None
    started_at: float | None = None  # start of the current (or last) firing episode
    resolved_at: float | None = None
    last_notified_at: float | None = None
    notified_severity: str | None = None
    last_action_at: float | None = None
    value: float | None = None
    no_data: bool = False
    evaluated_at: float | None = None
    notifications: int = 0  # sent in the current episode

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Step:
    """The result of one evaluation: the new state and what to do about it."""

    state: AlertState
    transition: tuple[State, State] | None
    notify: Notify | None
    run_actions: bool
    message: str
    repeat: bool = False  # a re-notification of an alert that was already firing


def advance(rule: AlertRule, prev: AlertState, value: float | None, now: float) -> Step:
    """Move ``prev`` on, given the metric's ``value`` (None: no data) at time ``now``."""
    if value is None and rule.no_data == "keep":
        return Step(replace(prev, value=None, no_data=True, evaluated_at=now), None, None,
                    False, f"no data for {rule.metric} over {format_duration(rule.window_s)}")
    breach = rule.no_data == "firing" if value is None else rule.condition.breached(value)
    s = replace(prev, value=value, no_data=value is None, evaluated_at=now)
    msg = describe(rule, value)
    if breach:
        if s.state in ("ok", "resolved"):
            if rule.for_s <= 0:
                return _fire(rule, s, now, msg)
            return Step(replace(s, state="pending", since=now, pending_since=now),
                        (s.state, "pending"), None, False, msg)
        if s.state == "pending":
            started = s.pending_since if s.pending_since is not None else now
            if now - started >= rule.for_s:
                return _fire(rule, s, now, msg)
            return Step(s, None, None, False, msg)
        # firing: de-duplicate, re-notify after the cooldown or on a severity change
        last = s.last_notified_at
        changed = s.notified_severity is not None and s.notified_severity != rule.severity
        if changed or last is None or now - last >= rule.cooldown_s:
            why = f"severity now {rule.severity}" if changed else "still firing"
            return Step(replace(s, last_notified_at=now, notified_severity=rule.severity,
                                notifications=s.notifications + 1),
                        None, "firing", False, f"{msg} ({why})", repeat=True)
        return Step(s, None, None, False, msg)
    if s.state == "pending":
        return Step(replace(s, state="ok", since=now, pending_since=None), ("pending", "ok"),
                    None, False, msg)
    if s.state == "firing":
        return Step(replace(s, state="resolved", since=now, resolved_at=now,
                            pending_since=None), ("firing", "resolved"), "resolved", False, msg)
    if s.state == "resolved":
        return Step(replace(s, state="ok", since=now), ("resolved", "ok"), None, False, msg)
    return Step(s, None, None, False, msg)


def _fire(rule: AlertRule, s: AlertState, now: float, msg: str) -> Step:
    act = bool(rule.spec.actions) and (
        s.last_action_at is None or now - s.last_action_at >= rule.cooldown_s)
    new = replace(s, state="firing", since=now, started_at=now, resolved_at=None,
                  last_notified_at=now, notified_severity=rule.severity, notifications=1,
                  last_action_at=now if act else s.last_action_at)
    return Step(new, (s.state, "firing"), "firing", act, msg)


def describe(rule: AlertRule, value: float | None) -> str:
    """One line: what was measured against what.

    >>> from rampup.alerts.rules import AlertRule
    >>> from rampup.alerts.spec import AlertRuleSpec
    >>> r = AlertRule.from_spec("m", AlertRuleSpec(name="r", condition="latency_p99 > 300"))
    >>> describe(r, 412.0)
    'latency_p99 = 412 over 5m (alarm when > 300)'
    >>> describe(r, None)
    'latency_p99 has no data over 5m'
    """
    span = format_duration(rule.window_s)
    scope = f" [{rule.scope()}]" if rule.scope() else ""
    if value is None:
        return f"{rule.metric}{scope} has no data over {span}"
    c = rule.condition
    return f"{c.metric}{scope} = {value:.4g} over {span} (alarm when {c.op} {c.threshold:g})"
