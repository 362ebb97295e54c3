"""The judge on seeded synthetic windows: real failures fail, equal versions pass.

The judge decides on always-valid confidence sequences (issue 13), so a pass needs the
whole interval on the right side of the threshold: several expectations below use
larger windows, or looser thresholds, than they did when a point estimate passed.
Properties under continuous monitoring are in test_sequential.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rampup.rollout.checks import parse_check
from rampup.rollout.judge import CheckResult, StepVerdict, evaluate, judge_all
from rampup.rollout.window import PairedStats, WindowStats


def window(rng: np.random.Generator, n: int, *, version: str = "v", err: float = 0.01,
           acc: float = 0.9, labelled: float = 0.5, shift_ms: float = 0.0,
           tail: float = 0.0, tail_ms: float = 0.0, scores: tuple[float, float] = (5, 2),
           ) -> WindowStats:
    """n predictions: lognormal latency around 20 ms (+shift; a share `tail` +tail_ms)."""
    lat = rng.lognormal(np.log(20.0), 0.4, n) + shift_ms
    lat[rng.random(n) < tail] += tail_ms
    nl = int(rng.binomial(n, labelled))
    return WindowStats(version, requests=n, errors=int(rng.binomial(n, err)), latencies_ms=lat,
                       labelled=nl, correct=int(rng.binomial(nl, acc)),
                       scores=rng.beta(*scores, n))


def pairs(rng: np.random.Generator, n: int, agree: float, *, primary: str = "v1",
          numeric_noise: float | None = None, shift: float = 0.0) -> PairedStats:
    p = rng.choice(["a", "b", "c"], n)
    c = np.where(rng.random(n) < agree, p, np.where(p == "a", "b", "a"))
    pv: list[Any] = p.tolist()
    cv: list[Any] = c.tolist()
    if numeric_noise is not None:
        x = rng.normal(100, 10, n)
        pv, cv = x.tolist(), (x + shift + rng.normal(0, numeric_noise, n)).tolist()
    labels = pv if primary == "human" else [None] * n
    return PairedStats("v2", primary, np.array(pv, dtype=object), np.array(cv, dtype=object),
                       rng.beta(5, 2, n), rng.beta(5, 2, n), np.array(labels, dtype=object))


# -- failing candidates fail, quickly ------------------------------------------------------

def test_twenty_percent_errors_fail_within_a_few_hundred_requests() -> None:
    rng = np.random.default_rng(1)
    base = window(rng, 5000, err=0.01)
    for check in ("error_rate <= baseline + 0.01", "error_rate <= 1.5 * baseline",
                  "error_rate <= baseline", "error_rate <= 0.05"):
        r = evaluate(check, window(rng, 200, err=0.2), base)
        assert r.verdict == "fail", r
        assert r.p_value is not None
        assert r.p_value < 1e-4  # always-valid p-values pay for every look
        assert r.n == 200
        assert r.n_baseline == 5000
        assert r.value == pytest.approx(0.2, abs=0.06)
    r = evaluate("error_rate <= 1.5 * baseline", window(rng, 300, err=0.2), base)
    assert r.threshold == pytest.approx(1.5 * base.errors / base.requests)
    assert r.baseline_value == pytest.approx(base.errors / base.requests)
    assert r.reason.startswith("error_rate 0.")


def test_fifty_ms_slower_fails_the_latency_checks() -> None:
    rng = np.random.default_rng(2)
    base = window(rng, 3000)
    slow = window(rng, 300, shift_ms=50.0)
    r = evaluate("latency_p99 <= 1.2 * baseline", slow, base)
    assert r.verdict == "fail"
    base_p99 = float(np.quantile(base.latencies_ms, 0.99))
    assert r.baseline_value == pytest.approx(base_p99)
    assert r.threshold == pytest.approx(1.2 * base_p99)
    assert r.value == pytest.approx(float(np.quantile(slow.latencies_ms, 0.99)))
    for check in ("latency_p50_ms <= baseline + 10", "latency_mean <= 1.5 * baseline",
                  "latency_p99 <= 80", "latency_p50 <= 40", "latency_mean_ms <= 50"):
        assert evaluate(check, slow, base).verdict == "fail", check


def test_a_tail_only_slowdown_fails_the_p99_check() -> None:
    """2% of requests 50 ms slower: the median is unchanged, the p99 is not."""
    rng = np.random.default_rng(3)
    base = window(rng, 4000)
    cand = window(rng, 1500, tail=0.03, tail_ms=50.0)
    assert evaluate("latency_p99 <= 1.2 * baseline", cand, base).verdict == "fail"
    assert evaluate("latency_p50 <= 1.2 * baseline", cand, base).verdict == "pass"


def test_absolute_quantile_tests_the_share_over_the_threshold() -> None:
    rng = np.random.default_rng(4)
    lat = np.full(1000, 100.0)
    lat[:40] = 400.0  # 4% over 300 ms, p99 = 400
    r = evaluate("latency_p99 <= 300", WindowStats("v2", requests=1000, latencies_ms=lat), None)
    assert (r.verdict, r.value, r.threshold) == ("fail", 400.0, 300.0)
    lat[:12] = 400.0
    lat[12:40] = 100.0  # 1.2% over: a violation, but not a significant one
    r = evaluate("latency_p99 <= 300", WindowStats("v2", requests=1000, latencies_ms=lat), None)
    assert r.verdict == "wait"
    assert r.reason.startswith("not conclusive yet")
    assert r.p_value is not None
    assert r.p_value > 0.05
    fast = window(rng, 500)
    assert evaluate("latency_p99 <= 300", fast, None).verdict == "pass"


def test_lower_accuracy_fails() -> None:
    rng = np.random.default_rng(5)
    base = window(rng, 4000, acc=0.9, labelled=0.5)
    worse = window(rng, 800, acc=0.75, labelled=0.5)
    r = evaluate("accuracy >= baseline - 0.02", worse, base)
    assert r.verdict == "fail"
    assert r.threshold == pytest.approx(base.correct / base.labelled - 0.02)
    assert (r.n, r.n_baseline) == (worse.labelled, base.labelled)
    assert evaluate("accuracy >= 0.85", worse, None).verdict == "fail"
    # 0.75 on ~400 labels: its interval is about +-0.07, so 0.7 is not yet confirmed
    assert evaluate("accuracy >= 0.7", worse, None).verdict == "wait"
    assert evaluate("accuracy >= 0.6", worse, None).verdict == "pass"


def test_low_agreement_fails_and_high_agreement_passes() -> None:
    rng = np.random.default_rng(6)
    cand = window(rng, 500)
    low = evaluate("agreement >= 0.95", cand, None, pairs(rng, 500, 0.85))
    assert (low.verdict, low.threshold, low.n) == ("fail", 0.95, 500)
    assert low.value == pytest.approx(0.85, abs=0.05)
    assert evaluate("agreement >= 0.8", cand, None, pairs(rng, 500, 0.97)).verdict == "pass"
    # 0.94 against 0.95 on 300 pairs is not a significant violation
    near = pairs(rng, 300, 0.94)
    r = evaluate("agreement >= 0.95", cand, None, near)
    assert r.verdict == "wait"
    assert r.reason.startswith("not conclusive yet")


def test_human_primary_agreement_needs_min_labelled_decisions() -> None:
    rng = np.random.default_rng(7)
    cand = window(rng, 500)
    few = pairs(rng, 60, 0.9, primary="human")
    assert evaluate("agreement >= 0.6", cand, None, few, min_requests=100,
                    min_labelled=50).verdict == "pass"
    r = evaluate("agreement >= 0.8", cand, None, few, min_labelled=80)
    assert r.verdict == "wait"
    assert "60 of 80 human decisions" in r.reason


def test_mean_abs_diff() -> None:
    rng = np.random.default_rng(8)
    cand = window(rng, 500)
    close = pairs(rng, 400, 1.0, numeric_noise=1.0)
    far = pairs(rng, 400, 1.0, numeric_noise=1.0, shift=5.0)
    assert evaluate("mean_abs_diff <= 2", cand, None, close).verdict == "pass"
    r = evaluate("mean_abs_diff <= 2", cand, None, far)
    assert r.verdict == "fail"
    assert r.value == pytest.approx(5.0, abs=0.3)
    assert evaluate("mean_abs_diff <= 2", cand, None, pairs(rng, 400, 0.9)).verdict == "wait"


def test_score_divergence() -> None:
    rng = np.random.default_rng(9)
    base = window(rng, 3000, scores=(5, 2))
    same = window(rng, 3000, scores=(5, 2))
    shifted = window(rng, 1000, scores=(2, 5))
    assert evaluate("score_divergence <= 0.2", same, base).verdict == "pass"
    r = evaluate("score_divergence <= 0.2", shifted, base)
    assert r.verdict == "fail"
    assert r.p_value is not None
    assert r.p_value < 0.01
    # paired scores take precedence over the windows'
    pr = pairs(rng, 500, 0.9)
    r = evaluate("score_divergence <= 0.3", shifted, base, pr)
    assert r.verdict == "pass"
    assert (r.n, r.n_baseline) == (500, 500)
    assert evaluate("score_divergence <= 0.2", shifted, None).verdict == "wait"


@pytest.mark.parametrize("n", [100, 300])
def test_small_samples_of_equal_scores_never_fail_the_divergence_check(n: int) -> None:
    """The distance of two small samples is large by chance; that must wait, not fail."""
    fails = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        r = evaluate("score_divergence <= 0.05", window(rng, n), window(rng, n), seed=seed)
        fails += r.verdict == "fail"
    assert fails <= 6


def test_requests_check_waits_for_volume() -> None:
    w = WindowStats("v2", requests=400)
    assert evaluate("requests >= 1000", w, None).verdict == "wait"
    assert evaluate("requests >= 100", w, None).verdict == "pass"
    assert evaluate("requests <= 300", w, None).verdict == "fail"
    base = WindowStats("v1", requests=2000)
    r = evaluate("requests >= 0.1 * baseline", w, base)
    assert (r.verdict, r.threshold, r.baseline_value) == ("pass", 200.0, 2000.0)
    assert evaluate("requests >= 0.1 * baseline", w, None).verdict == "wait"


# -- not enough data waits, and never passes -----------------------------------------------

@pytest.mark.parametrize("check", [
    "error_rate <= 0.5", "error_rate <= baseline + 0.5", "latency_p99 <= 10000",
    "latency_p99 <= 10 * baseline", "accuracy >= 0.0", "accuracy >= baseline - 0.5",
    "agreement >= 0.0", "mean_abs_diff <= 1000", "score_divergence <= 1",
])
def test_too_little_data_waits(check: str) -> None:
    rng = np.random.default_rng(10)
    small = window(rng, 60, err=0.0, labelled=0.5)
    big = window(rng, 2000)
    few_pairs = pairs(rng, 40, 1.0, numeric_noise=0.0)
    for cand, base in ((small, big), (big, small)):
        if cand is big and not parse_check(check).relative and "divergence" not in check:
            continue  # an absolute check does not look at the baseline
        r = evaluate(check, cand, base, few_pairs)
        assert r.verdict == "wait", (check, r)
        assert r.reason.startswith("not enough data"), r.reason
    if parse_check(check).relative:
        r = evaluate(check, big, None)
        assert (r.verdict, r.reason) == ("wait", "no baseline window to compare with")


@pytest.mark.parametrize("check", [
    "error_rate <= 0.5", "error_rate <= baseline + 0.5", "accuracy >= baseline - 0.5",
    "latency_p99 <= baseline", "agreement >= 0.0", "mean_abs_diff <= 1000",
    "score_divergence <= 1",
])
def test_a_minimum_of_zero_still_waits_on_an_empty_window(check: str) -> None:
    """A plan with min_requests/min_labelled 0 and an empty window waits, every tick (it
    raised ZeroDivisionError on every controller pass)."""
    rng = np.random.default_rng(12)
    empty = window(rng, 0)
    r = evaluate(check, empty, window(rng, 500), pairs(rng, 0, 1.0, numeric_noise=0.0),
                 min_requests=0, min_labelled=0)
    assert r.verdict == "wait", (check, r)
    r = evaluate(check, window(rng, 500), empty, None, min_requests=0, min_labelled=0)
    assert r.verdict in ("wait", "pass", "fail"), r


def test_waiting_is_reported_with_counts() -> None:
    rng = np.random.default_rng(11)
    r = evaluate("accuracy >= baseline - 0.02", window(rng, 200, labelled=0.1),
                 window(rng, 2000), min_labelled=50)
    assert r.verdict == "wait"
    assert r.reason == f"not enough data: {r.n} of 50 labelled predictions for the candidate"
    r = evaluate("agreement >= 0.9", window(rng, 200), None, None)
    assert r.verdict == "wait"
    assert "shadow" in r.reason


# -- equal versions pass (false failures at most about alpha) ------------------------------

EQUAL_CHECKS = ["error_rate <= baseline", "latency_p99 <= baseline",
                "latency_p50 <= baseline", "latency_mean <= baseline",
                "accuracy >= baseline", "error_rate <= baseline + 0.01",
                "latency_p99 <= 1.2 * baseline", "accuracy >= baseline - 0.02",
                "error_rate <= 0.01"]


def test_equal_candidates_pass_and_fail_at_most_about_alpha() -> None:
    """One look at equal versions: fails stay under alpha; checks with a margin pass
    once the windows are large enough to confirm the margin (with a point estimate
    they passed on 400 requests; an interval needs thousands for a 0.01 margin)."""
    trials = 100
    fails = dict.fromkeys(EQUAL_CHECKS, 0)
    passes = dict.fromkeys(EQUAL_CHECKS, 0)
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        small = judge_all(EQUAL_CHECKS, window(rng, 400), window(rng, 2000)).results
        big = judge_all(EQUAL_CHECKS, window(rng, 5000, labelled=1.0),
                        window(rng, 20000, labelled=1.0)).results
        for res in small + big:
            fails[res.check_text] += res.verdict == "fail"
        for res in big:
            passes[res.check_text] += res.verdict == "pass"
    for check in EQUAL_CHECKS:
        # alpha = 0.05 per look: 10 expected at most over the 2 x 100 looks
        assert fails[check] <= 10, (check, fails[check])
    for check in ("error_rate <= baseline + 0.01", "latency_p99 <= 1.2 * baseline",
                  "accuracy >= baseline - 0.02"):
        assert fails[check] == 0
        assert passes[check] >= 0.8 * trials, (check, passes[check])


# -- the step verdict ----------------------------------------------------------------------

def result(verdict: str) -> CheckResult:
    return CheckResult("x", verdict, None, None, None, None, 0, None, "")  # type: ignore[arg-type]


def test_judge_all_any_fail_fails_then_any_wait_waits() -> None:
    rng = np.random.default_rng(12)
    base = window(rng, 3000)
    bad = window(rng, 300, err=0.2)
    good = window(rng, 3000)  # enough to confirm the margin of 0.01 with 95% confidence
    v = judge_all(["error_rate <= baseline + 0.01", "requests >= 10000"], bad, base)
    assert v.verdict == "fail"
    assert [r.verdict for r in v.results] == ["fail", "wait"]
    assert len(v.reasons) == 2
    assert v.reasons[0].startswith("error_rate <= baseline + 0.01: ")
    v = judge_all(["error_rate <= baseline + 0.01", "requests >= 10000"], good, base)
    assert v.verdict == "wait"
    v = judge_all([parse_check("error_rate <= baseline + 0.01"), "requests >= 100"], good, base)
    assert v.verdict == "pass"
    assert v.reasons == []
    d = v.to_dict()
    assert d["verdict"] == "pass"
    assert d["results"][0]["check"] == "error_rate <= baseline + 0.01"
    assert set(d["results"][0]) == {"check", "verdict", "value", "baseline_value", "threshold",
                                    "p_value", "n", "n_baseline", "reason", "margin"}
    lo, hi = d["results"][0]["margin"]  # the always-valid interval of value - threshold
    assert lo <= d["results"][0]["value"] - d["results"][0]["threshold"] <= hi < 0
    assert judge_all([], good, base).verdict == "pass"
    assert StepVerdict("wait", (result("pass"), result("wait"))).reasons == ["x: "]


# -- edge forms ----------------------------------------------------------------------------

def test_boundary_thresholds_and_lower_bounds() -> None:
    rng = np.random.default_rng(13)
    cand = window(rng, 500, err=0.02, acc=0.9)
    base = window(rng, 500)
    r = evaluate("error_rate <= 0", cand, None)
    assert (r.verdict, r.p_value) == ("fail", 0.0)  # any error is a certain violation
    assert evaluate("accuracy >= 1", cand, None).verdict == "fail"
    assert evaluate("accuracy <= 1", cand, None).verdict == "pass"
    # lower bounds on latency: "at least this slow" mirrors the upper-bound tests
    assert evaluate("latency_p50 >= 100", cand, None).verdict == "fail"
    assert evaluate("latency_mean >= 100", cand, None).verdict == "fail"
    assert evaluate("latency_p50 >= 2 * baseline", cand, base).verdict == "fail"
    assert evaluate("latency_p50 >= 0.5 * baseline", cand, base).verdict == "pass"
    # an upper bound on agreement (a suspiciously identical candidate)
    same = pairs(rng, 400, 1.0)
    assert evaluate("agreement <= 0.9", cand, None, same).verdict == "fail"
    # no test exists for "at least this different": it can only wait
    shifted = window(rng, 1000, scores=(2, 5))
    r = evaluate("score_divergence >= 0.9", shifted, base)
    assert r.verdict == "wait"
    assert "can only wait" in r.reason
    r = evaluate("score_divergence <= 0.1", shifted, WindowStats("v1", scores=np.full(50, 0.5)))
    assert r.reason == "not enough data: 50 of 100 scores for the baseline"
    assert evaluate("mean_abs_diff <= 1", cand, None, None).verdict == "wait"


def test_degenerate_samples_do_not_warn() -> None:
    """Constant latencies and outputs (zero variance) decide without scipy warnings."""
    # 2000 each: a p99's interval has an upper end only after a few hundred latencies
    flat = WindowStats("v2", requests=2000, latencies_ms=np.full(2000, 50.0))
    base = WindowStats("v1", requests=2000, latencies_ms=np.full(2000, 50.0))
    r = evaluate("latency_p99 <= 0.8 * baseline", flat, base)
    assert r.verdict == "fail"  # every latency is exactly 1.25x its scaled baseline
    assert evaluate("latency_p99 < baseline", flat, base).verdict == "wait"  # equal: no test
    assert evaluate("latency_mean <= 40", flat, None).verdict == "fail"
    assert evaluate("latency_mean >= 60", flat, None).verdict == "fail"
    exact = PairedStats("v2", "v1", np.array([1.0] * 2000, dtype=object),
                        np.array([4.0] * 2000, dtype=object))
    assert evaluate("mean_abs_diff <= 2", flat, None, exact).verdict == "fail"
    assert evaluate("mean_abs_diff >= 2", flat, None, exact).verdict == "pass"
