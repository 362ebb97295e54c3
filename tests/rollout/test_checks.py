from __future__ import annotations

import pytest

from rampup.errors import ValidationError
from rampup.rollout.checks import METRICS, Check, canonical_metric, parse_check


@pytest.mark.parametrize(("text", "expected", "canonical"), [
    ("error_rate <= 0.01", Check("error_rate", "<=", 0.01), "error_rate <= 0.01"),
    ("latency_p99_ms <= 300", Check("latency_p99", "<=", 300.0), "latency_p99 <= 300"),
    ("latency_p99<=1.2*baseline", Check("latency_p99", "<=", None, factor=1.2),
     "latency_p99 <= 1.2 * baseline"),
    ("latency_mean_ms < baseline * 1.5", Check("latency_mean", "<", None, factor=1.5),
     "latency_mean < 1.5 * baseline"),
    ("accuracy >= baseline - 0.02", Check("accuracy", ">=", None, offset=-0.02),
     "accuracy >= baseline - 0.02"),
    ("error_rate <= baseline + 0.01", Check("error_rate", "<=", None, offset=0.01),
     "error_rate <= baseline + 0.01"),
    ("latency_p50 > baseline", Check("latency_p50", ">", None), "latency_p50 > baseline"),
    ("agreement >= .95", Check("agreement", ">=", 0.95), "agreement >= 0.95"),
    ("  requests   >=   1e3 ", Check("requests", ">=", 1000.0), "requests >= 1000"),
    ("score_divergence < 0.1", Check("score_divergence", "<", 0.1), "score_divergence < 0.1"),
    ("mean_abs_diff <= 2.5", Check("mean_abs_diff", "<=", 2.5), "mean_abs_diff <= 2.5"),
    ("latency_p90 <= 2 * baseline", Check("latency_p90", "<=", None, factor=2.0),
     "latency_p90 <= 2 * baseline"),
    ("latency_p95 <= 1e2", Check("latency_p95", "<=", 100.0), "latency_p95 <= 100"),
])
def test_parse_good_checks(text: str, expected: Check, canonical: str) -> None:
    check = parse_check(text)
    assert check == expected
    assert check.text == canonical
    assert str(check) == canonical
    assert parse_check(check.text) == check  # round trip
    assert parse_check(canonical).text == canonical


def test_relative_direction_and_resolution() -> None:
    c = parse_check("latency_p99 <= 1.2 * baseline")
    assert (c.relative, c.direction) == (True, "upper")
    assert c.resolve(250.0) == pytest.approx(300.0)
    a = parse_check("accuracy > baseline - 0.02")
    assert (a.relative, a.direction) == (True, "lower")
    assert a.resolve(0.9) == 0.88
    absolute = parse_check("error_rate < 0.01")
    assert (absolute.relative, absolute.direction) == (False, "upper")
    assert absolute.resolve(0.5) == 0.01  # the baseline does not matter
    with pytest.raises(ValidationError, match="needs the baseline's latency_p99"):
        c.resolve(None)


@pytest.mark.parametrize(("text", "value", "threshold", "ok"), [
    ("error_rate <= 0.01", 0.01, 0.01, True),
    ("error_rate < 0.01", 0.01, 0.01, False),
    ("error_rate < 0.01", 0.009, 0.01, True),
    ("accuracy >= 0.9", 0.9, 0.9, True),
    ("accuracy > 0.9", 0.9, 0.9, False),
    ("accuracy > 0.9", 0.95, 0.9, True),
])
def test_satisfied_respects_strictness(text: str, value: float, threshold: float,
                                       ok: bool) -> None:
    assert parse_check(text).satisfied(value, threshold) is ok


def test_metric_aliases() -> None:
    assert canonical_metric("latency_p99_ms") == "latency_p99"
    assert canonical_metric("latency_mean_ms") == "latency_mean"
    assert canonical_metric("error_rate_ms") is None
    assert canonical_metric("latency_p42_ms") is None
    assert all(canonical_metric(m) == m for m in METRICS)


@pytest.mark.parametrize(("text", "position", "fragment"), [
    ("", 0, "the check is empty"),
    ("   ", 0, "the check is empty"),
    ("latency_p98 <= 300", 0, "unknown metric 'latency_p98'"),
    ("latency <= 300", 0, "unknown metric 'latency'"),
    ("300 <= latency_p99", 0, "unknown metric '300'"),
    ("latency_p99 =< 300", 12, "expected an operator"),
    ("latency_p99 == 300", 12, "expected an operator"),
    ("latency_p99", 11, "but the check ends there"),
    ("latency_p99 <=", 14, "expected a threshold"),
    ("latency_p99 <= fast", 15, "expected a threshold"),
    ("latency_p99 <= 1.2 *", 20, "expected 'baseline'"),
    ("latency_p99 <= 1.2 * 3", 21, "expected 'baseline' after '*'"),
    ("latency_p99 <= baseline +", 25, "expected a number"),
    ("latency_p99 <= baseline + x", 26, "expected a number, found 'x'"),
    ("latency_p99 <= 300 ms", 19, "unexpected 'ms'"),
    ("latency_p99 <= baseline * 1.2 + 5", 30, "unexpected '+'"),
    ("error_rate <= 1.5", 14, "share between 0 and 1"),
    ("error_rate <= 5%", 15, "unexpected '%'"),
    ("agreement >= baseline", 13, "has no baseline"),
    ("score_divergence <= 2 * baseline", 20, "has no baseline"),
    ("latency_p99 <= 0 * baseline", 15, "factor must be positive"),
    ("latency_p99 <= -5", 15, "found '-'"),
])
def test_parse_errors_name_text_position_and_fix(text: str, position: int,
                                                 fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_check(text)
    err = info.value
    assert f"cannot parse check {text!r} at position {position}:" in err.message
    assert fragment in err.message
    assert err.details["position"] == position
    assert err.details["field"] == "check"
    assert err.fix is not None
    for word in ("error_rate", "latency_p99", "agreement", "score_divergence", "requests",
                 "N * baseline", "baseline - N", "<="):
        assert word in err.fix
