"""Issue 14, "normalised at the edge": values nothing downstream could hold are a 4xx
naming the field and the fix on every route that takes a body (predict v1 and V2, array
bodies, feedback, admin), and the server keeps serving and logging afterwards."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.serving.conftest import ADMIN, Trained, client, record, registry

__all__ = ["client", "registry"]
AUTH = {"authorization": f"Bearer {ADMIN}"}
JSON = {"content-type": "application/json"}
HUGE = "1" + "0" * 30
DIGITS_401 = "9" * 401


def _with(good: Any, field: str, raw: str) -> bytes:
    """``good`` as JSON with ``field``'s value replaced by the raw JSON text ``raw``."""
    return _raw({**good, field: "__X__"}, raw)


def _raw(doc: Any, raw: str) -> bytes:
    """``doc`` as JSON with every ``"__X__"`` replaced by the raw JSON text ``raw``."""
    return json.dumps(doc).replace('"__X__"', raw).encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _check(r: httpx.Response, field: str, *words: str) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body["field"] == field, body
    assert body["fix"], body
    for w in words:
        assert w in body["message"], body
    return body


PREDICT_CASES = {
    # name: (raw value for one field, field, status, words in the message)
    "int beyond int64": ("age", HUGE, 422, ("64-bit",)),
    "401-digit int for a float": ("score", DIGITS_401, 422, ("64-bit",)),
    "u64 int": ("age", str(2**64 - 1), 422, ("64-bit",)),
    "float overflow": ("income", "1e400", 422, ("overflows",)),
    "negative float overflow": ("income", "-1e400", 422, ("overflows",)),
    "NaN": ("income", "NaN", 422, ("NaN",)),
    "Infinity": ("score", "-Infinity", 422, ("-Infinity",)),
    "lone surrogate": ("city", '"\\ud800"', 422, ("surrogate",)),
    "NUL character": ("city", '"ro\\u0000me"', 422, ("NUL",)),
    "float that is a huge whole number for an int feature": ("age", "1e30", 422, ("64-bit",)),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
async def test_predict_names_the_field(client: httpx.AsyncClient, trained: Trained,
                                       case: str) -> None:
    field, raw, status, words = PREDICT_CASES[case]
    good = record(trained.frame, 0)
    r = await client.post("/v1/models/credit/predict", content=_with(good, field, raw),
                          headers=JSON)
    assert r.status_code == status, r.text
    _check(r, field, *words)
    # an array body names the record too
    body = b"[" + json.dumps(good).encode() + b"," + _with(good, field, raw) + b"]"
    r = await client.post("/v1/models/credit/predict", content=body, headers=JSON)
    assert r.json()["record"] == 1, r.text
    _check(r, field, *words)
    ok = await client.post("/v1/models/credit/predict", json=good)
    assert ok.status_code == 200, ok.text


async def test_bom_depth_and_bad_utf8_are_400(client: httpx.AsyncClient,
                                              trained: Trained) -> None:
    good = json.dumps(record(trained.frame, 0)).encode()
    r = await client.post("/v1/models/credit/predict", content=b"\xef\xbb\xbf" + good,
                          headers=JSON)
    assert r.status_code == 400
    assert "byte order mark" in _check(r, "body")["message"]
    for depth in (65, 1025, 5000):  # 1,025 levels raised RecursionError (500) before
        r = await client.post("/v1/models/credit/predict", content=_nested(depth).encode(),
                              headers=JSON)
        assert r.status_code == 400, r.text
        assert "64 levels" in _check(r, "body")["message"]
    r = await client.post("/v1/models/credit/predict", content=b'{"city": "\xed\xa0\x80"}',
                          headers=JSON)
    assert r.status_code == 400
    assert "UTF-8" in _check(r, "body")["message"]
    counted = (await client.get("/metrics")).text
    assert 'rampup_errors_total{kind="malformed_request",model="credit",version="-"}' in counted


async def test_the_depth_limit_is_a_setting(tmp_path: Any, store: Any, trained: Trained,
                                            registry: Any) -> None:
    from rampup.serving.app import create_app
    from tests.serving.conftest import make_settings

    app = create_app(make_settings(tmp_path, max_json_depth=3), store=store)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as c:
        good = record(trained.frame, 0)
        assert (await c.post("/v1/models/credit/predict", json=[good])).status_code == 200
        r = await c.post("/v1/models/credit/predict", json=[{**good, "x": [[1]]}])
        assert r.status_code == 400
        assert "3 levels" in r.json()["message"]


async def test_v2_infer_names_the_tensor_value(client: httpx.AsyncClient) -> None:
    body = _raw({"inputs": [{"name": "age", "shape": [1], "datatype": "INT64",
                             "data": ["__X__"]}]}, HUGE)
    r = await client.post("/v2/models/credit/infer", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == "inputs[0].data[0]"
    assert "64-bit" in err["error"]
    r = await client.post("/v2/models/credit/infer", content=_nested(2000).encode(),
                          headers=JSON)
    assert r.status_code == 400, r.text


async def _predicted(client: httpx.AsyncClient, trained: Trained) -> str:
    r = await client.post("/v1/models/credit/predict", json=record(trained.frame, 3))
    assert r.status_code == 200
    rid: str = r.json()["request_id"]
    return rid


@pytest.mark.parametrize(("raw", "field", "word"), [
    (HUGE, "label", "64-bit"), ("NaN", "label", "NaN"), ("Infinity", "label", "Infinity"),
    ("1e999", "label", "overflows"), ('"\\udfff"', "label", "surrogate"),
    ('{"a": "\\u0000"}', "label.a", "NUL")])
async def test_feedback_label_names_the_field(client: httpx.AsyncClient, trained: Trained,
                                              raw: str, field: str, word: str) -> None:
    rid = await _predicted(client, trained)
    r = await client.post("/v1/models/credit/feedback", headers=JSON,
                          content=_with({"request_id": rid}, "label", raw))
    _check(r, field, word)
    assert r.status_code == 422
    ok = await client.post("/v1/models/credit/feedback", json={"request_id": rid, "label": 1})
    assert ok.json() == {"accepted": 1, "duplicates": 0}


async def test_feedback_event_value_and_array_bodies(client: httpx.AsyncClient,
                                                     trained: Trained) -> None:
    rid = await _predicted(client, trained)
    body = _raw({"request_id": rid, "events": [{"name": "clicked", "value": "__X__"}]}, HUGE)
    r = await client.post("/v1/models/credit/feedback", content=body, headers=JSON)
    _check(r, "events[0].value", "64-bit")
    body = _raw([{"request_id": rid, "label": 1}, {"request_id": rid, "label": "__X__"}], "NaN")
    r = await client.post("/v1/models/credit/feedback", content=body, headers=JSON)
    assert _check(r, "label", "NaN")["record"] == 1
    r = await client.post("/v1/models/credit/feedback", content=_nested(1025).encode(),
                          headers=JSON)
    assert r.status_code == 400
    _check(r, "body", "levels deep")


async def test_admin_bodies_and_ids(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/admin/models/credit/deployment", headers={**AUTH, **JSON},
                         content=b'{"routes": {"v1": 100}, "based_on": %s}' % HUGE.encode())
    _check(r, "based_on", "64-bit")
    r = await client.put("/v1/admin/models/credit/deployment", headers=AUTH,
                         json={"routes": {"v1": 100}, "based_on": 2**40})
    _check(r, "based_on")
    r = await client.post("/v1/admin/models/credit/rollout/pause", headers=AUTH,
                          json={"rollout_id": 2**40, "revision": 2**40})
    _check(r, "rollout_id")
    r = await client.post("/v1/admin/models/credit/versions", headers={**AUTH, **JSON},
                          content=_nested(1025).encode())
    assert r.status_code == 400
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                          json={"path": ""})
    _check(r, "path")
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                          json={"path": "/nonexistent/model.joblib"})
    assert r.status_code in (404, 422), r.text
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                          json={"path": "/etc/hostname", "flavor": "no-such-flavor"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == "flavor"
    for path in ("/v1/models/credit/retrain/runs/" + HUGE,
                 "/v1/models/credit/retrain/runs/" + str(2**63),
                 "/v1/models/credit/retrain/runs/" + str(2**31)):  # PostgreSQL's integer
        r = await client.get(path, headers=AUTH)
        _check(r, "run_id")
        assert r.status_code == 422
    r = await client.post("/v1/models/credit/retrain/runs/" + HUGE + "/approve",
                          headers=AUTH)
    assert r.status_code == 422, r.text


def test_every_route_with_a_body_parses_at_the_edge(tmp_path: Any) -> None:
    """A router added later without ``route_class=EdgeRoute`` would let FastAPI parse its
    bodies (NaN, huge integers, RecursionError); this keeps every one on the edge."""
    from fastapi.routing import APIRoute

    from rampup.serving.app import create_app
    from rampup.serving.jsonbody import EdgeRoute
    from tests.serving.conftest import make_settings

    app = create_app(make_settings(tmp_path))
    routes: list[Any] = []
    for r in app.routes:  # FastAPI keeps an included router whole (original_router)
        inner = getattr(r, "original_router", None)
        routes.extend(inner.routes if inner is not None else [r])
    with_body = [r for r in routes if isinstance(r, APIRoute)
                 and r.methods & {"POST", "PUT", "PATCH"}]
    assert len(with_body) >= 15
    assert [r.path for r in with_body if not isinstance(r, EdgeRoute)] == []


async def test_a_nul_in_the_url_is_422(client: httpx.AsyncClient) -> None:
    """PostgreSQL refuses NUL in a query parameter: a review filter, a model name or a
    pinned version with %00 would reach the store and raise there (a 500)."""
    r = await client.get("/v1/models/credit/review/items?status=open&reason=a%00b")
    _check(r, "reason", "NUL")
    r = await client.post("/v1/models/credit/versions/v%001/predict", json={})
    _check(r, "path", "NUL")
    assert (await client.get("/v1/models/credit/review/items?status=open")).status_code == 200
