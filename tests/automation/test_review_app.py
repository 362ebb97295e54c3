"""The review queue over HTTP: claim, decide, skip, several reviewers, labels in the
joined log, and clear 4xx answers to bad review input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from rampup.predlog.export import export_predictions
from rampup.store import Database
from tests.automation.conftest import BASE, flushed, predict_many
from tests.serving.conftest import ADMIN, Trained

REVIEW = f"{BASE}/review"


async def nxt(client: httpx.AsyncClient, who: str) -> dict[str, Any] | None:
    r = await client.post(f"{REVIEW}/next", headers={"x-reviewer": who})
    assert r.status_code == 200, r.text
    item: dict[str, Any] | None = r.json()["item"]
    return item


async def decide(client: httpx.AsyncClient, item_id: str, who: str,
                 label: Any) -> httpx.Response:
    return await client.post(f"{REVIEW}/items/{item_id}/decide",
                             json={"reviewer": who, "label": label})


@pytest.mark.parametrize("automation", [{"level": "ai_assist"}], indirect=True)
async def test_decision_becomes_the_label_in_the_joined_log(
        client: httpx.AsyncClient, trained: Trained, store: Database, tmp_path: Path) -> None:
    preds = (await predict_many(client, trained.frame, 3))["predictions"]
    item = await nxt(client, "ana")
    assert item is not None
    assert item["id"] == preds[0]["id"]
    assert item["claimed_by"] == "ana"
    assert item["suggestion"]["prediction"] in (0, 1)
    r = await client.post(f"{REVIEW}/next", json={"reviewer": "ana"})
    assert r.json()["item"]["id"] == item["id"]  # a live claim is handed back, not a new one
    assert r.json()["choices"] == [0, 1, "uncertain"]
    r = await decide(client, item["id"], "ana", "1")  # "1" from a CLI matches the class 1
    assert r.status_code == 200, r.text
    done = r.json()["item"]
    assert (done["status"], done["final_label"], done["decided_by"]) == ("decided", 1, "ana")
    [fb] = store.feedback.list_feedback(item["id"])
    assert (fb.kind, fb.value, fb.source) == ("label", 1, "review")
    await flushed(client)
    out = tmp_path / "log.parquet"
    export_predictions(store, "credit", out)
    table = pq.read_table(out).to_pylist()
    row = next(r for r in table if r["id"] == item["id"])
    assert row["label"] == 1
    detail = (await client.get(f"{REVIEW}/items/{item['id']}")).json()
    assert detail["labels"] == [{"reviewer": "ana", "kind": "label", "label": 1,
                                 "ts": detail["labels"][0]["ts"], "note": ""}]


@pytest.mark.parametrize("automation", [{"level": "ai_assist", "reviewers_per_item": 2,
                                         "labels": ["good", "bad"]}], indirect=True)
async def test_two_reviewers_then_a_dispute_and_a_tie_breaker(
        client: httpx.AsyncClient, trained: Trained, store: Database) -> None:
    [p] = (await predict_many(client, trained.frame, 1))["predictions"]
    a = await nxt(client, "ana")
    assert a is not None
    assert (await nxt(client, "bo")) is None  # claimed by ana: nothing else for bo
    r = await decide(client, a["id"], "ana", "good")
    assert r.json()["item"]["status"] == "open"  # needs a second reviewer
    assert (await nxt(client, "ana")) is None  # ana already labelled it
    b = await nxt(client, "bo")
    assert b is not None
    assert b["id"] == p["id"]
    r = await decide(client, b["id"], "bo", "bad")
    assert r.json()["item"]["status"] == "disputed"
    assert store.feedback.list_feedback(p["id"]) == []  # no label until the dispute is settled
    listed = (await client.get(f"{REVIEW}/items", params={"status": "disputed"})).json()
    assert [i["id"] for i in listed["items"]] == [p["id"]]
    c = await nxt(client, "cy")
    r = await decide(client, c["id"] if c else "", "cy", "good")
    assert r.json()["item"]["status"] == "decided"
    assert r.json()["item"]["decided_by"] == "consensus"
    assert [f.value for f in store.feedback.list_feedback(p["id"])] == ["good"]
    agreement = (await client.get(f"{REVIEW}/agreement")).json()
    assert agreement["items_with_several_reviewers"] == 1
    assert agreement["labels"]["n_ratings"] == 3


@pytest.mark.parametrize("automation", [{"level": "ai_assist", "labels": ["good", "bad"],
                                         "claim_ttl": 1.0}], indirect=True)
async def test_bad_review_input_gets_a_clear_4xx(client: httpx.AsyncClient, trained: Trained,
                                                 store: Database) -> None:
    await predict_many(client, trained.frame, 2)
    item = await nxt(client, "ana")
    assert item is not None
    r = await decide(client, item["id"], "ana", "maybe")
    assert r.status_code == 422
    assert r.json()["field"] == "label"
    assert "'good', 'bad', 'uncertain'" in r.json()["fix"]
    r = await client.post(f"{REVIEW}/items/{item['id']}/decide", json={"label": "good"})
    assert r.status_code == 422
    assert r.json()["field"] == "reviewer"
    r = await decide(client, "nope", "ana", "good")
    assert r.status_code == 404
    assert r.json()["field"] == "review_id"
    r = await decide(client, item["id"], "bo", "good")
    assert r.status_code == 409
    assert "claimed by 'ana'" in r.json()["message"]
    assert (await decide(client, item["id"], "ana", "good")).status_code == 200
    r = await decide(client, item["id"], "ana", "bad")
    assert r.status_code == 409
    assert "already decided" in r.json()["message"]
    assert r.json()["field"] == "review_id"
    other = await nxt(client, "ana")
    assert other is not None
    await asyncio.sleep(1.1)  # the 1 s claim expires
    r = await decide(client, other["id"], "ana", "good")
    assert r.status_code == 409
    assert "expired" in r.json()["message"]
    assert "claim it again" in r.json()["fix"]
    r = await client.post(f"{REVIEW}/items/{other['id']}/claim", json={"reviewer": "ana"})
    assert r.status_code == 200
    r = await client.get(f"{REVIEW}/items", params={"status": "maybe"})
    assert r.status_code == 422
    assert r.json()["field"] == "status"
    r = await client.post("/v1/models/nope/review/next", headers={"x-reviewer": "ana"})
    assert r.status_code == 404


@pytest.mark.parametrize("automation", [{"level": "ai_assist", "labels": ["good", "bad"]}],
                         indirect=True)
async def test_skip_adjudicate_and_uncertain(client: httpx.AsyncClient, trained: Trained,
                                             store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 3))["predictions"]
    first = await nxt(client, "ana")
    assert first is not None
    r = await client.post(f"{REVIEW}/items/{first['id']}/skip", json={"reviewer": "ana"})
    assert r.status_code == 200
    assert r.json()["item"]["claimed_by"] is None
    second = await nxt(client, "ana")
    assert second is not None
    assert second["id"] != first["id"]
    r = await decide(client, second["id"], "ana", "uncertain")
    assert r.json()["item"]["status"] == "uncertain"
    assert store.feedback.list_feedback(second["id"]) == []  # nobody could tell: no label
    r = await client.post(f"{REVIEW}/items/{preds[2]['id']}/adjudicate",
                          json={"label": "bad"})
    assert r.status_code == 401
    r = await client.post(f"{REVIEW}/items/{preds[2]['id']}/adjudicate",
                          json={"label": "bad", "reviewer": "lead"},
                          headers={"authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    assert r.json()["item"]["decided_by"] == "adjudicator:admin:env"  # who, not a typed name
    assert [f.value for f in store.feedback.list_feedback(preds[2]["id"])] == ["bad"]
    m = (await client.get(f"{BASE}/automation")).json()
    assert m["level"] == "ai_assist"
    assert m["automation_rate"] == 0.0
    assert m["queue_length"] == 1
    assert m["by_status"]["uncertain"] == 1


async def test_review_page_and_metrics_endpoint(client: httpx.AsyncClient, trained: Trained,
                                                store: Database) -> None:
    await predict_many(client, trained.frame, 40)
    r = await client.get("/review")
    assert r.status_code == 200
    assert '/review/credit' in r.text
    r = await client.get("/review/credit")
    assert r.status_code == 200
    assert "Review queue" in r.text
    assert 'data-model="credit"' in r.text
    assert "http://" not in r.text
    assert "https://" not in r.text
    assert (await client.get("/review/nope")).status_code == 404
    # answered is counted in the log: wait for the writer (a loaded run was slower)
    assert client.app.state.rampup.writer.flush(10.0)  # type: ignore[attr-defined]
    m = (await client.get(f"{BASE}/automation")).json()
    assert m["answered"] == 40
    assert 0 < m["automation_rate"] < 1
    assert m["queue_length"] == m["routed_to_humans"]
    prom = (await client.get("/metrics")).text
    assert 'rampup_automation_decisions_total{model="credit",status="decided"}' in prom
    assert "rampup_review_items_queued_total" in prom
