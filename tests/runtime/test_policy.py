"""The supervisor's pure parts: restart delays and the health state machine, driven by
hand with an injected clock (no threads)."""

from __future__ import annotations

import pytest

from rampup.runtime import Backoff, WorkerHealth


def test_delays_double_up_to_the_ceiling() -> None:
    b = Backoff(initial=0.5, factor=2.0, maximum=8.0, jitter=0.0)
    assert [b.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert b.delay(10_000) == 8.0  # no overflow on a very long streak


def test_jitter_only_shortens_and_stays_within_its_fraction() -> None:
    b = Backoff(initial=4.0, maximum=4.0, jitter=0.25)
    assert b.delay(1, rand=lambda: 0.0) == 4.0
    assert b.delay(1, rand=lambda: 0.999) == pytest.approx(3.001)
    assert b.delay(1) == 4.0  # no random source: no jitter


def test_a_long_healthy_run_resets_the_streak() -> None:
    b = Backoff(reset_after=60.0)
    streak = 0
    for _ in range(5):  # a crash loop: each run lasted 1 s
        streak = b.next_streak(streak, ran_for=1.0)
    assert streak == 5
    assert b.next_streak(streak, ran_for=60.0) == 1


@pytest.mark.parametrize("kw", [{"initial": 0}, {"initial": 2, "maximum": 1}, {"factor": 0.5},
                                {"jitter": 1.0}])
def test_nonsense_policies_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kw)


def test_health_through_a_crash_and_a_restart() -> None:
    h = WorkerHealth("monitor", stall_after=10.0)
    h.started(100.0)
    assert h.state == "starting"
    assert h.down_reason(100.0) is None
    h.beat(100.5)
    assert h.state == "running"
    assert h.heartbeat_age(101.0) == pytest.approx(0.5)
    h.crashed(103.0, "KeyError: 'x'", restart_at=104.0)
    reason = h.down_reason(103.5)
    assert reason is not None
    assert "KeyError" in reason
    assert "in 0.5 s" in reason
    assert h.down_since == 103.0
    h.started(104.0)
    assert h.state == "restarting"
    assert h.restarts == 1
    assert "not beating yet" in (h.down_reason(104.1) or "")
    h.beat(104.2)
    assert h.down_reason(104.3) is None
    assert h.down_since is None
    assert h.to_dict(104.3)["up"] is True


def test_a_worker_that_stops_beating_is_down_after_its_stall_limit() -> None:
    h = WorkerHealth("log-writer", stall_after=30.0)
    h.started(0.0)
    h.beat(1.0)
    assert h.down_reason(31.0) is None
    assert "no heartbeat for 31.5 s" in (h.down_reason(32.5) or "")
    never = WorkerHealth("retrain")  # long jobs: no stall limit
    never.started(0.0)
    never.beat(0.0)
    assert never.down_reason(1e6) is None


def test_a_stopped_worker_is_not_down() -> None:
    h = WorkerHealth("x", stall_after=1.0)
    h.started(0.0)
    h.crashed(1.0, "boom", restart_at=2.0)
    h.stopped()
    assert h.down_reason(50.0) is None
    assert h.state == "stopped"
