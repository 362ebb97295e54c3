"""Verdicts from synthetic runs: pass/fail per SLO, capacity on a ramp, and the generator's
self-check (a generator that fell short voids the verdicts; lag alone voids only what it
could explain)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rampup.loadtest.latencies import TIMEOUT, UNSENT, Outcomes
from rampup.loadtest.schedule import Rate, offsets
from rampup.loadtest.verdict import (
    EXIT_FAIL,
    EXIT_NOT_JUDGED,
    EXIT_PASS,
    Plan,
    Targets,
    judge,
)


def run(rate: Rate, duration: float, latency: Any, *, lag: Any = 0.0005,
        status: Any = 200) -> Outcomes:
    due = offsets(rate, duration)
    n = len(due)
    lat = np.broadcast_to(np.asarray(latency(due) if callable(latency) else latency,
                                     dtype=np.float64), (n,)).copy()
    lags = np.broadcast_to(np.asarray(lag(due) if callable(lag) else lag, dtype=np.float64),
                           (n,)).copy()
    codes = np.broadcast_to(np.asarray(status(due) if callable(status) else status,
                                       dtype=np.int32), (n,)).copy()
    return Outcomes(due, lags, lat + lags, codes)


def statuses(report: Any) -> dict[str, str]:
    return {v.name: v.status for v in report.verdicts}


def test_a_server_meeting_every_slo_passes() -> None:
    o = run(Rate(100.0), 10.0, lambda d: 0.010 + 0.005 * (np.arange(len(d)) % 10 == 0))
    t = Targets(latency_p99_ms=50, latency_p50_ms=20, expected_qps=100, max_error_rate=0.01)
    r = judge(o, Plan(Rate(100.0), 10.0, lag_bound_ms=t.lag_bound_ms()), t)
    assert statuses(r) == dict.fromkeys(
        ["latency_p99_ms", "latency_p50_ms", "max_error_rate", "expected_qps"], "pass")
    assert r.exit_code == EXIT_PASS
    assert r.generator_problem is None
    assert abs(r.served_rps - 100) < 1
    assert r.achieved_rps == 100


def test_a_slow_server_fails_the_latency_slo() -> None:
    o = run(Rate(20.0), 5.0, 0.200)
    r = judge(o, Plan(Rate(20.0), 5.0), Targets(latency_p99_ms=50, expected_qps=20))
    assert statuses(r) == {"latency_p99_ms": "fail", "expected_qps": "pass"}
    assert r.exit_code == EXIT_FAIL
    assert "200.5 ms > 50 ms" in r.verdicts[0].detail


def test_errors_over_the_budget_fail() -> None:
    o = run(Rate(100.0), 5.0, 0.01, status=lambda d: np.where(np.arange(len(d)) % 20 == 0,
                                                               503, 200))
    r = judge(o, Plan(Rate(100.0), 5.0), Targets(max_error_rate=0.01))
    assert statuses(r) == {"max_error_rate": "fail"}
    assert r.outcomes == {"ok": 475,
                                                                        "http 503": 25}


def test_timeouts_count_in_the_tail() -> None:
    o = run(Rate(100.0), 5.0, lambda d: np.where(np.arange(len(d)) % 50 == 0, 10.0, 0.01),
            status=lambda d: np.where(np.arange(len(d)) % 50 == 0, TIMEOUT, 200))
    r = judge(o, Plan(Rate(100.0), 5.0), Targets(latency_p99_ms=100))
    assert statuses(r) == {"latency_p99_ms": "fail"}
    assert r.latency_ms["p99"] > 9000


def test_a_saturated_server_does_not_reach_the_rate() -> None:
    capacity = 80.0  # answers one request every 1/80 s, in order: a growing queue
    due = offsets(Rate(100.0), 10.0)
    done = np.maximum.accumulate(np.maximum(due, np.arange(len(due)) / capacity)) + 0.005
    o = Outcomes(due, np.full(len(due), 0.0005), done - due, np.full(len(due), 200))
    r = judge(o, Plan(Rate(100.0), 10.0), Targets(expected_qps=100, latency_p99_ms=1000))
    assert statuses(r) == {"latency_p99_ms": "fail", "expected_qps": "fail"}
    assert abs(r.served_rps - capacity) < 2


def test_qps_below_the_target_is_not_judged() -> None:
    o = run(Rate(10.0), 5.0, 0.01)
    r = judge(o, Plan(Rate(10.0), 5.0), Targets(expected_qps=50))
    assert statuses(r) == {"expected_qps": "not judged"}
    assert r.exit_code == EXIT_NOT_JUDGED
    assert "--qps 50" in r.verdicts[0].detail


def test_poisson_runs_pass_at_their_nominal_rate() -> None:
    for seed in range(20):
        due = offsets(Rate(50.0), 20.0, "poisson", seed=seed)
        o = Outcomes(due, np.zeros(len(due)), np.full(len(due), 0.02), np.full(len(due), 200))
        r = judge(o, Plan(Rate(50.0), 20.0, "poisson"), Targets(expected_qps=50))
        assert statuses(r) == {"expected_qps": "pass"}, (seed, r.verdicts)


def test_a_generator_that_fell_short_judges_nothing() -> None:
    o = run(Rate(1000.0), 2.0, 0.200,
            lag=lambda d: np.maximum(0, d * 0.5))  # starts at 2/3 of the pace
    r = judge(o, Plan(Rate(1000.0), 2.0), Targets(latency_p99_ms=50, max_error_rate=0.5))
    assert r.generator_shortfall
    assert r.exit_code == EXIT_NOT_JUDGED
    assert statuses(r) == {"latency_p99_ms": "not judged", "max_error_rate": "not judged"}
    assert "generator-limited" in r.verdicts[0].detail
    assert r.achieved_rps < 0.95 * r.offered_rps


def test_unsent_requests_void_the_verdicts() -> None:
    o = run(Rate(100.0), 2.0, 0.01, status=lambda d: np.where(d > 1.5, UNSENT, 200))
    o = Outcomes(o.due, np.where(o.status == UNSENT, np.nan, o.lag),
                 np.where(o.status == UNSENT, np.nan, o.latency), o.status)
    r = judge(o, Plan(Rate(100.0), 2.0), Targets(latency_p99_ms=50))
    assert statuses(r) == {"latency_p99_ms": "not judged"}
    assert "never sent" in (r.generator_problem or "")


def test_send_lag_voids_only_what_it_explains() -> None:
    plan = Plan(Rate(100.0), 5.0, lag_bound_ms=5.0)
    laggy = run(Rate(100.0), 5.0, 0.030, lag=0.030)  # 30 ms server, 30 ms lag: 60 ms seen
    r = judge(laggy, plan, Targets(latency_p99_ms=50))
    assert statuses(r) == {"latency_p99_ms": "not judged"}  # 30 ms without the lag
    r = judge(laggy, plan, Targets(latency_p99_ms=100))
    assert statuses(r) == {"latency_p99_ms": "pass"}  # lag only ever inflates
    slow = run(Rate(100.0), 5.0, 0.200, lag=0.030)
    r = judge(slow, plan, Targets(latency_p99_ms=50, max_error_rate=0.01))
    assert statuses(r) == {"latency_p99_ms": "fail", "max_error_rate": "pass"}
    assert "without the generator's send lag" in r.verdicts[0].detail
    assert not r.generator_shortfall
    assert r.generator_problem is not None


def test_ramp_finds_the_capacity_within_the_slos() -> None:
    rate = Rate(10.0, 200.0)
    # latency climbs past 50 ms once the offered rate passes 125 req/s (windows of 19 req/s)
    o = run(rate, 20.0, lambda d: np.where(rate.at(d, 20.0) > 125, 0.150, 0.010))
    ok = judge(o, Plan(rate, 20.0, windows=10), Targets(latency_p99_ms=50, expected_qps=100))
    assert statuses(ok) == {"latency_p99_ms": "pass", "expected_qps": "pass"}
    assert ok.capacity_rps is not None
    assert 100 <= ok.capacity_rps <= 125
    high = judge(o, Plan(rate, 20.0, windows=10), Targets(latency_p99_ms=50, expected_qps=150))
    assert statuses(high) == {"latency_p99_ms": "fail", "expected_qps": "fail"}
    assert [w.offered_rps for w in ok.windows][:3] == [19.5, 38.5, 57.5]


def test_json_is_strict_json() -> None:
    o = Outcomes.build([0.0, 0.5], [0.0, None], [0.01, None], [200, UNSENT])
    doc = judge(o, Plan(Rate(2.0), 1.0), Targets(latency_p99_ms=50)).to_json()
    text = json.dumps(doc, allow_nan=False)
    assert set(json.loads(text)) >= {"latency_ms", "outcomes", "slo", "windows", "generator",
                                     "exit_code", "passed", "histogram", "achieved_rps"}
    assert doc["passed"] is None
    assert doc["exit_code"] == EXIT_NOT_JUDGED


def test_lag_bound_follows_the_tightest_latency_slo() -> None:
    assert Targets().lag_bound_ms() == 10.0
    assert Targets(latency_p99_ms=50).lag_bound_ms() == 5.0
    assert Targets(latency_p99_ms=500, latency_p50_ms=5).lag_bound_ms() == 1.0
    assert Targets.from_slo(None, expected_qps=5.0) == Targets(expected_qps=5.0)
