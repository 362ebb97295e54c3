"""Threshold suggestions from a seeded history, and the review of rules that never fire
or fire all the time."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from rampup.alerts.review import review_rules
from rampup.alerts.spec import AlertRuleSpec
from rampup.alerts.suggest import candidate_metrics, gather, suggest_rules, to_yaml
from rampup.project import SLO
from rampup.store import Database
from rampup.store.records import VersionRecord
from tests.alerts.conftest import FakeSource

N = 2016  # a week of 5-minute windows


def seeded_history() -> dict[str, list[float]]:
    rng = np.random.default_rng(42)
    return {
        "error_rate": list(rng.beta(2, 400, N)),
        "latency_p99": list(rng.lognormal(np.log(80), 0.2, N)),
        "latency_p50": list(rng.lognormal(np.log(20), 0.1, N)),
        "throughput": list(rng.normal(50, 5, N).clip(1)),
        "feature[income].missing_fraction": list(rng.beta(1, 60, N)),
        "feature[age].missing_fraction": [0.0] * N,
        "class_share[1]": list(rng.normal(0.3, 0.02, N)),
        "confidence_mean": list(rng.normal(0.8, 0.01, N)),
        "accuracy": list(rng.normal(0.9, 0.01, N)),
    }


def by_metric(specs: list[AlertRuleSpec]) -> dict[str, list[AlertRuleSpec]]:
    out: dict[str, list[AlertRuleSpec]] = {}
    for s in specs:
        out.setdefault(s.parsed.metric, []).append(s)
    return out


def test_thresholds_sit_beyond_each_metrics_own_history() -> None:
    hist = seeded_history()
    got = by_metric([s.spec for s in suggest_rules("m", hist)])
    err = got["error_rate"][0].parsed
    expect = np.quantile(hist["error_rate"], 0.995) * 1.5
    assert err.op == ">"
    assert expect <= err.threshold <= expect * 1.01  # rounded up to 3 significant digits
    p99 = got["latency_p99"][0].parsed
    assert np.quantile(hist["latency_p99"], 0.99) * 1.5 <= p99.threshold
    income = got["feature[income].missing_fraction"][0].parsed
    assert income.threshold == pytest.approx(max(hist["feature[income].missing_fraction"])
                                             + 0.05, rel=0.01)
    assert got["feature[age].missing_fraction"][0].parsed.threshold == 0.05
    low = got["throughput"][0].parsed
    assert (low.op, low.threshold) == ("<", pytest.approx(
        np.quantile(hist["throughput"], 0.005) / 3, rel=0.01))
    assert low.threshold <= np.quantile(hist["throughput"], 0.005) / 3  # rounded down
    assert {s.parsed.op for s in got["class_share[1]"]} == {"<", ">"}
    assert got["accuracy"][0].parsed.op == "<"
    assert got["confidence_mean"][0].parsed.op == "<"
    # none of them would have fired on the baseline itself (except a few upper quantiles)
    for metric, specs in got.items():
        for s in specs:
            fired = np.mean([s.parsed.breached(v) for v in hist[metric]])
            assert fired <= 0.005, (metric, s.condition, fired)
    assert all(s.for_s == 300 and s.window_s == 300 for ss in got.values() for s in ss)


def test_slo_and_floors() -> None:
    quiet = {"error_rate": [0.0] * 50, "latency_p99": [10.0] * 50}
    got = by_metric([s.spec for s in suggest_rules("m", quiet)])
    assert got["error_rate"][0].parsed.threshold == 0.005  # not "alarm on the first error"
    slo = SLO(latency_p99_ms=250, max_error_rate=0.02)
    got = by_metric([s.spec for s in suggest_rules("m", quiet, slo=slo)])
    assert got["latency_p99"][0].parsed.threshold == 250
    assert got["error_rate"][0].parsed.threshold == 0.02
    assert "SLO 250 ms" in got["latency_p99"][0].description


def test_too_little_history_suggests_nothing() -> None:
    assert suggest_rules("m", {"error_rate": [0.1, math.nan, 0.2]}) == []
    assert "not enough history" in to_yaml("m", [])


def test_yaml_pastes_into_the_project_file() -> None:
    text = to_yaml("credit", suggest_rules("credit", seeded_history()))
    assert text.startswith("# suggested alert rules for credit")
    doc = yaml.safe_load(text)
    from rampup.project import parse_project

    project = parse_project({"models": {"credit": doc}})
    assert len(project.models["credit"].alerts) == len(doc["alerts"]) >= 9
    assert {"name", "condition", "severity", "description"} <= set(doc["alerts"][0])


def test_candidates_and_gather(store: Database) -> None:
    store.models.ensure_model("m")
    store.models.add_version(VersionRecord(
        model="m", version="v1", seq=1, flavor="python", artifact_uri="x", artifact_hash="h",
        input_schema={"features": [{"name": "age"}, {"name": "income"}]},
        output={"kind": "class", "classes": [0, 1], "has_probabilities": True},
        profile=None, metadata={}, created_at=0.0, created_by="t"))
    metrics = candidate_metrics(store, "m", SLO(key_metrics=["accuracy", "error_rate"]))
    assert metrics == ["error_rate", "latency_p50", "latency_p99", "throughput",
                       "feature[age].missing_fraction", "feature[income].missing_fraction",
                       "class_share[0]", "class_share[1]", "confidence_mean", "accuracy"]
    src = FakeSource()
    src.history[("m", "error_rate")] = [(float(t), 0.01 if (t // 100) % 2 else None)
                                        for t in range(0, 1000, 100)]
    got = gather(src, "m", ["error_rate", "accuracy"], since=200, until=800, step_s=100)
    assert got == {"error_rate": [0.01, 0.01, 0.01], "accuracy": []}


DAY = 86400.0


def test_review_classifies_rules() -> None:
    rng = np.random.default_rng(3)
    events = []
    for t in np.sort(rng.uniform(0, 30 * DAY, 60)):  # noisy: fires twice a day
        events += [{"rule": "noisy", "ts": t, "state": "firing"},
                   {"rule": "noisy", "ts": t + 600, "state": "resolved"}]
    events += [{"rule": "stuck", "ts": 2 * DAY, "state": "firing"}]
    events += [{"rule": "fine", "ts": 5 * DAY, "state": "firing"},
                {"rule": "fine", "ts": 5 * DAY + 900, "state": "resolved"},
                {"rule": "other-model-noise", "ts": 1.0, "state": "firing"}]
    reviews = {r.rule: r for r in review_rules(
        ["noisy", "stuck", "fine", "quiet", "already"], events, since=0.0, until=30 * DAY,
        initial={"already": "firing"})}
    assert reviews["noisy"].verdict == "frequent"
    assert reviews["noisy"].fired == 60
    assert reviews["noisy"].per_day == 2.0
    assert reviews["stuck"].verdict == "always_firing"
    assert reviews["stuck"].firing_share == pytest.approx(28 / 30, abs=1e-4)
    assert reviews["already"].verdict == "always_firing"  # firing the whole period
    assert reviews["already"].fired == 0
    assert reviews["fine"].verdict == "ok"
    assert reviews["quiet"].verdict == "never_fired"
    assert "drop it" in reviews["quiet"].advice
    assert "loosen it" in reviews["stuck"].advice
