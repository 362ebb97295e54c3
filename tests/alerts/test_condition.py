"""Alert conditions: the grammar, every metric family of the catalogue, clear errors."""

from __future__ import annotations

import pytest

from rampup.alerts.condition import (
    Condition,
    canonical_metric,
    parse_condition,
)
from rampup.errors import ValidationError


@pytest.mark.parametrize(("text", "metric", "op", "threshold", "for_s"), [
    ("error_rate > 0.05", "error_rate", ">", 0.05, None),
    ("  latency_p99>=250 for 5m ", "latency_p99", ">=", 250.0, 300.0),
    ("latency_p99_ms > 300 FOR 1h30m", "latency_p99", ">", 300.0, 5400.0),
    ("feature[income].missing_fraction > 0.2 for 30s", "feature[income].missing_fraction",
     ">", 0.2, 30.0),
    ("feature[home city].unseen_fraction > 0.1", "feature[home city].unseen_fraction", ">",
     0.1, None),
    ("class_share[1] < 0.05", "class_share[1]", "<", 0.05, None),
    ("event_rate[repeated_query] > 0.1", "event_rate[repeated_query]", ">", 0.1, None),
    ("custom[brightness].mean <= -1.5e-3", "custom[brightness].mean", "<=", -0.0015, None),
    ("throughput < 1", "throughput", "<", 1.0, None),
    ("drift.output.psi > 0.2 for 10m", "drift.output.psi", ">", 0.2, 600.0),
    ("concept.accuracy_drop > 0.05", "concept.accuracy_drop", ">", 0.05, None),
    ("drift.feature[age].effect > 0.5", "drift.feature[age].effect", ">", 0.5, None),
    ("accuracy < .8", "accuracy", "<", 0.8, None),
])
def test_parses(text: str, metric: str, op: str, threshold: float, for_s: float | None) -> None:
    cond, got_for = parse_condition(text)
    assert cond == Condition(metric, op, threshold)
    assert got_for == for_s
    assert parse_condition(cond.text)[0] == cond  # the canonical text parses back


def test_breached_follows_the_operator() -> None:
    above = parse_condition("error_rate > 0.1")[0]
    at_least = parse_condition("error_rate >= 0.1")[0]
    below = parse_condition("accuracy < 0.9")[0]
    at_most = parse_condition("accuracy <= 0.9")[0]
    assert (above.breached(0.1), above.breached(0.11)) == (False, True)
    assert (at_least.breached(0.1), at_least.breached(0.09)) == (True, False)
    assert (below.breached(0.9), below.breached(0.89)) == (False, True)
    assert (at_most.breached(0.9), at_most.breached(0.91)) == (True, False)
    assert not above.breached(float("nan"))


@pytest.mark.parametrize(("text", "needle"), [
    ("", "the condition is empty"),
    ("eror_rate > 0.1", "did you mean 'error_rate'"),
    ("drift.psi(output) > 0.2", "did you mean 'drift.output' or 'drift.output.psi'?"),
    ("concept.accuracy > 0.1", "did you mean 'concept.accuracy_drop'"),
    ("drift.feature[age].psi > 0.1", "unknown metric 'drift.feature[age].psi'"),
    ("drift.nothing > 1", "unknown metric 'drift.nothing'"),
    ("feature[x].median > 1", "unknown metric 'feature[x].median'"),
    ("speed > 3", "unknown metric 'speed'"),
    ("concept. > 3", "unknown metric 'concept.'"),
    ("error_rate 0.1", "expected an operator"),
    ("error_rate == 0.1", "unsupported operator '=='"),
    ("error_rate => 0.1", "unsupported operator '=>'"),
    ("error_rate >", "expected a number after '>'"),
    ("error_rate > baseline", "the threshold must be a number, found 'baseline'"),
    ("error_rate > 5%", "found '5%'"),
    ("error_rate > 0.1 for", "'for' needs a duration"),
    ("error_rate > 0.1 for ever", "cannot read 'ever' as a duration"),
    ("error_rate > 0.1 during 5m", "found '0.1 during 5m'"),
])
def test_errors_name_the_text_and_list_known_metrics(text: str, needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_condition(text)
    assert needle in err.value.message
    if "duration" not in needle:
        assert repr(text) in err.value.message or not text
        assert err.value.fix is not None
        assert "latency_p99" in err.value.fix  # the known metrics are listed
        assert "feature[ITEM]" in err.value.fix


def test_multivariate_auc_is_refused_with_the_reason() -> None:
    """No source computes drift.multivariate.auc for a stored window (the domain
    classifier runs on raw rows only), so a rule on it would never get a value."""
    with pytest.raises(ValidationError) as err:
        parse_condition("drift.multivariate.auc > 0.7")
    assert "no alert source computes 'drift.multivariate.auc'" in err.value.message
    assert "drift.dataset" in err.value.message
    assert err.value.details["field"] == "condition"


def test_latency_ms_suffix_only_for_latency() -> None:
    assert canonical_metric("latency_p50_ms") == "latency_p50"
    assert canonical_metric("error_rate_ms") is None
    assert canonical_metric("class_share[a]") == "class_share[a]"


def test_for_duration_is_read_by_the_one_parser() -> None:
    """'for' takes every form rampup.durations reads (tests/durations has the rest)."""
    assert parse_condition("error_rate > 0.1 for PT1H30M")[1] == 5400.0
    assert parse_condition("error_rate > 0.1 for 250ms")[1] == 0.25
