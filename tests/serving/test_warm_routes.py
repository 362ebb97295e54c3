"""Every route is built before the first request: the first requests, all at once, are
answered like any later ones (a full run once saw a 500 from FastAPI's lazily built
router on the first concurrent feedback POSTs)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, FastAPI
from fastapi import routing as fastapi_routing

from rampup.config import Settings
from rampup.serving.app import create_app, warm_routes
from rampup.store import Database
from tests.serving.conftest import Trained, record

LAZY = hasattr(fastapi_routing, "_IncludedRouter")  # FastAPI >= 0.16x builds on first use


def test_warm_routes_builds_every_included_route() -> None:
    inner = APIRouter()
    outer = APIRouter()

    @inner.get("/a/{x}")
    def a(x: int) -> dict[str, int]:
        return {"x": x}

    @outer.post("/b")
    def b(body: dict[str, int]) -> dict[str, int]:
        return body

    outer.include_router(inner, prefix="/in")
    app = FastAPI()
    app.include_router(outer)
    # a, b and the nested router itself, whatever the FastAPI version builds lazily
    built = warm_routes(app)
    assert built == (3 if LAZY else 0)  # eager FastAPI versions build at include time
    assert warm_routes(app) == built  # idempotent: built once, reused


def test_create_app_routes_are_prebuilt(store: Database, settings: Settings) -> None:
    app = create_app(settings, store=store)
    if LAZY:  # built by create_app, not waiting for a first request
        assert all(r._effective_candidates_version is not None for r in app.router.routes
                   if isinstance(r, fastapi_routing._IncludedRouter))
    built = warm_routes(app)  # a second walk finds them already built
    included = sum(len(r.original_router.routes) for r in app.router.routes
                   if hasattr(r, "original_router"))
    assert built == (included if LAZY else 0)
    assert included > 20


async def test_first_requests_all_at_once(client: httpx.AsyncClient, trained: Trained) -> None:
    body = {"request_id": "none-yet", "label": 1}
    first = await asyncio.gather(
        *[client.post("/v1/models/credit/feedback", json=body) for _ in range(8)],
        *[client.get("/v1/models/credit") for _ in range(8)],
        *[client.get("/v1/models") for _ in range(8)],
        *[client.post("/v1/models/credit/predict", json=record(trained.frame, i))
          for i in range(8)],
    )
    assert all(r.status_code < 500 for r in first), [r.text for r in first
                                                     if r.status_code >= 500]
    assert {r.status_code for r in first[8:]} == {200}
