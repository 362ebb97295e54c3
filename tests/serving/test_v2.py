"""The Open Inference Protocol (V2) through the real app, with requests shaped exactly as
KServe, MLServer and Triton document them; same routing, validation, logging, monitoring
and automation as /v1/models/{name}/predict."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from rampup.config import Settings
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.serving.conftest import ADMIN, Trained, record

IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def credit_inputs(frame: pd.DataFrame, rows: list[int]) -> list[dict[str, Any]]:
    """One tensor per feature, as KServe's and MLServer's docs send tabular data."""
    recs = [record(frame, i) for i in rows]
    kinds = {"age": "INT64", "income": "FP64", "score": "FP64", "city": "BYTES"}
    out = []
    for name, kind in kinds.items():
        tensor: dict[str, Any] = {"name": name, "shape": [len(rows)], "datatype": kind,
                                  "data": [r[name] for r in recs]}
        if kind == "BYTES":
            tensor["parameters"] = {"content_type": "str"}
        out.append(tensor)
    return out


@pytest.fixture
def project(request: pytest.FixtureRequest) -> ProjectFile:
    automation = getattr(request, "param", None)
    models = {"credit": {"automation": automation}} if automation else {}
    return ProjectFile.model_validate({"models": models})


@pytest.fixture
async def v2(store: Database, settings: Settings, registry: Registry, project: ProjectFile,
             tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The credit model of the serving tests plus an all-numeric iris-like model."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(5, 1, (150, 4)).round(1), columns=IRIS)
    frame["species"] = np.where(frame.petal_length > 5, "virginica", "setosa")
    model = LogisticRegression().fit(frame[IRIS], frame.species)
    import joblib

    joblib.dump(model, tmp_path / "iris.joblib")
    frame.to_parquet(tmp_path / "iris.parquet", index=False)
    registry.register("iris", tmp_path / "iris.joblib", reference=tmp_path / "iris.parquet",
                      label_column="species")
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def output(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in body["outputs"] if o["name"] == name)


async def flushed(client: httpx.AsyncClient) -> None:
    state = client.app.state.rampup  # type: ignore[attr-defined]
    await asyncio.to_thread(state.writer.flush, 5.0)
    if state.automation is not None:
        await asyncio.to_thread(state.automation.flush, 5.0)


async def test_health_and_server_metadata(v2: httpx.AsyncClient) -> None:
    assert (await v2.get("/v2/health/live")).status_code == 200
    assert (await v2.get("/v2/health/ready")).json() == {"ready": True}
    meta = (await v2.get("/v2")).json()
    assert meta["name"] == "rampup"
    assert meta["extensions"] == []


async def test_model_metadata_lists_one_tensor_per_feature(v2: httpx.AsyncClient) -> None:
    r = await v2.get("/v2/models/credit")
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["name"] == "credit"
    assert meta["versions"] == ["v1"]
    assert meta["platform"] == "rampup-sklearn"
    assert {(i["name"], i["datatype"]) for i in meta["inputs"]} == {
        ("age", "INT64"), ("income", "FP64"), ("score", "FP64"), ("city", "BYTES")}
    assert meta["outputs"][0] == {"name": "predict", "datatype": "INT64", "shape": [-1]}
    assert meta["outputs"][1]["parameters"]["classes"] == [0, 1]
    assert (await v2.get("/v2/models/credit/versions/v1")).json()["name"] == "credit"
    assert (await v2.get("/v2/models/credit/ready")).json() == {"name": "credit",
                                                                "ready": True}
    assert (await v2.get("/v2/models/credit/versions/v1/ready")).status_code == 200
    not_deployed = await v2.get("/v2/models/credit/versions/v9/ready")
    assert not_deployed.status_code == 400
    assert "v9" in not_deployed.json()["error"]
    unknown = await v2.get("/v2/models/nope")
    assert unknown.status_code == 404
    assert "not served here" in unknown.json()["error"]


async def test_kserve_named_tensors(v2: httpx.AsyncClient, trained: Trained,
                                    store: Database) -> None:
    """One input per feature; the answer as rampup's own predict gives it."""
    r = await v2.post("/v2/models/credit/infer", json={
        "id": "42", "inputs": credit_inputs(trained.frame, [0, 1, 2])})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("credit", "v1", "42")
    predict = output(body, "predict")
    assert predict["shape"] == [3]
    assert predict["datatype"] == "INT64"
    proba = output(body, "predict_proba")
    assert proba["shape"] == [3, 2]
    expected = trained.model.predict_proba(trained.frame.drop(columns="y").iloc[:3])
    assert np.allclose(np.reshape(proba["data"], (3, 2)), expected)
    assert predict["data"] == list(trained.model.predict(trained.frame.drop(columns="y")
                                                         .iloc[:3]))
    v1 = await v2.post("/v1/models/credit/predict", json=[record(trained.frame, i)
                                                         for i in range(3)])
    assert [p["prediction"] for p in v1.json()["predictions"]] == predict["data"]
    # logged like any prediction, under the request id in parameters
    rid = body["parameters"]["request_id"]
    assert r.headers["x-request-id"] == rid
    await flushed(v2)
    assert store.predictions.count_predictions("credit") == 6
    fb = await v2.post("/v1/models/credit/feedback", json={"request_id": f"{rid}-0",
                                                           "label": 1})
    assert fb.json() == {"accepted": 1, "duplicates": 0}
    metrics = (await v2.get("/metrics")).text
    assert 'rampup_requests_total{model="credit",status="ok",version="v1"} 2.0' in metrics


async def test_mlserver_pandas_request_and_requested_outputs(v2: httpx.AsyncClient,
                                                             trained: Trained) -> None:
    """MLServer's dataframe form: content_type 'pd', one column per input, asking for
    predict_proba only (as its sklearn runtime is asked)."""
    r = await v2.post("/v2/models/credit/infer", json={
        "parameters": {"content_type": "pd"},
        "inputs": credit_inputs(trained.frame, [3, 4]),
        "outputs": [{"name": "predict_proba"}]})
    assert r.status_code == 200, r.text
    assert [o["name"] for o in r.json()["outputs"]] == ["predict_proba"]
    bad = await v2.post("/v2/models/credit/infer", json={
        "inputs": credit_inputs(trained.frame, [3]), "outputs": [{"name": "logits"}]})
    assert bad.status_code == 422
    assert "unknown output 'logits'" in bad.json()["error"]


@pytest.mark.parametrize("tensor", [
    # KServe's sklearn example: "input-0", [2, 4] FP32, nested rows
    {"name": "input-0", "shape": [2, 4], "datatype": "FP32",
     "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]},
    # Triton's HTTP example: flat row-major data
    {"name": "INPUT0", "shape": [2, 4], "datatype": "FP64",
     "data": [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6]},
    # columns named in the tensor's parameters, in another order
    {"name": "features", "shape": [2, 4], "datatype": "FP32",
     "parameters": {"feature_names": ["petal_width", "petal_length", "sepal_width",
                                      "sepal_length"]},
     "data": [[1.4, 4.8, 2.8, 6.8], [1.6, 4.5, 3.4, 6.0]]},
    {"name": "features", "shape": [2, 4], "datatype": "FP32",
     "parameters": {"feature_names": "petal_width,petal_length,sepal_width,sepal_length"},
     "data": [[1.4, 4.8, 2.8, 6.8], [1.6, 4.5, 3.4, 6.0]]},
])
async def test_one_2d_tensor(v2: httpx.AsyncClient, store: Database, tensor: dict[str, Any]
                             ) -> None:
    r = await v2.post("/v2/models/iris/infer", json={"inputs": [tensor]})
    assert r.status_code == 200, r.text
    predict = output(r.json(), "predict")
    assert predict["datatype"] == "BYTES"
    assert predict["data"] == ["setosa", "setosa"]
    await flushed(v2)
    assert _logged(store, "iris")[0] == {"sepal_length": 6.8, "sepal_width": 2.8,
                                         "petal_length": 4.8, "petal_width": 1.4}


def _logged(store: Database, model: str) -> list[dict[str, Any]]:
    """The logged inputs of ``model``'s predictions, in id order (first record first)."""
    import sqlalchemy as sa

    from rampup.store import schema as t

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.predictions.c.inputs).where(
            t.predictions.c.model == model).order_by(t.predictions.c.id)).scalars().all()
    return [json.loads(r) if isinstance(r, str) else dict(r) for r in rows]


async def test_pinned_version_path(v2: httpx.AsyncClient, trained: Trained) -> None:
    r = await v2.post("/v2/models/credit/versions/v1/infer",
                      json={"inputs": credit_inputs(trained.frame, [0])})
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == "v1"
    assert r.headers["x-route"] == "v1; pinned"


async def test_sticky_routing_like_predict(v2: httpx.AsyncClient, trained: Trained) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    two = await v2.post("/v1/admin/models/credit/versions", headers=auth,
                        json={"path": str(trained.model2_path), "deploy": False})
    assert two.status_code == 201, two.text
    put = await v2.put("/v1/admin/models/credit/deployment", headers=auth,
                       json={"routes": {"v1": 50, "v2": 50}})
    assert put.status_code == 200, put.text
    seen = set()
    for key in ("alice", "bob", "carol", "dave", "erin", "frank"):
        answers = set()
        for _ in range(2):
            r = await v2.post("/v2/models/credit/infer", headers={"x-request-key": key},
                              json={"inputs": credit_inputs(trained.frame, [0])})
            assert r.status_code == 200, r.text
            answers.add(r.json()["model_version"])
        assert len(answers) == 1  # the same user gets the same version
        seen |= answers
    assert seen == {"v1", "v2"}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": ["x"]}]},
     "age", "is not a INT64 value"),
    ({"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]},
     "age", "1 values for shape [2]"),
    ({"inputs": [{"name": "age", "shape": [1], "datatype": "INT65", "data": [1]}]},
     "age", "unknown datatype"),
    ({"inputs": []}, "inputs", "has no 'inputs'"),
    ({"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [41]}]},
     "income", "'income' is missing"),
])
async def test_bad_requests_name_the_field_and_the_fix(v2: httpx.AsyncClient,
                                                       body: dict[str, Any], field: str,
                                                       words: str) -> None:
    r = await v2.post("/v2/models/credit/infer", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert isinstance(err["error"], str)  # V2's error object
    assert words in err["error"]
    assert "fix:" in err["error"]
    assert (err["code"], err["field"]) == ("invalid_input", field)
    assert err["fix"]


async def test_any_content_type_and_malformed_json(v2: httpx.AsyncClient,
                                                   trained: Trained) -> None:
    payload = json.dumps({"inputs": credit_inputs(trained.frame, [0])}).encode()
    r = await v2.post("/v2/models/credit/infer", content=payload,
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    bad = await v2.post("/v2/models/credit/infer", content=b"{nope")
    assert bad.status_code == 400
    assert bad.json()["code"] == "malformed_request"


@pytest.mark.parametrize("project", [{"level": "partial", "threshold": 0.999}],
                         indirect=True)
async def test_automation_outcomes_travel_in_parameters(v2: httpx.AsyncClient,
                                                        trained: Trained,
                                                        store: Database) -> None:
    r = await v2.post("/v2/models/credit/infer",
                      json={"inputs": credit_inputs(trained.frame, [0])})
    assert r.status_code == 200, r.text
    body = r.json()
    params = output(body, "predict")["parameters"]
    assert params["status"] == "pending_review"
    assert params["decided_by"] == "human"
    assert output(body, "status")["data"] == ["pending_review"]
    assert output(body, "review_id")["data"] == [params["review_id"]]
    many = await v2.post("/v2/models/credit/infer",
                         json={"inputs": credit_inputs(trained.frame, [1, 2, 3])})
    statuses = output(many.json(), "status")["data"]
    assert statuses == ["pending_review"] * 3
    assert output(many.json(), "predict")["parameters"] == {"pending_review": 3}
    await flushed(v2)
    queued = {i["id"] for i in store.review.list_review_items("credit", limit=100)}
    assert params["review_id"] in queued
    assert set(output(many.json(), "review_id")["data"]) <= queued


async def test_a_pipeline_points_to_its_stages(store: Database, tmp_path: Path) -> None:
    from tests.serving import pipeline_app
    from tests.serving.conftest import make_settings

    settings = make_settings(tmp_path)
    pipeline_app.register(store, settings)
    async with pipeline_app.serve(store, settings) as client:
        r = await client.post("/v2/models/transcribe/infer", json={"inputs": [
            {"name": "energy", "shape": [1], "datatype": "FP64", "data": [0.9]},
            {"name": "audio_len", "shape": [1], "datatype": "FP64", "data": [10.0]}]})
        assert r.status_code == 422
        assert "is a pipeline" in r.json()["error"]
        stage = await client.post("/v2/models/vad/infer", json={"inputs": [
            {"name": "energy", "shape": [1], "datatype": "FP64", "data": [0.9]}]})
        assert stage.status_code == 200, stage.text


async def test_openapi_documents_the_v2_routes(v2: httpx.AsyncClient) -> None:
    doc = (await v2.get("/openapi.json")).json()
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    assert infer["operationId"] == "v2_infer"
    assert "inputs" in infer["requestBody"]["content"]["application/json"]["schema"][
        "properties"]
    assert "/v2/models/{name}/versions/{version}/infer" in doc["paths"]
    assert "/v2/health/ready" in doc["paths"]
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) == len(set(ids))
