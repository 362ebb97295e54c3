"""The real app with monitoring on (fast loops) and the serving tests' model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from rampup.config import Settings
from tests.monitor.conftest import settle
from tests.serving.conftest import ADMIN, client, make_settings, project, record, registry, trained

__all__ = ["ADMIN", "client", "project", "record", "registry", "settle", "trained"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor_interval=0.01, monitor_flush_interval=0.05)


async def traffic(client: httpx.AsyncClient, frame: object, n: int = 60, *,
                  labels: bool = True) -> list[str]:
    """``n`` predictions of the serving tests' model (and their labels), settled into
    the monitor."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    ids: list[str] = []
    for i in range(n):
        r = await client.post("/v1/models/credit/predict", json=record(frame, i),
                              headers={"x-request-key": f"user-{i % 7}"})
        assert r.status_code == 200, r.text
        ids.append(r.json()["request_id"])
    if labels:
        await asyncio.sleep(0.1)
        fb = [{"request_id": rid, "label": int(frame["y"].iloc[i])}
              for i, rid in enumerate(ids)]
        r = await client.post("/v1/models/credit/feedback", json=fb)
        assert r.status_code == 200, r.text
    await settle(client)
    return ids
