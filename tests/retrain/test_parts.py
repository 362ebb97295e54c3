"""The smaller parts: the worker in-process, spec validation, guards, the background
tick (schedule, stale runs), a fixed test set, a plan file and the model's audit."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pydantic
import pytest

from rampup.analysis.audit import attach_audit, parse_audit_spec
from rampup.retrain import worker
from rampup.retrain.service import Retrainer
from rampup.retrain.spec import Guards, RetrainSpec
from rampup.retrain.triggers import RunSummary, check_guards, schedule_due
from rampup.rollout.gates import deploy_gate
from rampup.rollout.service import Rollouts
from tests.alerts.conftest import Clock
from tests.retrain.conftest import World, drifted, make_project
from tests.serving.conftest import make_frame


def test_worker_in_process(tmp_path: Path) -> None:
    data = make_frame(300, seed=3)
    data["sample_weight"], data["_source"] = 1.0, "log"
    data.to_parquet(tmp_path / "d.parquet")
    data.drop(columns=["sample_weight", "_source"]).to_parquet(tmp_path / "h.parquet")
    (tmp_path / "p.json").write_text('{"C": 0.5}')
    args = ["tests.retrain.entry:train", "--dataset", str(tmp_path / "d.parquet"),
            "--output", str(tmp_path / "m.joblib"), "--params", str(tmp_path / "p.json"),
            "--holdout", str(tmp_path / "h.parquet"), "--metrics", str(tmp_path / "m.json"),
            "--label", "y"]
    assert worker.main(args) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["train_rows"] == 300.0
    assert 0.5 < metrics["holdout_accuracy"] <= 1.0
    reg = data.drop(columns=["sample_weight", "_source"]).assign(y=lambda d: d["y"] + 0.5)
    reg.to_parquet(tmp_path / "r.parquet")
    assert worker.main([*args[:-4], "--holdout", str(tmp_path / "r.parquet"), "--metrics",
                        str(tmp_path / "m.json"), "--label", "y"]) == 0
    assert "holdout_mae" in json.loads((tmp_path / "m.json").read_text())
    assert worker.main(["tests.retrain.entry:nothing", *args[1:]]) == 3


@pytest.mark.parametrize(("spec", "message"), [
    ({"entry_point": "nope"}, "is not 'module:function'"),
    ({"entry_point": "m:f", "command": "x {output}"}, "exactly one of"),
    ({"entry_point": "m:f", "timeout": "0s"}, "timeout must be a positive duration"),
    ({"entry_point": "m:f", "guards": {"cooldown": "soon"}}, "cooldown"),
])
def test_spec_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        RetrainSpec.model_validate(spec)


def test_spec_durations() -> None:
    s = RetrainSpec.model_validate({"command": "t {output}", "since": None,
                                    "recency_half_life": "2d", "schedule": "6h"})
    assert (s.since_s, s.half_life_s, s.schedule_s) == (None, 172800.0, 21600.0)


def test_daily_limit_and_schedule() -> None:
    g = Guards(min_new_labels=0, cooldown="1m", max_runs_per_day=2)
    runs = [RunSummary(2, "rejected", 5000.0), RunSummary(1, "failed", 1000.0)]
    refusal = check_guards(g, runs, new_labels=5, rollout_active=False, now=9000.0)
    assert refusal is not None
    assert refusal.guard == "max_runs_per_day"
    assert refusal.fix.startswith("try again in 21h46m40s")
    assert check_guards(g, runs, new_labels=5, rollout_active=True, now=9000.0) is not None
    assert schedule_due(None, None, 1.0) is False
    assert schedule_due(60.0, 10.0, 20.0) is False


def test_tick_runs_scheduled_and_fails_stale_runs(world: World) -> None:
    clock = Clock(time.time())
    project = make_project(entry_point=None, command="exit 1  # {output}", schedule="1h",
                           guards={"min_new_labels": 0, "cooldown": "1m"})
    r = world.retrainer(project, clock=clock)
    stale = world.store.retrain.insert_retrain_run({
        "model": "credit", "state": "running", "trigger": "manual", "actor": "a",
        "reason": "r", "details": {}, "created_at": clock.t - 7200,
        "updated_at": clock.t - 7200, "started_at": clock.t - 7200})
    world.store.models.ensure_model("credit")
    [done] = r.tick()
    assert done["trigger"] == "schedule"
    assert done["state"] == "failed"
    stale_run = r.get(stale)
    assert stale_run["state"] == "failed"
    assert "interrupted" in stale_run["error"]
    assert r.tick() == []  # not due again for an hour
    clock.advance(3601)
    assert len(r.tick()) == 1


@pytest.mark.slow
def test_test_set_plan_file_and_failed_audit(world: World, tmp_path: Path) -> None:
    world.log(drifted(200, seed=51), ts=time.time() - 60)
    test_set = tmp_path / "test.parquet"
    drifted(150, seed=52).to_parquet(test_set)
    plan = tmp_path / "plan.yaml"
    plan.write_text("strategy: shadow\nsteps:\n  - shadow: 100\n")
    attach_audit(world.store, "credit", parse_audit_spec({
        "name": "strict", "checks": [{"type": "overall", "metric": "accuracy", "min": 0.999}]}))
    project = make_project(world.trained.reference_path, replay_last=0,
                           evaluation={"test_set": str(test_set), "bootstrap": 50},
                           rollout={"strategy": "shadow", "plan": str(plan)})
    r = world.retrainer(project)
    done = r.execute(r.request("credit")["id"])
    assert done["dataset"]["rows"]["holdout"] == 150
    assert done["dataset"]["rows"]["train"] == 2200
    assert done["state"] == "rejected"
    assert done["evaluation"]["audit"]["passed"] is False
    assert done["reasons"][-1].startswith("the model's audit failed: ")
    assert Rollouts(world.store).active("credit") is None
    # the audit relaxed and the run approved by hand: the plan file's shadow step starts
    attach_audit(world.store, "credit", parse_audit_spec({
        "name": "lenient", "checks": [{"type": "overall", "metric": "accuracy", "min": 0.1}]}))
    world.store.retrain.update_retrain_run(done["id"], {"state": "awaiting_approval"})
    gated = Retrainer(world.registry, project, world.project_dir, gate=deploy_gate)
    refused = gated.approve(done["id"], actor="carol")
    assert refused["state"] == "awaiting_approval"  # the gate: no result of 'lenient'
    assert "rollout not started: version 'v2' of model 'credit' has no result" in \
        refused["error"]
    approved = r.approve(done["id"], actor="carol")
    assert approved["state"] == "rolled_out"
    active = Rollouts(world.store).active("credit")
    assert active is not None
    assert active[0].plan.strategy == "shadow"
    assert active[0].id == approved["rollout_id"]


def test_stopping_the_server_cancels_a_running_job(world: World) -> None:
    world.log(drifted(60, seed=61), ts=time.time() - 60)
    r = world.retrainer(make_project(entry_point="tests.retrain.entry:hang", timeout="60s"))
    run = r.request("credit")
    result: list[dict[str, object]] = []
    thread = threading.Thread(target=lambda: result.append(r.execute(run["id"])))
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (world.project_dir / "runs" / "credit" /
                                               "run-1" / "train.log").exists():
        time.sleep(0.05)
    r.cancel.set()
    thread.join(50)  # the job's own timeout is 60 s: this ends by the cancel
    assert not thread.is_alive()
    assert result[0]["state"] == "failed"
    assert result[0]["error"] == "cancelled: the server stopped during the run"
    assert r.tick() == []  # queued runs wait for the next leader


def test_a_run_folder_at_a_url_is_published_even_when_the_run_fails(
        tmp_path: Path, s3_bucket: str) -> None:
    import s3fs

    from rampup.retrain.workspace import run_folder

    url = f"s3://{s3_bucket}/ws"
    def fail() -> Path:
        with run_folder(url, tmp_path, "credit", 3) as (local, where):
            assert where == f"{url}/credit/run-3"
            (local / "train.log").write_text("boom")
            raise RuntimeError(str(local))

    with pytest.raises(RuntimeError) as info:
        fail()
    local = Path(str(info.value))
    assert not local.exists()  # the local copy is gone
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    assert fs.cat_file(f"{s3_bucket}/ws/credit/run-3/train.log") == b"boom"


class _FakeRay:
    """Ray's wait/cancel as ``ray_job._wait`` uses them: the task finishes when
    ``finish_on`` calls to ``cancel`` have been made (never, for a stuck worker)."""

    def __init__(self, finish_on: int | None) -> None:
        self.finish_on = finish_on
        self.cancels: list[bool] = []

    def wait(self, refs: list[str], timeout: float) -> tuple[list[str], list[str]]:
        done = self.finish_on is not None and len(self.cancels) >= self.finish_on
        return (refs, []) if done else ([], refs)

    def cancel(self, ref: str, force: bool = False) -> None:
        self.cancels.append(force)


def test_a_ray_training_task_is_cancelled_then_killed_when_stuck() -> None:
    from rampup.retrain.ray_job import _wait

    finished = _FakeRay(finish_on=0)
    assert _wait(finished, "ref", 60, None) is None
    assert finished.cancels == []
    stop = threading.Event()
    stop.set()
    polite = _FakeRay(finish_on=1)  # a KeyboardInterrupt in the task ends it
    assert _wait(polite, "ref", 60, stop) == "cancel"
    assert polite.cancels == [False]
    stuck = _FakeRay(finish_on=None)
    assert _wait(stuck, "ref", 0, None) == "timeout"
    assert stuck.cancels == [False, True]  # then the worker is killed
