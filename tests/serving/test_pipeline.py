"""A pipeline through the real app: stages in order, early stop, per-stage routing,
logging under each stage's model, errors naming the stage, feedback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rampup.config import Settings
from rampup.rollout.window import measure, paired
from rampup.store import Database
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.pipeline_app import MODULE, register, serve, speech

P = "/v1/models/transcribe/predict"
AUTH = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor=False)


@pytest.fixture
async def client(store: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    register(store, settings)
    async with serve(store, settings) as c:
        yield c


def rows(store: Database, request_id: str) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        from rampup.store.schema import predictions as p

        return [dict(r._mapping) for r in conn.execute(
            p.select().where(p.c.request_id == request_id).order_by(p.c.id))]


async def flushed(client: httpx.AsyncClient) -> None:
    import asyncio

    await asyncio.to_thread(client.app.state.rampup.writer.flush, 5.0)  # type: ignore[attr-defined]


async def test_runs_every_stage_and_logs_each(client: httpx.AsyncClient, store: Database) -> None:
    r = await client.post(P, json=speech(0.9, 10.0))
    assert r.status_code == 200, r.text
    body = r.json()
    rid = body["request_id"]
    assert r.headers["x-request-id"] == rid
    assert body["version"] == r.headers["x-model-version"] == "v1+v1"
    assert body["versions"] == {"vad": "v1", "asr": "v1"}
    [pred] = body["predictions"]
    assert pred["id"] == rid
    assert pred["stage"] == "asr"
    assert pred["early_stop"] is False
    ratio = pred["stages"]["vad"]["probabilities"]["speech"]
    assert pred["prediction"] == f"words:{round(10 * ratio)}"
    assert pred["stages"]["vad"]["prediction"] == "speech"
    assert pred["stages"]["asr"]["id"] == f"{rid}/1"
    await flushed(client)
    logged = {row["id"]: row for row in rows(store, rid)}
    assert set(logged) == {rid, f"{rid}/0", f"{rid}/1"}
    e2e, vad, asr = logged[rid], logged[f"{rid}/0"], logged[f"{rid}/1"]
    assert (e2e["model"], e2e["version"], e2e["stage"]) == ("transcribe", "v1+v1", None)
    assert (vad["model"], vad["stage"]) == ("vad", "transcribe/vad")
    assert (asr["model"], asr["stage"]) == ("asr", "transcribe/asr")
    assert '"speech_ratio"' in str(asr["inputs"])
    assert '"energy"' not in str(asr["inputs"])
    assert e2e["latency_ms"] >= asr["latency_ms"]


async def test_early_stop_per_record(client: httpx.AsyncClient, store: Database) -> None:
    r = await client.post(P, json=[speech(0.1), speech(0.9), speech(0.2)])
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["stage"] for p in preds] == ["vad", "asr", "vad"]
    assert [p["early_stop"] for p in preds] == [True, False, True]
    assert preds[0]["prediction"] == "no_speech"
    assert "asr" not in preds[0]["stages"]
    rid = r.json()["request_id"]
    await flushed(client)
    ids = {row["id"] for row in rows(store, rid)}
    assert ids == {f"{rid}-0", f"{rid}-1", f"{rid}-2", f"{rid}-0/0", f"{rid}-1/0",
                   f"{rid}-2/0", f"{rid}-1/1"}


async def test_canary_of_one_stage(client: httpx.AsyncClient, store: Database,
                                   settings: Settings) -> None:
    from rampup.registry.registry import Registry

    Registry.from_settings(settings, store).register("asr", f"{MODULE}:Asr2", version="v2",
                                                     flavor="python", deploy=False)
    r = await client.put("/v1/admin/models/asr/deployment", headers=AUTH,
                         json={"routes": {"v1": 50, "v2": 50}, "mirrors": {"v1": 100}})
    assert r.status_code == 200, r.text
    seen: dict[str, str] = {}
    for i in range(40):
        key = f"user{i}"
        r = await client.post(P, json=speech(), headers={"x-request-key": key})
        assert r.status_code == 200
        seen[key] = r.json()["versions"]["asr"]
        again = await client.post(P, json=speech(), headers={"x-request-key": key})
        assert again.json()["versions"]["asr"] == seen[key]  # sticky per key
    assert set(seen.values()) == {"v1", "v2"}
    assert {r.json()["versions"]["vad"]} == {"v1"}
    for t in list(client.app.state.rampup.shadow_tasks):  # type: ignore[attr-defined]
        await t
    await flushed(client)
    with store.engine.connect() as conn:
        from rampup.store.schema import predictions as p

        got = conn.execute(p.select().where(p.c.model == "asr")).all()
    answered = {row.version for row in got if row.role == "answer"}
    assert answered == {"v1", "v2"}
    assert any(row.role == "shadow" and row.id.endswith("/1~v1") for row in got)
    versions = {row["version"] for chunk in store.predictions.iter_predictions("transcribe")
                for row in chunk}
    assert versions == {"v1+v1", "v1+v2"}
    # the stage's rollout judges these rows: its canary and the mirrored pairs
    canary = measure(store, "asr", "v2", since=0.0, until=time.time() + 1)
    assert canary.requests == 2 * sum(v == "v2" for v in seen.values())
    pairs = paired(store, "asr", "v1", "v2", since=0.0, until=time.time() + 1)
    assert pairs.n == canary.requests


async def test_describe(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models/transcribe")
    assert r.status_code == 200
    stages = r.json()["pipeline"]["stages"]
    assert [(s["stage"], s["model"], s["routes"]) for s in stages] == [
        ("vad", "vad", {"v1": 100.0}), ("asr", "asr", {"v1": 100.0})]
    assert stages[0]["stop_when"] == "label == 'no_speech'"


async def test_bad_input_names_field_and_stage(client: httpx.AsyncClient) -> None:
    r = await client.post(P, json={"audio_len": 3.0})
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "energy"
    assert body["stage"] == "vad"
    assert "stage 'vad'" in body["message"]
    r = await client.post(P, json={"energy": 0.9, "audio_len": "long"})
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["stage"]) == ("audio_len", "asr")
    r = await client.post(P, content=b"{nope")
    assert r.status_code == 400


async def test_stage_failure_is_a_5xx_naming_the_stage(client: httpx.AsyncClient,
                                                       store: Database) -> None:
    r = await client.post(P, json=speech(0.9, 666.0))
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "pipeline_error"
    assert body["stage"] == "asr"
    assert "stage 'asr' (asr@v1) failed" in body["message"]
    rid = body["request_id"]
    await flushed(client)
    logged = {row["id"]: row for row in rows(store, rid)}
    assert "decoder crashed" in str(logged[f"{rid}/1"]["error"])
    assert "stage 'asr'" in str(logged[rid]["error"])
    assert logged[f"{rid}/0"]["error"] is None


async def test_stage_not_deployed(store: Database, settings: Settings) -> None:
    from rampup.registry.registry import Registry

    Registry.from_settings(settings, store).register("vad", f"{MODULE}:Vad", version="v1",
                                                     flavor="python")
    async with serve(store, settings) as c:
        r = await c.post(P, json=speech())
    assert r.status_code == 500
    assert r.json()["stage"] == "asr"
    assert "not deployed" in r.json()["message"]


async def test_feedback_end_to_end_and_per_stage(client: httpx.AsyncClient,
                                                 store: Database) -> None:
    r = await client.post(P, json=speech())
    rid = r.json()["request_id"]
    fb = "/v1/models/transcribe/feedback"
    ok = await client.post(fb, json=[{"request_id": rid, "label": "words:10"},
                                     {"request_id": rid, "label": "speech", "stage": "vad"}])
    assert ok.status_code == 200, ok.text
    assert ok.json()["accepted"] == 2
    with store.engine.connect() as conn:
        from rampup.store.schema import feedback as f

        got = {(row.prediction_id, row.model) for row in conn.execute(f.select())}
    assert got == {(rid, "transcribe"), (f"{rid}/0", "vad")}
    bad = await client.post(fb, json={"request_id": rid, "label": 1, "stage": "nope"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "stage"
    assert "stages: vad, asr" in bad.json()["message"]
    direct = await client.post("/v1/models/vad/feedback",
                               json={"request_id": f"{rid}/0", "events": ["clicked"]})
    assert direct.status_code == 200
    wrong = await client.post("/v1/models/vad/feedback",
                              json={"request_id": rid, "label": 1, "stage": "vad"})
    assert wrong.status_code == 422
    assert "not a pipeline" in wrong.json()["message"]
