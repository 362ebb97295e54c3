"""A served model with misbehaving candidate versions and a controller on a fast plan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.rollout.controller import RolloutController
from rampup.rollout.service import Rollouts
from rampup.serving.app import create_app
from rampup.store import Database

HERE = Path(__file__).parent
MODELS = HERE / "fault_models.py"
ADMIN = "admin-secret"
AUTH = {"authorization": f"Bearer {ADMIN}"}


class Clock:
    """Wall time plus an offset a test moves forward (holds and standby timers expire
    without sleeping; traffic keeps real timestamps)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Harness:
    client: httpx.AsyncClient
    store: Database
    registry: Registry
    rollouts: Rollouts
    controller: RolloutController
    app: object
    clock: Clock

    def register(self, name: str, cls: str) -> str:
        rec = self.registry.register("m", f"{MODELS}:{cls}", version=name, deploy=False)
        return rec.version

    async def refresh(self) -> None:
        state = self.app.state.rampup  # type: ignore[attr-defined]
        await asyncio.to_thread(state.runtime.refresh)

    async def traffic(self, n: int, *, seed: int, label: bool = True,
                      concurrency: int = 25) -> list[httpx.Response]:
        """n requests with distinct keys; labels (the truth) sent for the answered ones."""
        rng = np.random.default_rng(seed)
        xs = rng.random(n).round(4)
        out: list[httpx.Response] = []
        for start in range(0, n, concurrency):
            part = xs[start:start + concurrency]
            out += await asyncio.gather(*(self.client.post(
                "/v1/models/m/predict", json={"x": float(x)},
                headers={"x-request-key": f"user-{seed}-{start + i}"})
                for i, x in enumerate(part)))
        if label:
            items = [{"request_id": r.json()["request_id"], "label": int(x > 0.5)}
                     for r, x in zip(out, xs, strict=True) if r.status_code == 200]
            for i in range(0, len(items), 500):
                fb = await self.client.post("/v1/models/m/feedback", json=items[i:i + 500])
                assert fb.status_code == 200, fb.text
        state = self.app.state.rampup  # type: ignore[attr-defined]
        assert await asyncio.to_thread(state.writer.flush, 10.0)
        return out

    async def tick(self) -> None:
        await asyncio.to_thread(self.controller.tick)
        await self.refresh()


@pytest.fixture
async def harness(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(project_dir=tmp_path, admin_token=ADMIN,  # type: ignore[arg-type]
                        log_flush_interval=0.02, deployment_poll_interval=0.1,
                        controller=False, shadow_timeout=0.5)
    registry = Registry.from_settings(settings, store)
    registry.register("m", f"{MODELS}:Healthy", version="v1")
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as client:
        clock = Clock()
        rollouts = Rollouts(store, clock=clock)
        yield Harness(client, store, registry, rollouts,
                      RolloutController(store, rollouts=rollouts, clock=clock,
                                        min_requests=50, min_labelled=40), app, clock)
