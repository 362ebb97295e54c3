"""The real app with monitoring on, a fast monitor loop, and the serving tests' model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from rampup.config import Settings
from rampup.monitor.recorder import Monitor
from tests.serving.conftest import client, make_settings, project, registry, trained

__all__ = ["client", "project", "registry", "trained"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor_interval=0.01, monitor_flush_interval=0.05)


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
