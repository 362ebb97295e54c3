"""A large request is checked and answered in parts, with turns of the event loop
between them: the same answers, the same problems, and small requests are not held."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from rampup.serving import calls
from tests.serving.conftest import Trained, record

BASE = "/v1/models/credit"


async def test_a_large_request_answers_in_order_like_small_ones(
        client: httpx.AsyncClient, trained: Trained) -> None:
    n = 3 * calls.LARGE_REQUEST + 7  # four parts, the last one short
    records = [record(trained.frame, i) for i in range(n)]
    r = await client.post(f"{BASE}/predict", json=records)
    assert r.status_code == 200, r.text
    got = [p["probabilities"]["1"] for p in r.json()["predictions"]]
    want = trained.model.predict_proba(trained.frame.drop(columns="y").iloc[:n])[:, 1]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert [p["id"] for p in r.json()["predictions"]] == [
        f"{r.json()['request_id']}-{i}" for i in range(n)]


async def test_problems_in_a_late_part_are_named_with_their_record_number(
        client: httpx.AsyncClient, trained: Trained) -> None:
    n = 3 * calls.LARGE_REQUEST
    records = [record(trained.frame, i) for i in range(n)]
    late, early = 2 * calls.LARGE_REQUEST + 5, 3
    records[late]["age"] = "old"
    r = await client.post(f"{BASE}/predict", json=records)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [(p["record"], p["field"]) for p in problems] == [(late, "age")]
    records[early]["city"] = 7  # problems in two parts: both listed, in record order
    r = await client.post(f"{BASE}/predict", json=records)
    assert [(p["record"], p["field"]) for p in r.json()["problems"]] == [
        (early, "city"), (late, "age")]


async def test_small_requests_are_answered_while_a_large_one_is_on_its_way(
        client: httpx.AsyncClient, trained: Trained) -> None:
    """The large request yields between its steps: a single record sent right after it
    is answered before it (it would otherwise wait for the whole large request)."""
    records = [record(trained.frame, i % 500) for i in range(4 * calls.LARGE_REQUEST)]
    order: list[str] = []

    async def post(name: str, body: object) -> None:
        r = await client.post(f"{BASE}/predict", json=body)
        assert r.status_code == 200
        order.append(name)

    await asyncio.gather(post("large", records), post("small", record(trained.frame, 0)))
    assert order == ["small", "large"]
