"""The demo's world switches: broken field, drift, and the slow dependency the model calls."""

from __future__ import annotations

import dataclasses
import time

from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.store import VersionRecord
from rampup_demo.scenario import Scenario, WithDependency, with_dependency


class Echo:
    flavor = "python"
    input_schema = InputSchema.any()
    output = OutputSpec(kind="free")

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        self.calls += 1
        return PredictionBatch([1] * batch.n)


def test_a_broken_field_empties_its_share_of_rows_and_repair_restores_it() -> None:
    s = Scenario(seed=1)
    rows = s.records()
    healthy = [next(rows) for _ in range(2000)]
    base = sum(r["credit_score"] is None for r in healthy) / len(healthy)
    assert base < 0.06  # ~3% missing in the generator itself
    s.break_field("credit_score", 0.6)
    broken = [next(rows) for _ in range(2000)]
    share = sum(r["credit_score"] is None for r in broken) / len(broken)
    assert 0.55 < share < 0.68
    assert "credit_score empty in 60% of rows" in s.describe()
    s.repair()
    # rows already drawn in the current chunk stay broken: skip past it
    after = [next(rows) for _ in range(2000)][64:]
    assert sum(r["credit_score"] is None for r in after) / len(after) < 0.06
    assert s.describe() == "healthy"


def test_drift_switches_apply_to_the_next_rows() -> None:
    s = Scenario(seed=2)
    rows = s.records()
    before = [next(rows) for _ in range(3000)]
    s.drift(data=1.0)
    after = [next(rows) for _ in range(3000)][64:]
    mean = lambda rs: sum(r["annual_income"] for r in rs) / len(rs)  # noqa: E731
    assert mean(after) < 0.9 * mean(before)  # incomes fall by about a fifth
    assert any(r["region"] == "territories" for r in after)
    assert not any(r["region"] == "territories" for r in before)
    s.drift(concept=0.5)
    assert s.describe() == "data drift 1, concept drift 0.5"


def test_the_slow_dependency_delays_every_call_and_delegates_the_rest() -> None:
    s = Scenario(seed=0)
    inner = Echo()
    record = VersionRecord(model="m", version="v1", seq=1, flavor="sklearn", artifact_uri="",
                           artifact_hash="", input_schema={}, output={}, profile=None,
                           metadata={}, created_at=0.0, created_by="t")
    wrapped = with_dependency(lambda rec: inner, s)(record)
    assert isinstance(wrapped, WithDependency)
    assert (wrapped.flavor, wrapped.input_schema, wrapped.output) == (
        "python", inner.input_schema, inner.output)
    batch = FeatureBatch({}, 2, raw=[{}, {}])
    t0 = time.perf_counter()
    assert wrapped.predict(batch).predictions == [1, 1]
    fast = time.perf_counter() - t0
    s.slow_dependency(60)
    t0 = time.perf_counter()
    wrapped.predict(batch)
    slow = time.perf_counter() - t0
    assert slow >= 0.06 > fast
    assert inner.calls == 2
    assert s.describe() == "feature lookup +60 ms"
    # the speech pipeline's Python-flavor stages call no bureau: not wrapped
    python = dataclasses.replace(record, flavor="python")
    assert with_dependency(lambda rec: inner, s)(python) is inner
