"""Bad input gets a clear 4xx naming the field and the fix; the server keeps serving."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rampup.config import Settings
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.serving.conftest import Trained, record

HERE = Path(__file__).parent


async def test_unknown_model(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/nope/predict", json={})
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found"
    assert "'nope'" in body["message"]
    assert "credit" in body["message"]
    assert body["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"age": "old"}, "age", "must be an integer"),
    ({"income": 1.0}, "age", "is missing"),
])
async def test_schema_errors(client: httpx.AsyncClient, trained: Trained,
                             payload: dict[str, object], field: str, words: str) -> None:
    rec = {**record(trained.frame, 0), **payload}
    if field == "age" and words == "is missing":
        del rec["age"]
    r = await client.post("/v1/models/credit/predict", json=rec)
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == field
    assert words in body["message"]
    assert body["fix"]
    assert body["problems"][0]["record"] == 0


async def test_unknown_feature(client: httpx.AsyncClient, trained: Trained) -> None:
    r = await client.post("/v1/models/credit/predict",
                          json={**record(trained.frame, 0), "colour": "red"})
    assert r.status_code == 422
    assert r.json()["field"] == "colour"
    assert "age, income, score, city" in r.json()["fix"]


async def test_nan_is_named(client: httpx.AsyncClient, trained: Trained) -> None:
    rec = record(trained.frame, 0)
    body = b'{"age": 30, "income": NaN, "score": 600.0, "city": "rome"}'
    r = await client.post("/v1/models/credit/predict", content=body,
                          headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["field"] == "income"
    assert "NaN" in r.json()["message"]
    assert rec  # the valid record still works afterwards:
    assert (await client.post("/v1/models/credit/predict", json=rec)).status_code == 200


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/predict", content=b'{"age": ',
                          headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["message"]
    assert r.json()["field"] == "body"


async def test_wrong_shapes(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/predict", json="hello")
    assert r.status_code == 422
    r = await client.post("/v1/models/credit/predict", json=[])
    assert r.status_code == 422
    assert "no records" in r.json()["message"]
    r = await client.post("/v1/models/credit/predict", json=[1])
    assert r.status_code == 422
    assert "must be a JSON object" in r.json()["message"]


async def test_oversized(client: httpx.AsyncClient, trained: Trained) -> None:
    many = [record(trained.frame, 0)] * 1001
    r = await client.post("/v1/models/credit/predict", json=many)
    assert r.status_code == 413
    assert "1001 records" in r.json()["message"]
    huge = b'{"age": "' + b"x" * 2_000_000 + b'"}'
    r = await client.post("/v1/models/credit/predict", content=huge,
                          headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "RAMPUP_MAX_BODY_BYTES" in r.json()["fix"]


async def test_model_exception_is_500_and_server_keeps_serving(
        store: Database, settings: Settings, registry: Registry,
        client: httpx.AsyncClient) -> None:
    registry.register("echo", f"{HERE / 'flaky_model.py'}:Flaky")
    state = client.app.state.rampup  # type: ignore[attr-defined]
    state.runtime.refresh()
    r = await client.post("/v1/models/echo/predict", json={"text": "boom"})
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "model_error"
    assert "exploded on purpose" in body["message"]
    assert body["request_id"] == r.headers["x-request-id"]
    ok = await client.post("/v1/models/echo/predict", json={"text": "hello"})
    assert ok.status_code == 200
    assert ok.json()["predictions"][0]["prediction"] == 5
    assert state.writer.flush(5.0)
    [row] = store.predictions.get_predictions([body["request_id"]])
    assert "exploded" in row["error"]
    assert row["outputs"] is None
    text = (await client.get("/metrics")).text
    assert 'rampup_errors_total{kind="model_error",model="echo",version="v1"} 1.0' in text


async def test_bad_request_in_a_batch_does_not_fail_neighbours(
        registry: Registry, client: httpx.AsyncClient) -> None:
    import asyncio

    registry.register("echo", f"{HERE / 'flaky_model.py'}:Flaky")
    client.app.state.rampup.runtime.refresh()  # type: ignore[attr-defined]
    texts = ["a", "boom", "abc"] * 4
    results = await asyncio.gather(*(client.post("/v1/models/echo/predict", json={"text": t})
                                     for t in texts))
    assert [r.status_code for r in results] == [200, 500, 200] * 4
