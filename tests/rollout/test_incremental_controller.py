"""The controller on incremental windows decides a rollout exactly as on full re-reads,
through the real store (SQLite and PostgreSQL), with labels that arrive ticks later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.rollout.controller import RolloutController
from rampup.rollout.plan import Plan, Step
from rampup.rollout.service import Rollouts
from rampup.store import Database, FeedbackRecord
from tests.rollout.conftest import ADMIN, MODELS

T0 = 1_800_000_000.0
TICK_S = 2.0


def plan() -> Plan:
    return Plan(strategy="canary",
                checks=["error_rate <= baseline + 0.02", "accuracy >= baseline - 0.05",
                        "latency_p99 <= 400"],
                steps=[Step(kind="canary", weight=w, min_duration_s=0, min_requests=100)
                       for w in (30, 100)])


def traffic(model: str, tick: int, start: float, rng: np.random.Generator
            ) -> tuple[list[dict[str, Any]], list[tuple[int, FeedbackRecord]]]:
    """Two seconds of traffic after ``start`` (60 req/s over v1 and v2, a few failures,
    shadow-free) and its labels, each due 1-3 ticks later."""
    rows, labels = [], []
    for i in range(120):
        ts = start + tick * TICK_S + i * TICK_S / 120
        version = "v2" if rng.random() < 0.5 else "v1"
        pid = f"{model}-{tick:03d}-{i:03d}"
        truth = int(rng.random() < 0.5)
        fails = rng.random() < (0.01 if version == "v1" else 0.015)
        pred = truth if rng.random() < 0.9 else 1 - truth
        rows.append({"id": pid, "request_id": pid, "ts": ts, "model": model,
                     "version": version, "role": "answer", "stage": None,
                     "inputs": json.dumps({"x": 0.5}),
                     "outputs": None if fails else json.dumps({"prediction": pred}),
                     "confidence": None, "latency_ms": float(rng.lognormal(3, 0.4)),
                     "error": "ValueError: boom" if fails else None, "request_key": None})
        if not fails and rng.random() < 0.7:
            labels.append((tick + int(rng.integers(1, 4)),
                           FeedbackRecord(pid, model, ts + 3, "label", None, truth, "user",
                                          f"{pid}:label")))
    return rows, labels


def run(store: Database, registry: Registry, model: str, incremental: bool
        ) -> list[tuple[str, str, str]]:
    """Roll ``model`` out on the given path; the (verdict, decision, reason) of every
    tick and the check results the controller stored."""
    now = [T0]
    registry.register(model, f"{MODELS}:Healthy", version="v1")
    registry.register(model, f"{MODELS}:Candidate", version="v2", deploy=False)
    rollouts = Rollouts(store, clock=lambda: now[0])
    assert rollouts.deploy(model, "v2", plan=plan()) is not None
    controller = RolloutController(store, clock=lambda: now[0], rollouts=rollouts,
                                   incremental=incremental)
    rng = np.random.default_rng(11)
    pending: list[tuple[int, FeedbackRecord]] = []
    out = []
    for tick in range(120):
        rows, labels = traffic(model, tick, T0, rng)
        store.predictions.insert_predictions(rows)
        pending += labels
        due = [f for t, f in pending if t <= tick]
        pending = [(t, f) for t, f in pending if t > tick]
        if due:
            store.feedback.add_feedback(due)
        now[0] = T0 + (tick + 1) * TICK_S
        for res in controller.tick():
            out.append((res.verdict, res.decision, res.reason))
        status = rollouts.status(model).rollout
        assert status is not None
        if status.state not in ("canary", "shadow", "bluegreen"):
            out.append((status.state, "", ""))
            break
    return out


@pytest.mark.slow  # ~30 s on SQLite, ~5 min on PostgreSQL (the re-read path's label join)
def test_rollout_decided_the_same_on_both_paths(store: Database, tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, admin_token=ADMIN)  # type: ignore[arg-type]
    registry = Registry.from_settings(settings, store)
    incremental = run(store, registry, "inc", incremental=True)
    full = run(store, registry, "full", incremental=False)
    assert incremental == full
    decisions = [d for _, d, _ in incremental]
    assert "advance" in decisions or "promote" in decisions, incremental[-3:]
    assert incremental[-1][0] in ("promoted", "failed")


@pytest.mark.parametrize("incremental", [True, False])
def test_a_lone_candidate_is_compared_with_a_fixed_window_before_its_step(
        sqlite_store: Database, tmp_path: Path, incremental: bool) -> None:
    """At canary 100% the baseline serves nothing: its numbers come from the
    BASELINE_LOOKBACK_S seconds before the step, however long the step has run. Here the
    baseline was right 100% of the time until 300 s before the step, then 60%; the
    candidate is right 80% of the time. Judged against the last 300 s it passes
    ``accuracy >= baseline - 0.05``; a window as long as the 900-s step (0.87) would not."""
    from rampup.rollout.controller import BASELINE_LOOKBACK_S

    assert BASELINE_LOOKBACK_S == 300.0
    store = sqlite_store
    settings = Settings(project_dir=tmp_path, admin_token=ADMIN)  # type: ignore[arg-type]
    registry = Registry.from_settings(settings, store)
    registry.register("m", f"{MODELS}:Healthy", version="v1")
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    now = [T0]
    rollouts = Rollouts(store, clock=lambda: now[0])
    lone = Plan(strategy="canary", checks=["accuracy >= baseline - 0.05"],
                steps=[Step(kind="canary", weight=100, min_duration_s=0, min_requests=100)])
    assert rollouts.deploy("m", "v2", plan=lone) is not None
    rng = np.random.default_rng(5)
    rows, labels = [], []
    for i in range(3600):  # 2 a second: v1 from T0 - 900 s, v2 from T0 (the step)
        ts = T0 - 900 + i * 0.5
        version = "v1" if ts < T0 else "v2"
        right = 1.0 if ts < T0 - 300 else 0.6 if ts < T0 else 0.8
        truth = int(rng.random() < 0.5)
        pred = truth if rng.random() < right else 1 - truth
        pid = f"p{i:05d}"
        rows.append({"id": pid, "request_id": pid, "ts": ts, "model": "m",
                     "version": version, "role": "answer", "stage": None,
                     "inputs": "{}", "outputs": json.dumps({"prediction": pred}),
                     "confidence": None, "latency_ms": 5.0, "error": None,
                     "request_key": None})
        labels.append(FeedbackRecord(pid, "m", ts + 1, "label", None, truth, "user",
                                     f"{pid}:label"))
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback(labels)
    now[0] = T0 + 900
    controller = RolloutController(store, clock=lambda: now[0], rollouts=rollouts,
                                   incremental=incremental)
    (res,) = controller.tick()
    assert res.decision == "promote", res
