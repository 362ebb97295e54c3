"""The demo's speech pipeline served by the real app: noise stops early, the incident
moves vad's inputs and breaks the end-to-end accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests.serving.conftest import make_settings
from tests.serving.pipeline_app import serve

from rampup.project import parse_project
from rampup.registry.registry import Registry
from rampup.store import Database
from rampup_demo import pipeline as demo


async def test_demo_pipeline(store: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, monitor=False)
    demo.register(Registry.from_settings(settings, store))
    proj = parse_project({"models": demo.project_models()})
    rng = np.random.default_rng(3)
    async with serve(store, settings, proj) as c:
        for drift, expected_accuracy in ((False, 1.0), (True, 0.8)):
            rows = demo.requests(rng, 40, drift=drift)
            r = await c.post(f"/v1/models/{demo.PIPELINE}/predict", json=rows,
                             headers={"x-request-key": "u1"})
            assert r.status_code == 200, r.text
            preds = r.json()["predictions"]
            right = [p["prediction"] == demo.transcript(row)
                     for p, row in zip(preds, rows, strict=True)]
            stops = [p["early_stop"] for p in preds]
            if drift:
                assert np.mean(right) < expected_accuracy
                assert np.mean(stops) < 0.2
            else:
                assert all(right)
                assert 0.2 < np.mean(stops) < 0.6
