"""Each served model's request and response schema in /openapi.json (issue 14), built
when the document is asked for: a version deployed a moment ago is there."""

from __future__ import annotations

from typing import Any

import httpx

from tests.serving.conftest import ADMIN, Trained, client, registry

__all__ = ["client", "registry"]
AUTH = {"authorization": f"Bearer {ADMIN}"}


def _record_schema(doc: dict[str, Any], path: str) -> dict[str, Any]:
    body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    one, many = body["oneOf"]
    assert many["items"] == one
    schema: dict[str, Any] = one
    return schema


async def test_the_document_has_each_models_fields(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "/v1/models/{name}/predict" in doc["paths"]  # the generic route stays
    record = _record_schema(doc, "/v1/models/credit/predict")
    props = record["properties"]
    assert props["age"] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert props["score"]["type"] == ["number", "null"]  # the reference had missing scores
    assert props["city"]["type"] == "string"
    assert set(props["city"]["examples"]) == {"paris", "rome", "oslo"}
    assert set(record["required"]) == {"age", "income", "city"}
    assert record["additionalProperties"] is False
    op = doc["paths"]["/v1/models/credit/predict"]["post"]
    item = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "predictions"]["items"]
    assert item["properties"]["prediction"] == {"enum": [0, 1]}
    assert "probabilities" in item["properties"]
    name = next(p for p in doc["paths"]["/v1/models/{name}/feedback"]["post"]["parameters"]
                if p["name"] == "name")
    assert name["schema"]["examples"] == ["credit"]


async def test_a_new_version_shows_at_once(client: httpx.AsyncClient,
                                           trained: Trained) -> None:
    before = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/models/credit/versions/v1/predict" in before
    assert "/v1/models/credit/versions/v2/predict" not in before
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                          json={"path": str(trained.model2_path), "deploy": True})
    assert r.status_code == 201, r.text
    after = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/models/credit/versions/v2/predict" in after
    # and the documented record is one the server takes
    ok = await client.post("/v1/models/credit/versions/v2/predict",
                           json={"age": 2**63 - 1, "income": 1.0, "score": None, "city": "x"})
    assert ok.status_code == 200, ok.text
