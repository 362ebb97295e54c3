"""Pipeline monitoring through the real app: every stage gets the usual metrics (under
its own model, stage ``<pipeline>/<stage>``), the pipeline the end-to-end ones, and
alert rules can name a pipeline stage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rampup.alerts.runner import default_source
from rampup.alerts.service import Alerts
from rampup.config import Settings
from rampup.errors import ConfigError
from rampup.project import parse_project
from rampup.store import Database
from tests.monitor.conftest import monitor_of, settle
from tests.serving.conftest import make_settings
from tests.serving.pipeline_app import PROJECT, project, register, serve, speech

P = "/v1/models/transcribe/predict"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor_interval=0.01, monitor_flush_interval=0.05)


@pytest.fixture
async def client(store: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    register(store, settings)
    async with serve(store, settings) as c:
        yield c


async def summary(client: httpx.AsyncClient, model: str, *metrics: str,
                  **params: str) -> dict[str, Any]:
    r = await client.get(f"/v1/models/{model}/metrics",
                         params={"metric": list(metrics), "since": "-10m", **params})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["summary"]
    return out


async def test_stage_and_end_to_end_metrics(client: httpx.AsyncClient, store: Database) -> None:
    rng = np.random.default_rng(7)
    energies = rng.uniform(0.0, 1.0, 40)
    rids, finals = [], []
    for e in energies:
        r = await client.post(P, json=speech(float(e), 20.0))
        assert r.status_code == 200, r.text
        rids.append(r.json()["request_id"])
        finals.append(r.json()["predictions"][0])
    crash = await client.post(P, json=speech(0.9, 666.0))
    assert crash.status_code == 500
    bad = await client.post(P, json={"audio_len": 1.0})
    assert bad.status_code == 422
    speechy = int((energies >= 0.5).sum())
    # labels on the request id: the end-to-end output; with stage: that stage's output
    labels = [{"request_id": rid, "label": p["prediction"] if i % 4 else "wrong"}
              for i, (rid, p) in enumerate(zip(rids, finals, strict=True))]
    labels += [{"request_id": rid, "label": "speech", "stage": "vad"} for rid in rids[:10]]
    r = await client.post("/v1/models/transcribe/feedback", json=labels)
    assert r.status_code == 200, r.text
    await settle(client)
    e2e = await summary(client, "transcribe", "requests", "predictions", "errors",
                        "error_rate", "invalid_input_rate", "early_stop_rate", "latency_p50",
                        "accuracy", "labelled", "class_share[no_speech]")
    assert e2e["requests"] == 42
    assert e2e["errors"] == 2
    assert e2e["error_rate"] == pytest.approx(2 / 42)
    assert e2e["invalid_input_rate"] == pytest.approx(1 / 42)
    assert e2e["early_stop_rate"] == pytest.approx((40 - speechy) / 41)
    assert e2e["class_share[no_speech]"] == pytest.approx((40 - speechy) / 40)
    assert e2e["labelled"] == 40
    assert e2e["accuracy"] == pytest.approx(30 / 40)
    assert e2e["latency_p50"] > 0
    vad = await summary(client, "transcribe", "requests", "feature[energy].mean",
                        "class_share[speech]", "labelled", "accuracy", stage="vad")
    assert vad["requests"] == 41
    assert vad["feature[energy].mean"] == pytest.approx((energies.sum() + 0.9) / 41)
    assert vad["class_share[speech]"] == pytest.approx((speechy + 1) / 41)
    assert vad["labelled"] == 10
    assert vad["accuracy"] == pytest.approx(sum(energies[:10] >= 0.5) / 10)
    same = await summary(client, "vad", "requests", "feature[energy].mean",
                         stage="transcribe/vad")
    assert same["requests"] == vad["requests"]
    assert same["feature[energy].mean"] == vad["feature[energy].mean"]
    own = await summary(client, "vad", "requests")  # the model's own (direct) traffic
    assert own["requests"] is None or own["requests"] == 0
    asr = await summary(client, "transcribe", "requests", "errors", "error_rate",
                        "feature[speech_ratio].mean", stage="asr")
    assert asr["requests"] == speechy + 1
    assert asr["errors"] == 1
    assert asr["feature[speech_ratio].mean"] > 0.5


async def test_windows_merge_store_and_memory(client: httpx.AsyncClient, store: Database) -> None:
    for e in (0.1, 0.9, 0.95):
        assert (await client.post(P, json=speech(e))).status_code == 200
    await settle(client)
    monitor_of(client).flush()
    for e in (0.2, 0.8):
        assert (await client.post(P, json=speech(e))).status_code == 200
    await settle(client)
    s = await summary(client, "transcribe", "requests", "early_stop_rate")
    assert s == {"requests": 5, "early_stop_rate": pytest.approx(2 / 5)}
    stored = {(w["model"], w["stage"]) for w in store.windows.metric_windows("vad", since=0.0,
                                                                      until=2e10)}
    assert ("vad", "transcribe/vad") in stored


async def test_alert_rule_on_a_pipeline_stage(client: httpx.AsyncClient,
                                              store: Database) -> None:
    for e in (0.1, 0.2, 0.3, 0.9):
        assert (await client.post(P, json=speech(e))).status_code == 200
    await settle(client)
    source = default_source(store, project=project())
    rule = {"name": "little-speech", "stage": "vad", "condition": "class_share[speech] < 0.5",
            "window": "10m"}
    for _ in range(100):  # the monitor thread flushes its windows to the store
        result = Alerts(store).test("transcribe", rule, source)
        if result.value == pytest.approx(0.25):
            break
        await asyncio.sleep(0.05)
    assert result.value == pytest.approx(0.25)
    assert result.breached
    direct = Alerts(store).test("vad", {"name": "x", "stage": "transcribe/vad",
                                        "condition": "class_share[speech] < 0.5",
                                        "window": "10m"}, default_source(store))
    assert direct.value == pytest.approx(0.25)


def test_pipeline_alert_rules_name_its_stages() -> None:
    doc: dict[str, Any] = {"models": {**PROJECT["models"]}}
    doc["models"]["transcribe"] = {**doc["models"]["transcribe"], "alerts": [
        {"name": "speech", "condition": "class_share[speech] < 0.1", "stage": "vad"}]}
    assert parse_project(doc).models["transcribe"].alerts[0].stage == "vad"
    doc["models"]["transcribe"]["alerts"][0]["stage"] = "vda"
    with pytest.raises(ConfigError, match="'vda' is not a stage of 'transcribe'"):
        parse_project(doc)


async def test_project_rule_on_a_stage_runs_in_the_app(store: Database,
                                                       settings: Settings) -> None:
    doc: dict[str, Any] = {"models": {**PROJECT["models"]}}
    doc["models"]["transcribe"] = {**doc["models"]["transcribe"], "alerts": [
        {"name": "little-speech", "condition": "class_share[speech] < 0.5", "stage": "vad",
         "window": "10m"}]}
    proj = parse_project(doc)
    register(store, settings)
    async with serve(store, settings, proj) as c:
        for e in (0.1, 0.9):
            assert (await c.post(P, json=speech(e))).status_code == 200
        await settle(c)
        source = default_source(store, monitor_of(c), project=proj)
        result = Alerts(store).test("transcribe", "little-speech", source)
        assert result.value == pytest.approx(0.5)
        assert not result.breached
        r = await c.get("/v1/models/transcribe/alerts")
        assert r.status_code == 200, r.text
        assert [a["name"] for a in r.json()["alerts"]] == ["little-speech"]
