"""Feedback joins predictions by request id: immediately or later, idempotent."""

from __future__ import annotations

import httpx

from rampup.store import Database
from tests.serving.conftest import Trained, record


async def predict(client: httpx.AsyncClient, trained: Trained, n: int = 1) -> dict[str, object]:
    payload = record(trained.frame, 0) if n == 1 else [record(trained.frame, i) for i in range(n)]
    r = await client.post("/v1/models/credit/predict", json=payload)
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


async def test_label_right_after_predict(client: httpx.AsyncClient, trained: Trained,
                                         store: Database) -> None:
    body = await predict(client, trained)
    r = await client.post("/v1/models/credit/feedback",
                          json={"request_id": body["request_id"], "label": 1})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0}
    [fb] = store.feedback.list_feedback(str(body["request_id"]))
    assert (fb.kind, fb.value, fb.source) == ("label", 1, "user")


async def test_duplicates_are_idempotent(client: httpx.AsyncClient, trained: Trained,
                                         store: Database) -> None:
    body = await predict(client, trained)
    item = {"request_id": body["request_id"], "label": 0, "events": ["clicked"]}
    assert (await client.post("/v1/models/credit/feedback", json=item)).json() == {
        "accepted": 2, "duplicates": 0}
    assert (await client.post("/v1/models/credit/feedback", json=item)).json() == {
        "accepted": 0, "duplicates": 2}
    assert len(store.feedback.list_feedback(str(body["request_id"]))) == 2


async def test_events_and_bulk(client: httpx.AsyncClient, trained: Trained,
                               store: Database) -> None:
    body = await predict(client, trained, n=3)
    preds = body["predictions"]
    assert isinstance(preds, list)
    items = [{"request_id": p["id"], "label": i % 2} for i, p in enumerate(preds)]
    items.append({"request_id": preds[0]["id"],
                  "events": [{"name": "repeated_query"}, "switched_to_typing"]})
    r = await client.post("/v1/models/credit/feedback", json=items)
    assert r.json() == {"accepted": 5, "duplicates": 0}
    names = sorted(str(f.name) for f in store.feedback.list_feedback(preds[0]["id"])
                   if f.kind == "event")
    assert names == ["repeated_query", "switched_to_typing"]


async def test_unknown_request_id_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/feedback", json={"request_id": "nope", "label": 1})
    assert r.status_code == 404
    assert "nope" in r.json()["message"]
    assert r.json()["field"] == "request_id"


async def test_feedback_for_another_model_is_rejected(client: httpx.AsyncClient,
                                                      trained: Trained, store: Database) -> None:
    body = await predict(client, trained)
    store.models.ensure_model("other")
    r = await client.post("/v1/models/other/feedback",
                          json={"request_id": body["request_id"], "label": 1})
    assert r.status_code == 404
    assert "belongs to model 'credit'" in r.json()["message"]


async def test_invalid_feedback_bodies(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/credit/feedback", json={"request_id": "x"})
    assert r.status_code == 422
    assert "label" in r.json()["message"]
    r = await client.post("/v1/models/credit/feedback",
                          json={"request_id": "x", "events": ["Bad Name"]})
    assert r.status_code == 422
    r = await client.post("/v1/models/credit/feedback", json={"label": 1})
    assert r.status_code == 422
    assert r.json()["field"].endswith("request_id")


async def test_labels_join_in_export_order(client: httpx.AsyncClient, trained: Trained,
                                           store: Database) -> None:
    body = await predict(client, trained, n=4)
    preds = body["predictions"]
    assert isinstance(preds, list)
    await client.post("/v1/models/credit/feedback", json={"request_id": preds[2]["id"], "label": 0})
    await client.post("/v1/models/credit/feedback", json={"request_id": preds[2]["id"], "label": 1})
    rows = [r for chunk in store.predictions.iter_predictions("credit") for r in chunk]
    by_id = {r["id"]: r for r in rows}
    assert by_id[preds[2]["id"]]["label"] == 1  # the latest label wins
    assert by_id[preds[0]["id"]]["label"] is None
