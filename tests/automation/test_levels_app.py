"""Each automation level through the real app: response shape, routing, review items."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rampup.automation.levels import audit_draw
from rampup.store import Database
from tests.automation.conftest import BASE, flushed, predict_many, runtime_of
from tests.serving.conftest import ADMIN, Trained

AUTH = {"authorization": f"Bearer {ADMIN}"}


def items_of(store: Database) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in store.review.list_review_items("credit", limit=10_000)}


@pytest.mark.parametrize("automation", [{"level": "full"}], indirect=True)
async def test_full_model_decides(client: httpx.AsyncClient, trained: Trained,
                                  store: Database) -> None:
    body = await predict_many(client, trained.frame, 5)
    for p in body["predictions"]:
        assert p["status"] == "decided"
        assert p["decided_by"] == "model"
        assert "review_id" not in p
        assert p["prediction"] in (0, 1)
        assert "confidence" in p
    await flushed(client)
    assert items_of(store) == {}


async def test_partial_threshold_routes_low_confidence(client: httpx.AsyncClient,
                                                       trained: Trained, store: Database) -> None:
    body = await predict_many(client, trained.frame, 60)
    preds = body["predictions"]
    low = [p for p in preds if p["confidence"] < 0.75]
    assert low
    assert len(low) < len(preds)
    for p in preds:
        if p["confidence"] < 0.75:
            assert (p["status"], p["decided_by"], p["review_id"]) == (
                "pending_review", "human", p["id"])
            assert p["prediction"] in (0, 1)  # the existing fields stay
        else:
            assert (p["status"], p["decided_by"]) == ("decided", "model")
            assert "review_id" not in p
    await flushed(client)
    items = items_of(store)
    assert set(items) == {p["id"] for p in low}
    one = items[low[0]["id"]]
    assert one["reason"] == "low_confidence"
    assert one["status"] == "open"
    assert one["suggestion"]["prediction"] == low[0]["prediction"]
    assert one["confidence"] == pytest.approx(low[0]["confidence"])
    assert one["choices"] == [0, 1]
    assert one["inputs"]["city"] in ("paris", "rome", "oslo")


@pytest.mark.parametrize("automation", [
    {"level": "partial", "threshold": 0.6, "audit_rate": 0.3, "seed": 7,
     "class_thresholds": {"1": 0.9}}], indirect=True)
async def test_per_class_threshold_and_seeded_audit(client: httpx.AsyncClient,
                                                    trained: Trained, store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 80))["predictions"]
    expect_review = {p["id"] for p in preds
                     if p["confidence"] < (0.9 if p["prediction"] == 1 else 0.6)}
    expect_audit = {p["id"] for p in preds if p["id"] not in expect_review
                    and audit_draw(7, p["id"]) < 0.3}
    assert expect_audit
    assert expect_review
    await flushed(client)
    items = items_of(store)
    assert {i for i, r in items.items() if r["reason"] == "low_confidence"} == expect_review
    assert {i for i, r in items.items() if r["reason"] == "audit"} == expect_audit
    audit = next(r for r in items.values() if r["reason"] == "audit")
    assert audit["weight"] == pytest.approx(1 / 0.3)
    assert audit["priority"] == 0
    # an audited record is still the model's decision in the response
    by_id = {p["id"]: p for p in preds}
    assert by_id[audit["id"]]["status"] == "decided"
    assert "review_id" not in by_id[audit["id"]]


@pytest.mark.parametrize("automation", [{"level": "ai_assist"}], indirect=True)
async def test_ai_assist_returns_a_suggestion(client: httpx.AsyncClient, trained: Trained,
                                              store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 3))["predictions"]
    for p in preds:
        assert (p["status"], p["decided_by"]) == ("suggestion", "human")
        assert p["prediction"] in (0, 1)
        assert p["review_id"] == p["id"]
    await flushed(client)
    assert {r["reason"] for r in items_of(store).values()} == {"assist"}


@pytest.mark.parametrize("automation", [{"level": "shadow"}], indirect=True)
async def test_shadow_hides_the_model_and_logs_it(client: httpx.AsyncClient,
                                                  trained: Trained, store: Database) -> None:
    body = await predict_many(client, trained.frame, 2)
    for p in body["predictions"]:
        assert p == {"id": p["id"], "prediction": None, "status": "pending_review",
                     "decided_by": "human", "review_id": p["id"]}
    await flushed(client)
    [row] = list(store.predictions.get_predictions([body["predictions"][0]["id"]]))
    assert '"prediction":' in row["outputs"]
    assert row["confidence"] is not None
    r = await client.get(f"{BASE}/review/items")
    [first, *_] = r.json()["items"]
    assert first["reason"] == "shadow"
    assert first["suggestion"] is None


@pytest.mark.parametrize("automation", [{"level": "human_only"}], indirect=True)
async def test_human_only_does_not_call_the_model(client: httpx.AsyncClient,
                                                  trained: Trained, store: Database) -> None:
    body = await predict_many(client, trained.frame, 2)
    assert body["version"] == "human"
    for p in body["predictions"]:
        assert (p["prediction"], p["status"], p["decided_by"]) == (None, "pending_review",
                                                                   "human")
    await flushed(client)
    items = items_of(store)
    assert {r["reason"] for r in items.values()} == {"human_only"}
    assert all(r["suggestion"] is None and r["version"] == "human" for r in items.values())
    bad = await client.post(f"{BASE}/predict", json={"age": "old"})
    assert bad.status_code == 422  # input is still validated


@pytest.mark.parametrize("automation", [{"level": "full"}], indirect=True)
async def test_level_change_through_admin_api(client: httpx.AsyncClient, trained: Trained,
                                              store: Database) -> None:
    r = await client.put("/v1/admin/models/credit/automation", json={"level": "ai_assist",
                         "reason": "pilot"})
    assert r.status_code == 401
    r = await client.put("/v1/admin/models/credit/automation",
                         json={"level": "ai_assist", "reason": "pilot"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert (r.json()["level"], r.json()["source"]) == ("ai_assist", "runtime")
    p = (await predict_many(client, trained.frame, 1))["predictions"][0]
    assert p["status"] == "suggestion"
    r = await client.get("/v1/admin/models/credit/automation", headers=AUTH)
    assert r.json()["history"][0]["to"] == "ai_assist"
    assert r.json()["history"][0]["reason"] == "pilot"
    r = await client.put("/v1/admin/models/credit/automation", json={"level": None},
                         headers=AUTH)
    assert (r.json()["level"], r.json()["source"]) == ("full", "project")
    assert (await predict_many(client, trained.frame, 1))["predictions"][0][
        "status"] == "decided"
    events = [e for e in store.events.list_events("credit") if e.action == "automation_level"]
    assert [e.details["to"] for e in events] == ["full", "ai_assist"]
    bad = await client.put("/v1/admin/models/credit/automation", json={"level": "most"},
                           headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["field"] == "level"


async def test_level_set_elsewhere_reaches_the_server(client: httpx.AsyncClient,
                                                      trained: Trained, store: Database) -> None:
    from rampup.automation.service import Automation

    Automation(store).set_level("credit", "shadow", actor="cli:test", now=0.0)
    runtime_of(client).refresh()  # what the background thread does every second
    p = (await predict_many(client, trained.frame, 1))["predictions"][0]
    assert p["status"] == "pending_review"
    assert p["prediction"] is None


@pytest.mark.parametrize("automation", [{"level": "full"}], indirect=True)
async def test_human_pseudo_version_queues_items(client: httpx.AsyncClient, trained: Trained,
                                                 store: Database) -> None:
    r = await client.put("/v1/admin/models/credit/deployment",
                         json={"routes": {"human": 100}}, headers=AUTH)
    assert r.status_code == 200, r.text
    p = (await predict_many(client, trained.frame, 1))["predictions"][0]
    assert (p["status"], p["decided_by"], p["review_id"]) == ("pending_human", "human", p["id"])
    await flushed(client)
    assert items_of(store)[p["id"]]["reason"] == "human_only"
