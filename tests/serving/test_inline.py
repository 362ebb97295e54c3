"""Where a model call runs: inline on the event loop or on the executor (issue 14).

The decision is pure logic over measured call times; here the times come from a fake
clock that a wrapped model advances by a fixed cost per record, so nothing depends on
how fast this machine is.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pandas as pd
import pytest

from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.serving.inline import WARMUP_CALLS, InlineBudget
from tests.serving.conftest import record


def test_nothing_runs_inline_before_it_is_measured() -> None:
    b = InlineBudget(0.002)
    assert not b.inline(1)
    for _ in range(WARMUP_CALLS - 1):
        b.observe(1, 0.0001)
    assert not b.inline(1)
    b.observe(1, 0.0001)
    assert b.inline(1)


def test_cost_scales_with_records_until_sizes_vary() -> None:
    b = InlineBudget(0.002)
    for _ in range(10):
        b.observe(1, 0.0003)
    # one size seen: the whole call is charged per record (safe side for a big request)
    assert b.costs() == pytest.approx((0.0, 0.0003))
    assert b.inline(6)  # 1.8 ms
    assert not b.inline(7)  # 2.1 ms
    assert not b.inline(1000)  # 300 ms: the stall


def test_fixed_and_per_record_costs_are_learned() -> None:
    b = InlineBudget(0.002)
    for _ in range(30):  # 0.5 ms per call + 10 µs per record, sizes 1 and 100
        b.observe(1, 0.00051)
        b.observe(100, 0.0015)
    fixed, per_record = b.costs()
    assert fixed == pytest.approx(0.0005, rel=0.05)
    assert per_record == pytest.approx(0.00001, rel=0.05)
    assert b.inline(150)  # 2.0 ms
    assert not b.inline(200)  # 2.5 ms


def test_an_outlier_does_not_move_a_fast_model_off_the_loop() -> None:
    b = InlineBudget(0.002)
    for _ in range(10):
        b.observe(1, 0.0002)
    b.observe(1, 1.0)  # the process was descheduled for a second
    assert b.inline(1)
    for _ in range(30):  # a real, lasting slow-down still moves it
        b.observe(1, 0.01)
    assert not b.inline(1)


def test_zero_budget_never_runs_inline() -> None:
    b = InlineBudget(0.0)
    for _ in range(10):
        b.observe(1, 1e-9)
    assert not b.inline(1)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Costly:
    """Wraps the served predictor: each call costs ``per_record`` s per record on the fake
    clock and notes the thread it ran on."""

    def __init__(self, inner: Any, clock: _Clock, per_record: float) -> None:
        self.inner, self.clock, self.per_record = inner, clock, per_record
        self.calls: list[tuple[int, str]] = []

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        self.clock.now += self.per_record * batch.n
        self.calls.append((batch.n, threading.current_thread().name))
        out: PredictionBatch = self.inner.predict(batch)
        return out


async def test_large_requests_leave_the_event_loop(client: httpx.AsyncClient,
                                                  trained: Any) -> None:
    """0.3 ms per record (the issue's model): single records run inline, a 1,000-record
    request goes to the executor, and both answer every record."""
    st = client.app.state.rampup  # type: ignore[attr-defined]
    (lv,) = st.runtime.models["credit"].versions.values()
    clock = _Clock()
    costly = _Costly(lv.predictor, clock, 0.0003)
    lv.predictor, lv.clock = costly, clock
    loop_thread = threading.current_thread().name
    frame: pd.DataFrame = trained.frame

    async def predict(body: Any) -> list[Any]:
        r = await client.post("/v1/models/credit/predict", json=body)
        assert r.status_code == 200, r.text
        preds: list[Any] = r.json()["predictions"]
        return preds

    for i in range(WARMUP_CALLS + 2):
        assert len(await predict(record(frame, i))) == 1
    big = [record(frame, i) for i in range(1000)]
    assert len(await predict(big)) == 1000
    assert len(await predict(record(frame, 7))) == 1
    assert len(await predict(big[:5])) == 5  # 1.5 ms: within the 2 ms budget

    where = [(n, name == loop_thread) for n, name in costly.calls]
    assert where[:WARMUP_CALLS] == [(1, False)] * WARMUP_CALLS  # measured on the executor
    assert where[WARMUP_CALLS:] == [(1, True), (1, True), (1000, False), (1, True), (5, True)]
    assert costly.calls[WARMUP_CALLS + 2][1].startswith("rampup-model")
    assert lv.cost.inline(1)
    assert not lv.cost.inline(1000)
