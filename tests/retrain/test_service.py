"""A retraining run end to end on the real store, registry and subprocess: the dataset,
the run's verdict and rollout, failures that leave the deployment alone, and guards."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from rampup.errors import ConfigError, ConflictError, RetrainRefusedError
from rampup.project import parse_project
from rampup.rollout.service import Rollouts
from tests.alerts.conftest import Clock
from tests.retrain.conftest import World, drifted, make_project
from tests.serving.conftest import make_frame


def _policy(world: World) -> dict[str, object]:
    dep = world.store.deployments.current_deployment("credit")
    assert dep is not None
    return dep.policy


@pytest.mark.slow
def test_a_better_candidate_is_registered_evaluated_replayed_and_rolled_out(
        world: World) -> None:
    now = time.time()
    world.log(drifted(600, seed=5), ts=now - 600)
    r = world.retrainer(make_project(world.trained.reference_path))
    seen: list[tuple[str, str]] = []
    run = r.request("credit", actor="alice", reason="drift", details={"ticket": 7})
    assert run["state"] == "queued"
    assert run["details"]["new_labels"] == 600
    done = r.execute(run["id"], notify=lambda stage, msg: seen.append((stage, msg)))
    assert done["state"] == "rolled_out", (done["error"], done["reasons"])
    assert done["verdict"] == "pass"
    assert done["candidate"] == "v2"
    ds = done["dataset"]
    assert ds["rows"]["reference"] == 2000
    assert ds["rows"]["log_labelled"] == 600
    assert ds["rows"]["holdout"] == 180
    assert ds["rows"]["train"] == 2420
    assert len(ds["sha256"]) == 64
    ev = done["evaluation"]
    acc = next(d for d in ev["deltas"] if d["metric"] == "accuracy")
    assert acc["delta"] > 0.2
    assert acc["significant"]
    assert done["replay"]["compared"] == 300
    assert done["replay"]["agreement"] < 0.9
    assert done["replay"]["candidate_accuracy"] > done["replay"]["production_accuracy"]
    v2 = world.registry.get("credit", "v2")
    assert v2.metadata["params"] == {"log_weight": 5.0}
    assert v2.metadata["retrain"]["run"] == run["id"]
    assert v2.metadata["metrics"]["holdout_accuracy"] > 0.8
    assert v2.profile is not None
    assert v2.profile["rows"] == 2420
    active = Rollouts(world.store).active("credit")
    assert active is not None
    assert active[0].candidate == "v2"
    assert done["rollout_id"] == active[0].id
    assert _policy(world)["routes"] == {"v2": 50.0, "v1": 50.0}
    assert [s for s, _ in seen] == ["running", "dataset", "trained", "registered",
                                    "evaluated", "replayed", "rollout", "verdict"]
    assert "training" in done["log_tail"]
    # the same run cannot run twice
    with pytest.raises(ConflictError, match="only a queued run"):
        r.execute(run["id"])
    # a rollout in progress refuses the next run
    with pytest.raises(RetrainRefusedError, match="rollout #1 of v2 is in progress"):
        r.request("credit", force=True)


@pytest.mark.slow
def test_a_worse_candidate_is_not_rolled_out(world: World) -> None:
    world.log(make_frame(300, seed=6), ts=time.time() - 60)  # the champion's own concept
    project = make_project(world.trained.reference_path,
                           entry_point="tests.retrain.entry:inverted", replay_last=0)
    before = _policy(world)
    done = world.retrainer(project).execute(world.retrainer(project).request("credit")["id"])
    assert done["state"] == "rejected"
    assert done["verdict"] == "fail"
    assert "worse than the champion" in done["reasons"][0]
    assert done["candidate"] == "v2"
    assert done["replay"] is None
    assert _policy(world) == before
    assert Rollouts(world.store).active("credit") is None


@pytest.mark.slow
@pytest.mark.parametrize(("entry", "timeout", "expected"), [
    ("crash", "60s", "exited with code 1: RuntimeError: cannot train on"),
    ("hang", "1s", "timed out after"),
    ("nothing", "60s", "exited with code 3"),
])
def test_a_failing_entry_point_leaves_the_deployment_alone(
        world: World, entry: str, timeout: str, expected: str) -> None:
    world.log(drifted(100, seed=7), ts=time.time() - 60)
    project = make_project(entry_point=f"tests.retrain.entry:{entry}", timeout=timeout)
    before = world.store.deployments.deployment_history("credit")
    r = world.retrainer(project)
    done = r.execute(r.request("credit")["id"])
    assert done["state"] == "failed"
    assert expected in done["error"]
    assert done["candidate"] is None
    assert done["finished_at"] is not None
    assert [v.version for v in world.registry.versions("credit")] == ["v1"]
    assert world.store.deployments.deployment_history("credit") == before
    assert any(e.action == "retrain_failed" for e in world.store.events.list_events("credit"))


def test_a_shell_command_is_an_entry_point_too(world: World) -> None:
    world.log(drifted(100, seed=8), ts=time.time() - 60)
    project = make_project(entry_point=None, command="echo 'no model here' >&2; exit 4  # {output}")
    r = world.retrainer(project)
    done = r.execute(r.request("credit")["id"])
    assert done["state"] == "failed"
    assert done["error"] == "the training entry point exited with code 4: no model here"


def test_guards_refuse_with_a_reason(world: World) -> None:
    clock = Clock(time.time())
    world.log(drifted(30, seed=9), ts=clock.t - 100)
    r = world.retrainer(make_project(), clock=clock)
    with pytest.raises(RetrainRefusedError) as info:
        r.request("credit", actor="bob")
    assert "only 30 new labelled prediction(s)" in info.value.message
    assert info.value.to_dict()["guard"] == "min_new_labels"
    refused = [e for e in world.store.events.list_events("credit") if e.action == "retrain_refused"]
    assert refused[0].actor == "bob"
    assert refused[0].details["guard"] == "min_new_labels"
    first = r.request("credit", force=True)
    with pytest.raises(RetrainRefusedError, match="run #1 is queued; one run at a time"):
        r.request("credit", force=True)
    assert r.guard_state("credit")["guard"] == "concurrent_run"
    world.store.retrain.update_retrain_run(first["id"], {"state": "failed"})
    world.log(drifted(80, seed=10), ts=clock.t + 1, prefix="s")
    clock.advance(60)
    with pytest.raises(RetrainRefusedError, match="cooldown is 1h") as info:
        r.request("credit")
    assert "try again in 59m" in (info.value.fix or "")
    clock.advance(3600)
    assert r.guard_state("credit")["allowed"] is True


def test_a_model_without_a_retrain_section(world: World) -> None:
    r = world.retrainer(parse_project({}))
    with pytest.raises(ConfigError, match="no retrain: section"):
        r.request("credit")


def test_the_dataset_keeps_answers_once_with_their_latest_label(world: World) -> None:
    now = time.time()
    frame = drifted(40, seed=11)
    world.log(frame, ts=now - 100)
    world.log(frame.head(10), ts=now - 90, labels=False, prefix="u")  # unlabelled
    from rampup.retrain.dataset import assemble

    info = assemble(world.store, "credit", world.project_dir / "ds",
                    features=["age", "income", "score", "city"], label_column="y",
                    reference=pd.read_parquet(world.trained.reference_path), since=now - 3600,
                    now=now, half_life=60.0, holdout=0.25, seed=1)
    assert info.rows == {"reference": 2000, "log_labelled": 40, "duplicates_dropped": 0,
                         "train": 2030, "holdout": 10}
    train = pd.read_parquet(info.path)
    log_w = train.loc[train["_source"] == "log", "sample_weight"]
    assert 0.3 < log_w.min() <= log_w.max() < 0.36  # about 100 s old, half-life 60 s
    assert train.loc[train["_source"] == "reference", "sample_weight"].iloc[0] < 1e-10
    assert info.weighted
    assert sum(info.label_counts.values()) == 2030
