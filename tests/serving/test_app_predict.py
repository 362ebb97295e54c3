"""The predict endpoint driven through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import orjson

from rampup.store import Database
from tests.serving.conftest import ADMIN, Trained, record


async def test_single_record(client: httpx.AsyncClient, trained: Trained) -> None:
    rec = record(trained.frame, 0)
    r = await client.post("/v1/models/credit/predict", json=rec)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "credit"
    assert body["version"] == "v1"
    assert r.headers["x-model-version"] == "v1"
    assert r.headers["x-request-id"] == body["request_id"]
    [pred] = body["predictions"]
    assert pred["id"] == body["request_id"]
    expected = trained.model.predict_proba(trained.frame.drop(columns="y").iloc[[0]])[0]
    assert set(pred["probabilities"]) == {"0", "1"}
    assert np.allclose([pred["probabilities"]["0"], pred["probabilities"]["1"]], expected)
    assert pred["confidence"] == max(pred["probabilities"].values())
    assert pred["prediction"] == int(np.argmax(expected))


async def test_many_records_match_the_model(client: httpx.AsyncClient, trained: Trained) -> None:
    recs = [record(trained.frame, i) for i in range(50)]
    r = await client.post("/v1/models/credit/predict", json=recs)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    direct = trained.model.predict(trained.frame.drop(columns="y").iloc[:50])
    assert [p["prediction"] for p in preds] == direct.tolist()
    rid = r.json()["request_id"]
    assert [p["id"] for p in preds] == [f"{rid}-{i}" for i in range(50)]


async def test_every_prediction_is_logged(client: httpx.AsyncClient, trained: Trained,
                                          store: Database) -> None:
    recs = [record(trained.frame, i) for i in range(3)]
    r = await client.post("/v1/models/credit/predict", json=recs,
                          headers={"x-request-key": "user-7"})
    ids = [p["id"] for p in r.json()["predictions"]]
    state = client.app.state.rampup  # type: ignore[attr-defined]
    assert state.writer.flush(5.0)
    rows = {row["id"]: row for row in store.predictions.get_predictions(ids)}
    assert set(rows) == set(ids)
    row = rows[ids[1]]
    assert row["model"] == "credit"
    assert row["version"] == "v1"
    assert row["role"] == "answer"
    assert row["request_key"] == "user-7"
    assert row["request_id"] == r.json()["request_id"]
    assert orjson.loads(row["inputs"]) == recs[1]
    assert orjson.loads(row["outputs"])["prediction"] == r.json()["predictions"][1]["prediction"]
    assert row["latency_ms"] > 0
    assert row["confidence"] == r.json()["predictions"][1]["confidence"]


async def test_pinned_version(client: httpx.AsyncClient, trained: Trained) -> None:
    r = await client.post("/v1/models/credit/versions/v1/predict", json=record(trained.frame, 1))
    assert r.status_code == 200
    assert r.json()["version"] == "v1"
    assert r.headers["x-route"] == "v1; pinned"
    # a version outside the policy needs the admin token (issue 13), even to learn it is
    # not registered
    r = await client.post("/v1/models/credit/versions/v9/predict", json=record(trained.frame, 1))
    assert r.status_code == 401
    assert "not deployed" in r.json()["message"]
    r = await client.post("/v1/models/credit/versions/v9/predict", json=record(trained.frame, 1),
                          headers={"authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 404
    assert "v9" in r.json()["message"]


async def test_concurrent_requests_are_micro_batched(client: httpx.AsyncClient,
                                                      trained: Trained) -> None:
    recs = [record(trained.frame, i) for i in range(32)]
    results = await asyncio.gather(*(client.post("/v1/models/credit/predict", json=rec)
                                     for rec in recs))
    assert all(r.status_code == 200 for r in results)
    direct = trained.model.predict(trained.frame.drop(columns="y").iloc[:32]).tolist()
    assert [r.json()["predictions"][0]["prediction"] for r in results] == direct
    state = client.app.state.rampup  # type: ignore[attr-defined]
    batcher = state.runtime.models["credit"].versions["v1"].batcher
    assert batcher is not None
    assert batcher.records == 32
    assert batcher.batches < 32


async def test_metrics_and_health(client: httpx.AsyncClient, trained: Trained) -> None:
    await client.post("/v1/models/credit/predict", json=record(trained.frame, 0))
    await client.post("/v1/models/credit/predict", json={"age": "x"})
    text = (await client.get("/metrics")).text
    assert 'rampup_requests_total{model="credit",status="ok",version="v1"} 1.0' in text
    assert 'rampup_request_latency_seconds_bucket{le="0.5",model="credit",version="v1"}' in text
    assert 'rampup_errors_total{kind="invalid_input",model="credit",version="v1"} 1.0' in text
    assert "rampup_predlog_queue_depth" in text
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"]["credit"]["versions"] == ["v1"]


async def test_openapi_documents_predict(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/models/{name}/predict" in spec["paths"]
    assert "/v1/models/{name}/feedback" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_model_info(client: httpx.AsyncClient) -> None:
    models = (await client.get("/v1/models")).json()["models"]
    assert models[0]["name"] == "credit"
    assert models[0]["routes"] == {"v1": 100.0}
    info = (await client.get("/v1/models/credit")).json()
    names = [f["name"] for f in info["versions"]["v1"]["input_schema"]["features"]]
    assert names == ["age", "income", "score", "city"]
