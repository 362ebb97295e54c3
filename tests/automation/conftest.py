"""The serving tests' real model and app, with an ``automation:`` section per test."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from rampup.automation.runtime import AutomationRuntime
from rampup.project import ProjectFile
from tests.serving.conftest import client, make_settings, record, registry, settings, trained

__all__ = ["client", "make_settings", "record", "registry", "settings", "trained"]

BASE = "/v1/models/credit"


@pytest.fixture
def automation(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The model's automation section (override per test with indirect parametrisation)."""
    spec: dict[str, Any] = getattr(request, "param", {"level": "partial", "threshold": 0.75})
    return spec


@pytest.fixture
def project(automation: dict[str, Any]) -> ProjectFile:
    return ProjectFile.model_validate({"models": {"credit": {"automation": automation}}})


def runtime_of(client: httpx.AsyncClient) -> AutomationRuntime:
    rt = client.app.state.rampup.automation  # type: ignore[attr-defined]
    assert isinstance(rt, AutomationRuntime)
    return rt


async def flushed(client: httpx.AsyncClient) -> None:
    rt = runtime_of(client)
    assert await asyncio.to_thread(rt.flush, 5.0)
    state = client.app.state.rampup  # type: ignore[attr-defined]
    await asyncio.to_thread(state.writer.flush, 5.0)


async def predict_many(client: httpx.AsyncClient, frame: Any, n: int,
                       start: int = 0) -> dict[str, Any]:
    r = await client.post(f"{BASE}/predict", json=[record(frame, i)
                                                  for i in range(start, start + n)])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
