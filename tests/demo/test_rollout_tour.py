"""The demo's rollout tour: fresher v2, broken v3, plans, reset/cut, and a real run."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rampup.config import Settings
from rampup.errors import ModelError
from rampup.registry.registry import Registry
from rampup.registry.schema import InputSchema
from rampup.rollout.controller import RolloutController
from rampup.rollout.plan import load_plan
from rampup.serving.validation import Validator
from rampup.store import Database
from rampup_demo.data import FEATURES, LoanGenerator
from rampup_demo.rollout_tour import (
    ACTOR,
    PLAN_FILES,
    V3_FILE,
    Tour,
    TourPlan,
    register_bad_v3,
    write_plans,
)
from rampup_demo.runner import MODEL, _register, _train, run_demo

#: The tour on a fast plan: bigger first steps, no holds, checks that need no labels.
FAST = TourPlan(weights=(50.0, 100.0), bad_weights=(50.0, 100.0), hold_s=0.0,
                checks=("error_rate <= baseline + 0.01",), warmup_s=1.0, timeout_s=90.0)


@dataclass
class Project:
    root: Path
    store: Database
    registry: Registry
    metrics: dict[str, Any]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """v1 and the fresher v2 trained small and registered, as the demo does."""
    root = tmp_path_factory.mktemp("tour")
    metrics, _ = _train(root / "data", 0, 400)
    settings = Settings(project_dir=root)
    store = Database.open(settings.resolved_database_url)
    registry = Registry.from_settings(settings, store)
    _register(registry, root / "data", metrics)
    yield Project(root, store, registry, metrics)
    store.close()


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, color_system=None), out


def test_v2_learns_from_fresher_applications_than_v1(project: Project) -> None:
    v1 = project.registry.get(MODEL, "v1").metadata
    v2 = project.registry.get(MODEL, "v2").metadata
    assert v2["algorithm"] == "gradient_boosting"
    assert v1["trained_on"]["rows"] == v2["trained_on"]["rows"] == 400
    assert v2["trained_on"]["from"] > v1["trained_on"]["to"]
    assert v2["metrics"]["auc"] > 0.6


def test_plan_files_hold_the_tour_plans(tmp_path: Path) -> None:
    paths = write_plans(tmp_path / "plans", FAST)
    assert [p.name for p in paths] == list(PLAN_FILES)
    assert load_plan(paths[0]) == FAST.v2_plan()
    assert load_plan(paths[1]) == FAST.v3_plan()
    assert [s.describe() for s in FAST.v2_plan().steps] == ["shadow 100%", "canary 50%",
                                                             "canary 100%"]
    assert FAST.estimate_s(rate=60) < TourPlan().estimate_s(rate=60)
    assert TourPlan().estimate_s(rate=20) > TourPlan().estimate_s(rate=50)


def test_bad_v3_fails_on_a_fifth_and_otherwise_answers_like_v1(project: Project) -> None:
    data = project.root / "data"
    # the demo registers v3 with v1 and v2 (the README's tour deploys it at any moment)
    assert register_bad_v3(project.registry, MODEL, data) is False
    assert (data / V3_FILE).exists()
    v1, v3 = (project.registry.get(MODEL, v) for v in ("v1", "v3"))
    assert v3.flavor == "python"
    assert v3.input_schema == v1.input_schema
    p1, p3 = project.registry.load(v1), project.registry.load(v3)
    validator = Validator(InputSchema.from_dict(v1.input_schema))
    records = [{k: r[k] for k in FEATURES} for r in LoanGenerator(9).records(150)]
    expected = p1.predict(validator.validate(records))
    failed = 0
    for i, rec in enumerate(records):
        try:
            got = p3.predict(validator.validate([rec]))
        except (KeyError, ModelError):
            failed += 1
            continue
        want = expected.record(i)
        assert got.record(0)["prediction"] == want["prediction"]
        assert got.record(0)["probabilities"] == pytest.approx(want["probabilities"])
    assert 0.12 < failed / len(records) < 0.28, failed


def test_reset_restores_v1_and_cut_aborts_the_tours_rollout(project: Project) -> None:
    c, _ = quiet()
    tour = Tour(project.store, project.registry, c, model=MODEL, data=project.root / "data",
                project="p", plan=FAST, rate=50)
    tour.rollouts.deploy(MODEL, "v2", plan=FAST.v2_plan(), actor="someone")
    assert tour.cut() is None  # not the tour's rollout: left alone
    tour.rollouts.abort(MODEL, actor="someone")
    tour.rollouts.deploy(MODEL, "v2", plan=FAST.v2_plan(), actor=ACTOR)
    note = tour.cut()
    assert note is not None
    assert "aborted" in note
    latest = tour.rollouts.latest(MODEL)
    assert latest is not None
    assert latest[0].state == "aborted"
    tour.rollouts.deploy(MODEL, "v2", plan=FAST.v2_plan(), actor="test")
    tour.rollouts.promote(MODEL, actor="test")
    reset = tour._reset()
    assert reset is not None
    assert "v1 takes all traffic again" in reset
    dep = project.store.deployments.current_deployment(MODEL)
    assert dep is not None
    assert dep.policy["routes"] == {"v1": 100.0}
    assert tour._reset() is None


@pytest.mark.slow
def test_the_tour_promotes_v2_and_rolls_v3_back(tmp_path: Path) -> None:
    """The tour's story; with its standby keep time scaled down to 1 s, every standby
    expires (the server's controller, then one more pass past the keep time), and the
    deployment history holds no row that no decision asked for (issue 13)."""
    c, out = quiet()
    tour = replace(FAST, standby_keep_s=1.0)
    result = run_demo(tmp_path / "demo", port=0, duration=150, rate=60, console=c,
                      n_train=1000, status_every=2.0, tour=tour, stop_after_tour=True)
    text = out.getvalue()
    assert result.ended_by == "story", text  # the tour's end stopped it, not the 150 s
    store = Database.open(f"sqlite:///{result.directory / 'rampup.db'}")
    try:
        # a run long enough for every standby to expire: one controller pass past them
        RolloutController(store, clock=lambda: time.time() + 60.0).tick()
        rollouts = {r["candidate"]: r for r in store.rollouts.list_rollouts(MODEL)}
        dep = store.deployments.current_deployment(MODEL)
        history = list(reversed(store.deployments.deployment_history(MODEL, limit=500)))
        events = store.events.list_events(MODEL, limit=5000)
    finally:
        store.close()
    assert all(r["standby_released"] for r in rollouts.values()
               if r["state"] == "promoted"), rollouts
    assert_history_asked_for(history, events)
    assert [d.policy["routes"] for d in history[-1:]] == [{"v2": 100.0}]
    assert rollouts["v2"]["state"] == "promoted", text
    assert rollouts["v3"]["state"] == "rolled_back", text
    assert "error_rate" in rollouts["v3"]["reason"]
    assert dep is not None
    assert dep.policy["routes"] == {"v2": 100.0}
    for expected in ("rollout tour", "agreed with v1 on", "canary 50% passed",
                     "v2 promoted", "v3 rolled back automatically", "why: checks failed",
                     f"rampup rollout status {MODEL}", f"rampup rollback {MODEL}",
                     f"rampup deploy {MODEL} v2 --strategy canary"):
        assert expected in text, expected
    assert result.stats.server_errors > 0  # v3's failures reached some users


def assert_history_asked_for(history: list[Any], events: list[Any]) -> None:
    """Every deployment row (oldest first) was asked for: a ``deploy`` event names it with
    its actor and reason; once a rollout made a row, no older rollout makes one again; a
    standby release changes no route."""
    asked = {e.details.get("deployment_id"): e for e in events if e.action == "deploy"}
    newest_owner = 0
    for before, row in zip([None, *history], history, strict=False):
        event = asked.get(row.id)
        assert event is not None, f"deployment #{row.id} was asked for by no decision"
        assert event.actor
        assert event.details.get("reason")
        if row.rollout_id is not None:
            assert row.rollout_id >= newest_owner, (row.id, row.rollout_id, newest_owner)
            newest_owner = row.rollout_id
        if before is not None and "standby" in row.reason and "released" in row.reason:
            assert row.policy["routes"] == before.policy["routes"], (row.id, row.reason)


def test_ctrl_c_during_the_tour_aborts_its_rollout(tmp_path: Path) -> None:
    c, out = quiet()
    plan = TourPlan(weights=(50.0, 100.0), bad_weights=(50.0,), hold_s=60.0, warmup_s=0.0,
                    checks=("error_rate <= baseline + 0.01",))

    def interrupt_once_v2_is_in_shadow() -> None:
        deadline = time.monotonic() + 60
        while "v2 step 1/3" not in out.getvalue():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_v2_is_in_shadow, daemon=True).start()
    result = run_demo(tmp_path / "demo", port=0, duration=None, rate=30, console=c,
                      n_train=400, tour=plan)
    text = out.getvalue()
    assert "rollout tour cut short: the rollout of v2 was aborted" in text, text
    store = Database.open(f"sqlite:///{result.directory / 'rampup.db'}")
    try:
        (latest,) = store.rollouts.list_rollouts(MODEL, limit=1)
        dep = store.deployments.current_deployment(MODEL)
    finally:
        store.close()
    assert (latest["candidate"], latest["state"]) == ("v2", "aborted")
    assert dep is not None
    assert dep.policy["routes"] == {"v1": 100.0}
