"""The whole loop through the real app on a fast clock: drifted traffic with a changed
concept → a drift alarm whose action is ``retrain`` → a run (why: the alarm) → a new
version registered → replay report → canary rollout → promoted. Then the admin API:
guards answer 409 with a reason, approval and replay endpoints."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.alerts.evaluator import AlertEvaluator
from rampup.alerts.notifiers import LogNotifier
from rampup.alerts.sources import AlertSource
from rampup.monitor.query import StoreMetricSource
from rampup.project import parse_project
from rampup.rollout.controller import RolloutController
from rampup.store import Database
from tests.alerts.conftest import Clock
from tests.alerts.test_app_alerts import serve
from tests.retrain.conftest import drifted, retrain_section
from tests.serving.conftest import ADMIN, Trained, record, trained

__all__ = ["trained"]
AUTH = {"authorization": f"Bearer {ADMIN}"}


async def send(c: httpx.AsyncClient, n: int, seed: int) -> None:
    """n drifted requests, each labelled with the new concept's truth."""
    frame = drifted(n, seed)
    for start in range(0, n, 50):
        rows = range(start, min(start + 50, n))
        out = await asyncio.gather(*(c.post("/v1/models/credit/predict",
                                            json=record(frame, i)) for i in rows))
        assert all(r.status_code == 200 for r in out), out[0].text
        fb = await c.post("/v1/models/credit/feedback", json=[
            {"request_id": r.json()["request_id"], "label": int(frame["y"].iloc[i])}
            for r, i in zip(out, rows, strict=True)])
        assert fb.status_code == 200, fb.text
    state = c.app.state.rampup  # type: ignore[attr-defined]
    assert await asyncio.to_thread(state.writer.flush, 10.0)
    if state.monitor is not None:
        await asyncio.to_thread(state.monitor.process)
        await asyncio.to_thread(state.monitor.flush)


def project(trained: Trained, **kw: Any) -> Any:
    section = retrain_section(reference=str(trained.reference_path), **kw)
    return parse_project({"models": {"credit": {
        "alerts": [{"name": "inputs-drift", "condition": "drift.share_drifted >= 0.25",
                    "window": "10m", "actions": ["retrain"]}],
        "retrain": section}}})


@pytest.mark.slow
async def test_drift_alarm_retrains_replays_and_rolls_out(sqlite_store: Database, tmp_path: Path,
                                                          trained: Trained) -> None:
    store = sqlite_store
    async with serve(store, tmp_path, trained, project(trained), alerts=False, retrain=False) as c:
        retraining = c.app.state.retraining  # type: ignore[attr-defined]
        # No background loop here (retrain=False): this test executes queued runs itself
        # by ticking, so the alert action may queue one.
        retraining.retrainer.executes = True
        await send(c, 400, seed=21)
        clock = Clock(time.time() + 1)
        evaluator = AlertEvaluator(store, AlertSource(store, StoreMetricSource(store),
                                                      clock=clock),
                                   clock=clock, notifiers={"log": LogNotifier()},
                                   actions=retraining.actions)
        [ev] = await asyncio.to_thread(evaluator.tick)
        evaluator.dispatcher.close()
        assert ev.state == "firing"
        assert ev.actions["retrain"] == "retraining run #1 queued"
        queued = store.retrain.get_retrain_run(1)
        assert queued is not None
        assert (queued["trigger"], queued["actor"]) == ("alert", "alert:inputs-drift")
        assert queued["details"]["alert"] == "inputs-drift"
        assert queued["details"]["value"] >= 0.25
        assert queued["reason"].startswith("alert inputs-drift (warning): drift.share_drifted")

        [run] = await asyncio.to_thread(retraining.retrainer.tick)
        assert run["state"] == "rolled_out", (run["error"], run["reasons"])
        assert run["candidate"] == "v2"
        assert run["replay"]["compared"] == 300
        assert run["replay"]["candidate_accuracy"] > run["replay"]["production_accuracy"]
        shown = (await c.get("/v1/models/credit/retrain/runs/1", headers=AUTH)).json()["run"]
        assert shown["evaluation"]["candidate"] == "v2"
        assert shown["dataset"]["rows"]["log_labelled"] == 400

        state = c.app.state.rampup  # type: ignore[attr-defined]
        await asyncio.to_thread(state.runtime.refresh)
        await send(c, 400, seed=22)  # the canary step: half the traffic on v2
        controller = RolloutController(store, min_requests=30, min_labelled=20)
        [tick] = await asyncio.to_thread(controller.tick)
        assert tick.decision == "promote", (tick.reason, tick)
        dep = store.deployments.current_deployment("credit")
        assert dep is not None
        assert dep.policy["routes"] == {"v2": 100.0}

        again = await c.post("/v1/models/credit/retrain", json={"reason": "again"},
                             headers=AUTH)
        assert again.status_code == 409
        body = again.json()
        assert body["error"] == "retrain_refused"
        assert body["guard"] == "cooldown"
        assert "cooldown is 1h" in body["message"]
        assert body["fix"].startswith("try again in")


@pytest.mark.slow
async def test_admin_api_approval_and_replay(sqlite_store: Database, tmp_path: Path,
                                             trained: Trained) -> None:
    async with serve(sqlite_store, tmp_path, trained, project(trained, auto_rollout=False),
                     alerts=False, retrain=False) as c:
        assert (await c.post("/v1/models/credit/retrain")).status_code == 401
        await send(c, 200, seed=31)
        status = (await c.get("/v1/models/credit/retrain/status", headers=AUTH)).json()
        assert status["allowed"] is True
        assert status["new_labels"] == 200
        started = await c.post("/v1/models/credit/retrain", json={"since": "1h"},
                               headers={**AUTH, "x-rampup-actor": "alice"})
        assert started.status_code == 202, started.text
        run_id = started.json()["run"]["id"]
        url = f"/v1/models/credit/retrain/runs/{run_id}"
        deadline = time.time() + 60
        while time.time() < deadline:
            run = (await c.get(url, headers=AUTH)).json()["run"]
            if run["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.2)
        assert run["state"] == "awaiting_approval", (run["error"], run["reasons"])
        assert run["actor"] == "alice"
        listed = (await c.get("/v1/models/credit/retrain/runs", headers=AUTH)).json()
        assert [r["id"] for r in listed["runs"]] == [run_id]
        replayed = await c.post("/v1/models/credit/versions/v2/replay", json={"last": 50},
                                headers=AUTH)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["replay"]["compared"] == 50
        assert (await c.get("/v1/models/other/retrain/runs/1", headers=AUTH)).status_code == 404
        ok = await c.post(f"{url}/approve", headers=AUTH)
        assert ok.status_code == 200, ok.text
        assert ok.json()["run"]["state"] == "rolled_out"
        assert (await c.post(f"{url}/approve", headers=AUTH)).status_code == 409
        dep = sqlite_store.deployments.current_deployment("credit")
        assert dep is not None
        assert dep.policy["routes"] == {"v2": 50.0, "v1": 50.0}


async def test_the_background_loop_executes_queued_runs(sqlite_store: Database, tmp_path: Path,
                                                        trained: Trained) -> None:
    proj = project(trained, entry_point=None, command="echo broken >&2; exit 1  # {output}")
    async with serve(sqlite_store, tmp_path, trained, proj, alerts=False,
                     retrain_interval=0.05) as c:
        assert c.app.state.retraining.loop is not None  # type: ignore[attr-defined]
        started = await c.post("/v1/models/credit/retrain", json={"force": True},
                               headers=AUTH)
        assert started.status_code == 202, started.text
        deadline = time.time() + 30
        run: dict[str, Any] = {}
        while time.time() < deadline:
            run = (await c.get("/v1/models/credit/retrain/runs/1", headers=AUTH)).json()["run"]
            if run["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.05)
        assert run["state"] == "failed"
        assert run["error"] == "the training entry point exited with code 1: broken"
        dep = sqlite_store.deployments.current_deployment("credit")
        assert dep is not None
        assert dep.policy["routes"] == {"v1": 100.0}
