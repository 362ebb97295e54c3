"""The dashboard on a pipeline (``transcribe`` = ``vad`` -> ``asr``): its page, its
stages for the cascade panel, and its metrics."""

from __future__ import annotations

from rampup.config import Settings
from rampup.store import Database
from tests.monitor.conftest import settle
from tests.serving.pipeline_app import register, serve, speech


async def test_pipeline_page_and_panels(store: Database, settings: Settings) -> None:
    register(store, settings)
    async with serve(store, settings) as c:
        for i in range(12):
            r = await c.post("/v1/models/transcribe/predict", json=speech(0.9 - i * 0.05))
            assert r.status_code == 200, r.text
        await settle(c)
        assert (await c.get("/dashboard/models/transcribe")).status_code == 200
        d = (await c.get("/dashboard/api/models/transcribe/deployment")).json()
        assert d["pipeline"] == ["vad", "asr"]
        assert (await c.get("/dashboard/api/models/vad/deployment")).json()["pipeline"] is None
        m = (await c.get("/dashboard/api/models/transcribe/metrics",
                         params={"range": "15m"})).json()
        assert m["points"] >= 1
        names = [x["name"] for x in (await c.get("/dashboard/api/overview")).json()["models"]]
        assert {"vad", "asr", "transcribe"} <= set(names)
        cascade = await c.get("/v1/models/transcribe/cascade",
                              params={"since": "-15m", "step": "1m"})
        assert cascade.status_code == 200, cascade.text
