"""The predict door: machine clients' predict requests skip the middleware stack and get
exactly what the stack would have given them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

import rampup.serving.predict as predict_module
from rampup.store import Database
from tests.serving.conftest import ADMIN, Trained, record

BASE = "/v1/models/credit"


@pytest.fixture
def stack_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that went through FastAPI's own stack."""
    seen: list[str] = []
    original = FastAPI.__call__

    async def spy(self: FastAPI, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", spy)
    return seen


async def test_machine_clients_take_the_door_browsers_and_other_routes_the_stack(
        client: httpx.AsyncClient, trained: Trained, stack_calls: list[str]) -> None:
    body = record(trained.frame, 3)
    door = await client.post(f"{BASE}/predict", json=body)
    pinned = await client.post(f"{BASE}/versions/v1/predict", json=body)
    assert stack_calls == []
    stack = await client.post(f"{BASE}/predict", json=body,
                              headers={"origin": "http://rampup"})
    await client.post(f"{BASE}/predict?x=1", json=body)
    await client.post(f"{BASE}/predict", files={"age": (None, "30")})  # an upload
    await client.get("/healthz")
    assert stack_calls == [f"{BASE}/predict"] * 3 + ["/healthz"]
    for r in (door, pinned, stack):
        assert r.status_code == 200, r.text
    strip = lambda r: [{k: v for k, v in p.items() if k != "id"}  # noqa: E731
                       for p in r.json()["predictions"]]
    assert strip(door) == strip(stack)
    assert strip(pinned)[0]["probabilities"] == strip(door)[0]["probabilities"]
    assert door.headers["x-model-version"] == stack.headers["x-model-version"] == "v1"
    assert set(door.headers) == set(stack.headers)


async def test_errors_through_the_door_are_the_stacks_errors(
        client: httpx.AsyncClient, trained: Trained, stack_calls: list[str]) -> None:
    bad = [(f"{BASE}/predict", b"{not json"), ("/v1/models/nope/predict", b"{}"),
           (f"{BASE}/predict", b"{\"age\": " + b"1" * 2_000_000 + b"}"),
           (f"{BASE}/predict", b"{\"age\": \"old\"}"), (f"{BASE}/versions/v9/predict", b"{}"),
           (f"{BASE}/predict", b"[]")]
    for url, content in bad:
        door = await client.post(url, content=content)
        stack = await client.post(url, content=content, headers={"origin": "http://rampup"})
        assert door.status_code == stack.status_code >= 400, (url, door.text)
        same = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
        assert same(door) == same(stack)
        assert door.json()["fix"]
    assert len(stack_calls) == len(bad)
    # a cross-site browser request is still refused: it never takes the door
    r = await client.post(f"{BASE}/predict", json={}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403


async def test_an_unexpected_failure_is_a_500_and_the_next_request_is_served(
        client: httpx.AsyncClient, trained: Trained, monkeypatch: pytest.MonkeyPatch) -> None:
    original = predict_module.handle
    failures = [RuntimeError("a bug"),
                sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))]

    async def flaky(*args: Any, **kw: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return await original(*args, **kw)

    monkeypatch.setattr(predict_module, "handle", flaky)
    body = record(trained.frame, 1)
    r = await client.post(f"{BASE}/predict", json=body)
    assert r.status_code == 500
    r = await client.post(f"{BASE}/predict", json=body)  # the app's store handler: a 503
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"]
    r = await client.post(f"{BASE}/predict", json=body)
    assert r.status_code == 200


async def test_a_route_forced_by_an_admin_through_the_door_is_audited(
        client: httpx.AsyncClient, trained: Trained, store: Database,
        stack_calls: list[str]) -> None:
    r = await client.post(f"{BASE}/predict", json=record(trained.frame, 2),
                          headers={"x-rampup-route": "v1",
                                   "authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    assert r.headers["x-route"] == "v1; forced"
    assert stack_calls == []
    await asyncio.sleep(0)
    events = store.events.list_events(action="admin.request")
    assert [(e.details["method"], e.details["path"], e.details["status"]) for e in events] \
        == [("POST", f"{BASE}/predict", 200)]


async def test_open_inference_protocol_requests_take_the_door_too(
        client: httpx.AsyncClient, trained: Trained, stack_calls: list[str]) -> None:
    from tests.serving.test_v2 import credit_inputs

    body = {"inputs": credit_inputs(trained.frame, [0, 1])}
    door = await client.post("/v2/models/credit/infer", json=body)
    pinned = await client.post("/v2/models/credit/versions/v1/infer", json=body)
    assert stack_calls == []
    stack = await client.post("/v2/models/credit/infer", json=body,
                              headers={"origin": "http://rampup"})
    assert stack_calls == ["/v2/models/credit/infer"]
    for r in (door, pinned, stack):
        assert r.status_code == 200, r.text
    assert door.json()["outputs"] == stack.json()["outputs"]
    assert door.json()["outputs"][0]["data"] == pinned.json()["outputs"][0]["data"]
    bad = await client.post("/v2/models/credit/infer", json={"inputs": []})
    assert bad.status_code == 422
    assert bad.json()["field"]
