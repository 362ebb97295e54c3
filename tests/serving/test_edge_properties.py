"""Property tests of the JSON edge (issue 14): whatever JSON document or byte string a
client sends, predict, V2 infer and feedback answer 2xx or 4xx, never 5xx; and every
record a 200 accepted is in the prediction log once the writer has flushed (SQLite and
PostgreSQL alike)."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rampup.serving.state import AppState
from tests.serving.conftest import Trained, client, record, registry

pytestmark = pytest.mark.slow
FEATURES = ["age", "income", "score", "city"]
EXAMPLES = 120

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(["paris", "rome", "oslo", "\ud800", "a\x00b", ""]))
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FEATURES) | st.text(max_size=8), inner, max_size=5),
    max_leaves=25)
# records near the schema: every feature present, some with a hostile value
near = st.fixed_dictionaries({
    "age": st.integers(-(2**66), 2**66) | scalars,
    "income": st.floats(allow_nan=True, allow_infinity=True) | st.integers() | scalars,
    "score": st.none() | st.floats(-1e300, 1e300) | scalars,
    "city": st.sampled_from(["paris", "rome", "oslo"]) | st.text(max_size=10)})


def dumps(doc: Any) -> bytes:
    """JSON text as a careless client writes it: NaN/Infinity literals, huge integers,
    lone surrogates escaped."""
    return json.dumps(doc, allow_nan=True).encode()


def deep(depth: int) -> bytes:
    return b'{"age": ' + b"[" * depth + b"]" * depth + b"}"


bodies = (documents.map(dumps) | near.map(dumps) | st.lists(near, min_size=1, max_size=5)
          .map(dumps) | st.binary(max_size=200) | st.integers(1, 3000).map(deep)
          | near.map(lambda r: b"\xef\xbb\xbf" + dumps(r)))


__all__ = ["client", "registry"]
JSON = {"content-type": "application/json"}


@pytest.fixture
async def raw(client: httpx.AsyncClient) -> Any:
    """The app as a real server answers: an exception in it is a 500, not a raise here."""
    transport = httpx.ASGITransport(app=client.app,  # type: ignore[attr-defined]
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
        c.app = client.app  # type: ignore[attr-defined]
        yield c


def _state(c: httpx.AsyncClient) -> AppState:
    st_: AppState = c.app.state.rampup  # type: ignore[attr-defined]
    return st_


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
async def test_predict_never_answers_5xx_and_logs_what_it_accepts(raw: httpx.AsyncClient,
                                                                  body: bytes) -> None:
    r = await raw.post("/v1/models/credit/predict", content=body, headers=JSON)
    assert r.status_code < 500, (body[:200], r.status_code, r.text[:300])
    if r.status_code == 200:
        ids = [p["id"] for p in r.json()["predictions"]]
        state = _state(raw)
        assert await asyncio.to_thread(state.writer.flush, 30.0)
        assert len(state.store.predictions.existing_prediction_ids(ids)) == len(ids), body[:200]
    else:
        err = r.json()
        assert err["message"], err  # named, with a fix
        assert err["fix"], err


@settings(max_examples=EXAMPLES // 2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
async def test_v2_infer_and_feedback_never_answer_5xx(raw: httpx.AsyncClient,
                                                      body: bytes) -> None:
    for path in ("/v2/models/credit/infer", "/v1/models/credit/feedback"):
        r = await raw.post(path, content=body, headers=JSON)
        assert r.status_code < 500, (path, body[:200], r.status_code, r.text[:300])


@settings(max_examples=EXAMPLES // 2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(label=scalars | documents)
async def test_feedback_labels_are_stored_as_sent_or_refused(raw: httpx.AsyncClient,
                                                             trained: Trained,
                                                             label: Any) -> None:
    p = await raw.post("/v1/models/credit/predict", json=record(trained.frame, 1))
    rid = p.json()["request_id"]
    r = await raw.post("/v1/models/credit/feedback",
                       content=dumps({"request_id": rid, "label": label}), headers=JSON)
    assert r.status_code < 500, (label, r.text[:300])
    if r.status_code == 200 and label is not None:
        stored = [f.value for f in _state(raw).store.feedback.list_feedback(rid)
                  if f.kind == "label"]
        assert stored, label
        assert _same(stored[-1], label)  # never silently changed (NaN became null before)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, float) and isinstance(a, int | float):
        return math.isclose(a, b) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)
