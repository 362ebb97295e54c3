"""The real app with monitoring on, a fast monitor loop, and the serving tests' model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rampup.config import Settings
from rampup.monitor.recorder import Monitor
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Store
from tests.serving.conftest import Trained, make_settings, trained

__all__ = ["trained"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor_interval=0.01, monitor_flush_interval=0.05)


@pytest.fixture
def registry(store: Store, settings: Settings, trained: Trained) -> Registry:
    reg = Registry.from_settings(settings, store)
    reg.register("credit", trained.model_path, reference=trained.reference_path,
                 label_column="y")
    return reg


@pytest.fixture
def project() -> ProjectFile:
    return ProjectFile()


@pytest.fixture
async def client(store: Store, settings: Settings, registry: Registry,
                 project: ProjectFile) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def monitor_of(client: httpx.AsyncClient) -> Monitor:
    mon = client.app.state.rampup.monitor  # type: ignore[attr-defined]
    assert isinstance(mon, Monitor)
    return mon


async def settle(client: httpx.AsyncClient) -> None:
    """Wait until the monitor thread has processed everything handed over so far."""
    mon = monitor_of(client)
    state = client.app.state.rampup  # type: ignore[attr-defined]
    for _ in range(500):
        if not state.shadow_tasks:
            break
        await asyncio.sleep(0.01)
    target = mon.stats.rounds + 2
    for _ in range(1000):
        if mon.stats.rounds >= target:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the monitor thread did not process in time")
