"""Every JSON route takes a JSON body whatever its content-type says (curl without
``-H content-type`` sends form encoding), and answers bad bodies in predict's shape."""

from __future__ import annotations

import httpx
import pytest

from rampup.store import Database
from tests.serving.conftest import ADMIN, Trained, record

CURL = {"content-type": "application/x-www-form-urlencoded"}  # what curl -d sends
SHAPE = {"error", "message", "field", "fix"}


async def predict_id(client: httpx.AsyncClient, trained: Trained) -> str:
    r = await client.post("/v1/models/credit/predict",
                          content=httpx.Response(200, json=record(trained.frame, 0)).content,
                          headers=CURL)
    assert r.status_code == 200, r.text
    return str(r.json()["request_id"])


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded",
                                          "text/plain", "application/xml"])
async def test_feedback_accepts_json_whatever_the_content_type(
        client: httpx.AsyncClient, trained: Trained, store: Database,
        content_type: str | None) -> None:
    rid = await predict_id(client, trained)
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"request_id": "%s", "label": 1}' % rid.encode()
    r = await client.post("/v1/models/credit/feedback", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0}
    assert store.feedback.list_feedback(rid)[0].value == 1


async def test_admin_bodies_too(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/admin/models/credit/deployment", headers={
        **CURL, "authorization": f"Bearer {ADMIN}"}, content=b'{"routes": {"v1": 100}}')
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["routes"] == {"v1": 100.0}


async def test_a_missing_field_names_it_with_a_fix(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/feedback", content=b'{"label": 1}', headers=CURL)
    assert r.status_code == 422
    body = r.json()
    assert set(body) >= SHAPE
    assert body["error"] == "invalid_input"
    assert body["field"] == "request_id"
    assert body["message"] == "'request_id' is missing"
    assert body["fix"] == "add 'request_id' to the JSON body"
    assert "function-after" not in r.text
    assert "list[" not in r.text
    assert len(body["problems"]) == 1  # the array form of the body is not reported


async def test_an_item_of_an_array_names_its_record(client: httpx.AsyncClient,
                                                    trained: Trained) -> None:
    rid = await predict_id(client, trained)
    items = b'[{"request_id": "%s", "label": 1}, {"request_id": "%s", "colour": 2}]' % (
        rid.encode(), rid.encode())
    r = await client.post("/v1/models/credit/feedback", content=items, headers=CURL)
    assert r.status_code == 422
    body = r.json()
    assert body["message"].startswith("record 1: 'colour' is not a known field")
    assert {"record": 1, "field": "colour"}.items() <= body["problems"][0].items()
    assert body["fix"].startswith("remove 'colour'")


async def test_a_rule_across_fields_is_reported_on_the_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/feedback", content=b'{"request_id": "x"}',
                          headers=CURL)
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == "give a 'label', 'events' or both"
    assert body["field"] == "body"


@pytest.mark.parametrize(("payload", "status", "error"), [
    (b'{"request_id": ', 400, "malformed_request"),
    (b"request_id=abc&label=1", 400, "malformed_request"),  # a real form body
    (b'"just a string"', 422, "invalid_input"),
])
async def test_bodies_that_are_not_a_json_object(client: httpx.AsyncClient, payload: bytes,
                                                 status: int, error: str) -> None:
    r = await client.post("/v1/models/credit/feedback", content=payload, headers=CURL)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= SHAPE
    assert (body["error"], body["field"]) == (error, "body")
    # predict answers the same way
    p = await client.post("/v1/models/credit/predict", content=payload, headers=CURL)
    assert (p.status_code, p.json()["error"], p.json()["field"]) == (status, error, "body")


async def test_query_parameters_in_the_same_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models/credit/review/items", params={"limit": "many"})
    assert r.status_code == 422
    body = r.json()
    assert set(body) >= SHAPE
    assert body["field"] == "limit"
    assert body["message"].startswith("query parameter 'limit'")
