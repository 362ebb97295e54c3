"""The controller as the server runs it: background thread, leader election, restarts,
replicas that share one store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.rollout.controller import RolloutController
from rampup.rollout.plan import Plan, Step
from rampup.rollout.service import Rollouts
from rampup.rollout.window import paired
from rampup.runtime.leader import Leader
from rampup.serving.app import create_app
from rampup.store import Database
from tests.rollout.conftest import ADMIN, MODELS, Harness


def test_only_one_leader(store: Database) -> None:
    a, b = Leader(store), Leader(store)
    assert a.try_acquire()
    assert not b.try_acquire()
    assert a.try_acquire()  # still held
    a.release()
    assert b.try_acquire()
    b.release()


def fast_plan() -> Plan:
    return Plan(strategy="canary", checks=["error_rate <= baseline + 0.01"],
                steps=[Step(kind="canary", weight=w, min_duration_s=0, min_requests=30)
                       for w in (20, 100)])


async def test_background_controller_promotes_and_survives_restart(store: Database,
                                                                   tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, admin_token=ADMIN,  # type: ignore[arg-type]
                        log_flush_interval=0.02, deployment_poll_interval=0.1,
                        controller=True, controller_interval=0.1)
    registry = Registry.from_settings(settings, store)
    registry.register("m", f"{MODELS}:Healthy", version="v1")
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    Rollouts(store).deploy("m", "v2", plan=fast_plan())
    rng = np.random.default_rng(0)
    for attempt in range(2):  # a second app = the server restarted mid-rollout
        app = create_app(settings, store=store)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
            deadline = time.time() + 20
            while time.time() < deadline:
                await asyncio.gather(*(c.post("/v1/models/m/predict",
                                              json={"x": float(rng.random())},
                                              headers={"x-request-key": f"u{rng.integers(1e9)}"})
                                       for _ in range(20)))
                state = Rollouts(store).status("m").rollout
                assert state is not None
                if (attempt == 0 and state.step == 1) or state.state == "promoted":
                    break
                await asyncio.sleep(0.05)
    final = Rollouts(store).status("m")
    assert final.rollout is not None
    assert final.rollout.state == "promoted", final.rollout.reason
    assert final.policy is not None
    assert final.policy.routes == {"v2": 100.0}
    actors = {e.actor for e in store.events.list_events("m") if e.action.startswith("rollout_")}
    assert "rollout-controller" in actors


async def test_replicas_route_by_the_same_policy_within_a_second(store: Database,
                                                                tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, admin_token=ADMIN,  # type: ignore[arg-type]
                        deployment_poll_interval=0.5, controller=False)
    registry = Registry.from_settings(settings, store)
    registry.register("m", f"{MODELS}:Healthy", version="v1")
    registry.register("m", f"{MODELS}:Candidate", version="v2", deploy=False)
    apps = [create_app(settings, store=store) for _ in range(2)]
    async with apps[0].router.lifespan_context(apps[0]), \
            apps[1].router.lifespan_context(apps[1]):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://x")
                   for a in apps]
        store.deployments.append_deployment("m", {"routes": {"v2": 50.0, "v1": 50.0}}, "test",
                                            "canary")
        t0 = time.monotonic()
        seen: dict[int, float] = {}
        while len(seen) < 2 and time.monotonic() - t0 < 3:
            for i, c in enumerate(clients):
                r = await c.post("/v1/models/m/predict", json={"x": 0.1},
                                 headers={"x-request-key": "same-user"})
                route = r.headers["x-route"]
                if "policy=" in route and i not in seen and \
                        apps[i].state.rampup.runtime.models["m"].policy.routes.get("v2"):
                    seen[i] = time.monotonic() - t0
            await asyncio.sleep(0.01)
        assert len(seen) == 2
        # polled every 0.5 s: "within about a second", with room for a loaded machine
        assert max(seen.values()) < 1.5
        routes = set()
        for c in clients:
            r = await c.post("/v1/models/m/predict", json={"x": 0.1},
                             headers={"x-request-key": "same-user"})
            routes.add((r.headers["x-model-version"], r.headers["x-route"]))
        assert len(routes) == 1  # same version, same policy id, same bucket
        for c in clients:
            await c.aclose()


async def test_shadowing_a_human(harness: Harness) -> None:
    harness.store.deployments.append_deployment(
        "m", {"routes": {"human": 100.0}, "mirrors": {"v1": 100.0}}, "test", "humans decide")
    await harness.refresh()
    rng = np.random.default_rng(3)
    xs = rng.random(80).round(3)
    state = harness.app.state.rampup  # type: ignore[attr-defined]
    responses = []
    for i, x in enumerate(xs):
        responses.append(await harness.client.post("/v1/models/m/predict", json={"x": float(x)}))
        if i % 16 == 15:  # under load mirrored calls pile up past shadow_max_in_flight (64)
            while state.shadow_tasks:  # and are dropped (as designed): not what this tests
                await asyncio.sleep(0.01)
    assert all(r.status_code == 200 for r in responses)
    first = responses[0].json()["predictions"][0]
    assert first["prediction"] is None
    assert first["status"] == "pending_human"
    assert responses[0].headers["x-model-version"] == "human"
    # People decide later; they agree with the model except where x is close to 0.5.
    decisions = [int(x > 0.5) if abs(x - 0.5) > 0.05 else int(x <= 0.5) for x in xs]
    items = [{"request_id": r.json()["request_id"], "label": d}
             for r, d in zip(responses, decisions, strict=True)]
    assert (await harness.client.post("/v1/models/m/feedback", json=items)).status_code == 200
    while state.shadow_tasks:
        await asyncio.sleep(0.01)
    state.writer.flush(5.0)
    stats = paired(harness.store, "m", "v1", "human", since=0, until=time.time() + 60)
    assert stats.human
    result = stats.agreement().result()
    expected = np.mean([int(x > 0.5) == d for x, d in zip(xs, decisions, strict=True)])
    assert result.n == 80
    assert abs(result.agreement - expected) < 1e-9
    assert set(result.per_class) <= {"0", "1"}


def test_controller_tick_is_a_noop_without_rollouts(store: Database) -> None:
    store.models.ensure_model("m")
    assert RolloutController(store).tick() == []
