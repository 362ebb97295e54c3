"""Admin operations need the bearer token; policy changes reach the router."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.serving.conftest import ADMIN, Trained, make_settings, record

AUTH = {"authorization": f"Bearer {ADMIN}"}


async def test_deployment_change_needs_token(client: httpx.AsyncClient) -> None:
    body = {"routes": {"v1": 100}}
    r = await client.put("/v1/admin/models/credit/deployment", json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.put("/v1/admin/models/credit/deployment", json=body,
                         headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert "wrong" in r.json()["message"]


async def test_register_and_switch_versions(client: httpx.AsyncClient, trained: Trained,
                                            store: Database) -> None:
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                           json={"path": str(trained.model2_path)})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "v2"
    r = await client.put("/v1/admin/models/credit/deployment", headers=AUTH,
                         json={"routes": {"v2": 100}, "reason": "better model"})
    assert r.status_code == 200, r.text
    p = await client.post("/v1/models/credit/predict", json=record(trained.frame, 0))
    assert p.status_code == 200, p.text
    assert p.json()["version"] == "v2"
    hist = (await client.get("/v1/admin/models/credit/deployments", headers=AUTH)).json()
    assert [d["policy"]["routes"] for d in hist["deployments"]] == [{"v2": 100.0}, {"v1": 100.0}]
    assert hist["deployments"][0]["reason"] == "better model"
    assert any(e.action == "deploy" for e in store.events.list_events("credit"))


async def test_deploying_unknown_version_is_404(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/admin/models/credit/deployment", headers=AUTH,
                         json={"routes": {"v7": 100}})
    assert r.status_code == 404
    assert "v7" in r.json()["message"]


async def test_bad_policy_is_422(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/admin/models/credit/deployment", headers=AUTH,
                         json={"routes": {"v1": 60}})
    assert r.status_code == 422
    assert "sum to 60" in r.json()["message"]


async def test_policy_change_in_store_reaches_server_within_a_second(
        client: httpx.AsyncClient, trained: Trained, registry: Registry, store: Database) -> None:
    registry.register("credit", trained.model2_path, deploy=False)
    store.deployments.append_deployment("credit", {"routes": {"v2": 100.0}}, "cli", "switch")
    # The poller (every 0.1 s here) brings it; how fast under load is not a test's
    # business, so the deadline only keeps a broken poller from hanging the suite.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = await client.post("/v1/models/credit/predict", json=record(trained.frame, 0))
        if r.json()["version"] == "v2":
            break
        await asyncio.sleep(0.02)
    assert r.json()["version"] == "v2"


async def test_admin_disabled_without_token(tmp_path: pytest.TempPathFactory, store: Database,
                                            registry: Registry) -> None:
    settings = make_settings(tmp_path, admin_token=None)  # type: ignore[arg-type]
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        r = await c.put("/v1/admin/models/credit/deployment", json={"routes": {"v1": 100}},
                        headers=AUTH)
    assert r.status_code == 403
    assert "RAMPUP_ADMIN_TOKEN" in r.json()["fix"]


async def test_predict_token(tmp_path: pytest.TempPathFactory, store: Database, registry: Registry,
                             trained: Trained) -> None:
    settings: Settings = make_settings(tmp_path, predict_token="p-token")
    app = create_app(settings, store=store)
    rec = record(trained.frame, 0)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        assert (await c.post("/v1/models/credit/predict", json=rec)).status_code == 401
        ok = await c.post("/v1/models/credit/predict", json=rec,
                          headers={"authorization": "Bearer p-token"})
        assert ok.status_code == 200
        admin_ok = await c.post("/v1/models/credit/predict", json=rec, headers=AUTH)
        assert admin_ok.status_code == 200
        assert (await c.get("/v1/models")).status_code == 401
