"""Mirrors in a policy run in shadow: logged with role 'shadow', never in the response."""

from __future__ import annotations

import asyncio

import httpx

from rampup.registry.registry import Registry
from rampup.store import Database
from tests.serving.conftest import Trained, record


async def test_mirrored_version_is_logged_as_shadow(client: httpx.AsyncClient, trained: Trained,
                                                    registry: Registry, store: Database) -> None:
    registry.register("credit", trained.model2_path, deploy=False)
    store.deployments.append_deployment("credit", {"routes": {"v1": 100.0},
                                                   "mirrors": {"v2": 100.0}},
                            "test", "shadow v2")
    state = client.app.state.rampup  # type: ignore[attr-defined]
    state.runtime.refresh()
    r = await client.post("/v1/models/credit/predict", json=[record(trained.frame, i)
                                                             for i in range(3)])
    assert r.status_code == 200
    assert r.json()["version"] == "v1"
    for _ in range(100):
        if not state.shadow_tasks:
            break
        await asyncio.sleep(0.01)
    assert state.writer.flush(5.0)
    rows = [row for chunk in store.predictions.iter_predictions("credit",
                                                                roles=["shadow"]) for row in chunk]
    assert len(rows) == 3
    assert {row["version"] for row in rows} == {"v2"}
    assert {row["request_id"] for row in rows} == {r.json()["request_id"]}
    assert all(row["error"] is None and row["outputs"] for row in rows)
    metrics = (await client.get("/metrics")).text
    assert 'rampup_shadow_requests_total{model="credit",outcome="ok",version="v2"} 1.0' in metrics
