"""The alert state machine on a fast, injected clock: for-duration, de-duplication,
cooldown, severity changes, no data."""

from __future__ import annotations

from typing import Any

import pytest

from rampup.alerts.machine import AlertState, Step, advance
from rampup.alerts.rules import AlertRule
from rampup.alerts.spec import AlertRuleSpec


def rule(**kw: Any) -> AlertRule:
    spec: dict[str, Any] = {"name": "r", "condition": "error_rate > 0.1", "cooldown": "10m"}
    spec.update(kw)
    return AlertRule.from_spec("m", AlertRuleSpec.model_validate(spec))


def run(r: AlertRule, points: list[tuple[float, float | None]],
        start: AlertState | None = None) -> list[Step]:
    s = start or AlertState()
    out = []
    for t, v in points:
        step = advance(r, s, v, t)
        out.append(step)
        s = step.state
    return out


def states(steps: list[Step]) -> list[str]:
    return [s.state.state for s in steps]


def test_pending_then_firing_after_the_for_duration_then_resolved_then_ok() -> None:
    r = rule(condition="error_rate > 0.1 for 60s", actions=["rollback"])
    steps = run(r, [(0, 0.5), (30, 0.5), (59.9, 0.9), (60, 0.5), (70, 0.5), (80, 0.05),
                    (90, 0.0)])
    assert states(steps) == ["pending", "pending", "pending", "firing", "firing", "resolved",
                             "ok"]
    assert [s.transition for s in steps] == [("ok", "pending"), None, None,
                                             ("pending", "firing"), None,
                                             ("firing", "resolved"), ("resolved", "ok")]
    assert [s.notify for s in steps] == [None, None, None, "firing", None, "resolved", None]
    assert [s.run_actions for s in steps] == [False, False, False, True, False, False, False]
    fired = steps[3].state
    assert (fired.started_at, fired.since, fired.pending_since) == (60, 60, 0)
    assert steps[5].state.resolved_at == 80
    assert steps[5].state.started_at == 60  # the episode's start stays for the resolved note
    assert "error_rate = 0.05 over 5m (alarm when > 0.1)" in steps[5].message


def test_pending_that_clears_goes_back_to_ok_silently() -> None:
    steps = run(rule(condition="error_rate > 0.1 for 5m"), [(0, 0.2), (100, 0.0), (200, 0.2)])
    assert states(steps) == ["pending", "ok", "pending"]
    assert all(s.notify is None for s in steps)
    assert steps[2].state.pending_since == 200  # the for-duration starts over


def test_without_for_fires_at_once() -> None:
    steps = run(rule(), [(0, 0.0), (10, 0.2)])
    assert states(steps) == ["ok", "firing"]
    assert steps[1].transition == ("ok", "firing")
    assert steps[1].notify == "firing"
    assert not steps[1].run_actions  # the rule has no actions


def test_a_firing_alert_notifies_once_then_after_each_cooldown() -> None:
    r = rule(cooldown="10m")
    times = [0, 60, 300, 599, 600, 700, 1199, 1200]
    steps = run(r, [(t, 0.5) for t in times])
    assert [s.notify for s in steps] == ["firing", None, None, None, "firing", None, None,
                                         "firing"]
    assert [s.repeat for s in steps if s.notify] == [False, True, True]
    assert "still firing" in steps[4].message
    assert steps[-1].state.notifications == 3


def test_severity_change_re_notifies_at_once() -> None:
    steps = run(rule(severity="warning"), [(0, 0.5), (10, 0.5)])
    assert steps[0].state.notified_severity == "warning"
    step = advance(rule(severity="critical"), steps[1].state, 0.5, 20)
    assert step.notify == "firing"
    assert "severity now critical" in step.message
    assert advance(rule(severity="critical"), step.state, 0.5, 30).notify is None


def test_actions_run_once_per_episode_and_not_again_within_the_cooldown() -> None:
    r = rule(actions=["rollback"], cooldown="10m")
    steps = run(r, [(0, 0.5), (10, 0.5), (20, 0.0), (30, 0.0), (40, 0.5), (700, 0.0),
                    (710, 0.0), (720, 0.5)])
    assert states(steps) == ["firing", "firing", "resolved", "ok", "firing", "resolved", "ok",
                             "firing"]
    # a flapping alert notifies each episode but rolls back only once per cooldown
    assert [s.notify for s in steps] == ["firing", None, "resolved", None, "firing",
                                         "resolved", None, "firing"]
    assert [s.run_actions for s in steps] == [True, False, False, False, False, False, False,
                                              True]


def test_no_data_keeps_the_state_and_marks_it() -> None:
    r = rule(condition="error_rate > 0.1 for 60s")
    steps = run(r, [(0, 0.5), (30, None), (70, None), (80, 0.5)])
    assert states(steps) == ["pending", "pending", "pending", "firing"]
    assert [s.state.no_data for s in steps] == [False, True, True, False]
    assert steps[1].state.value is None
    assert "no data for error_rate over 5m" in steps[1].message
    assert all(s.notify is None for s in steps[:3])
    # firing stays firing through a gap (no resolved note for missing data)
    more = run(r, [(100, None), (2000, None)], start=steps[-1].state)
    assert states(more) == ["firing", "firing"]
    assert [s.notify for s in more] == [None, None]


@pytest.mark.parametrize(("no_data", "expected"), [("ok", ["firing", "resolved", "ok"]),
                                                   ("firing", ["firing", "firing", "firing"])])
def test_no_data_treated_as_ok_or_as_firing(no_data: str, expected: list[str]) -> None:
    steps = run(rule(no_data=no_data), [(0, 0.5), (10, None), (20, None)])
    assert states(steps) == expected
    assert all(s.state.no_data for s in steps[1:])


def test_no_data_as_firing_raises_the_alarm_from_ok() -> None:
    steps = run(rule(no_data="firing", condition="throughput < 1 for 1m"),
                [(0, None), (30, None), (60, None)])
    assert states(steps) == ["pending", "pending", "firing"]


def test_state_round_trips_through_a_dict() -> None:
    steps = run(rule(actions=["pause_rollout"]), [(0, 0.5), (5, 0.7)])
    s = steps[-1].state
    assert AlertState.from_dict(s.to_dict()) == s
    assert AlertState.from_dict(None) == AlertState()
    assert AlertState.from_dict({"state": "firing", "unknown_later_field": 1}).state == "firing"
