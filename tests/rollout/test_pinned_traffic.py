"""Pinned traffic (a version asked for by path) is logged as ``pinned`` and stays out of
every decision: rollout windows and the routed policy's monitor metrics.

Through the real app on both stores (the ``store`` fixture). Before this, 150 pinned
requests per version made a canary step pass with no routed traffic at all.
"""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa

from rampup.rollout.plan import Plan, Step
from rampup.store import schema as t
from tests.rollout.conftest import AUTH, Harness

PINNED_PER_VERSION = 150


def canary_plan() -> Plan:
    return Plan(strategy="canary", checks=["error_rate <= baseline + 0.5"],
                steps=[Step(kind="canary", weight=w, min_duration_s=0, min_requests=50)
                       for w in (30, 100)])


async def pinned(harness: Harness, version: str, n: int, *, v2: bool = False,
                 headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """n requests to the version-pinned path (V1 or the V2 protocol)."""
    out: list[httpx.Response] = []
    for start in range(0, n, 25):
        out += await asyncio.gather(*(
            harness.client.post(f"/v2/models/m/versions/{version}/infer", headers=headers,
                                json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64",
                                                  "data": [(start + i) / n]}]})
            if v2 else
            harness.client.post(f"/v1/models/m/versions/{version}/predict", headers=headers,
                                json={"x": (start + i) / n})
            for i in range(min(25, n - start))))
    state = harness.app.state.rampup  # type: ignore[attr-defined]
    assert await asyncio.to_thread(state.writer.flush, 10.0)
    return out


def roles(harness: Harness) -> dict[tuple[str, str], int]:
    with harness.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.predictions.c.version, t.predictions.c.role,
                                      sa.func.count()).where(t.predictions.c.model == "m")
                            .group_by(t.predictions.c.version, t.predictions.c.role)).all()
    return {(v, r): int(n) for v, r, n in rows}


async def test_pinned_requests_never_make_a_canary_step_pass(harness: Harness) -> None:
    harness.register("v2", "Candidate")
    r = harness.rollouts.deploy("m", "v2", plan=canary_plan())
    assert r is not None
    await harness.refresh()
    for version in ("v1", "v2"):
        half = PINNED_PER_VERSION // 2
        got = await pinned(harness, version, half) + \
            await pinned(harness, version, PINNED_PER_VERSION - half, v2=True)
        assert all(x.status_code == 200 for x in got), got[0].text
        assert {x.headers["x-route"] for x in got} == {f"{version}; pinned"}
    assert roles(harness) == {("v1", "pinned"): PINNED_PER_VERSION,
                              ("v2", "pinned"): PINNED_PER_VERSION}
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.rollout is not None
    assert (status.rollout.state, status.rollout.step) == ("canary", 0)
    check = status.checks[0]
    assert check["verdict"] == "wait"
    assert check["results"][0]["n"] == 0  # not one of the pinned requests counted
    # routed traffic does count, and the step then passes on it
    await harness.traffic(400, seed=5, label=False)
    await harness.tick()
    status = harness.rollouts.status("m")
    assert status.rollout is not None
    assert status.rollout.step == 1 or status.rollout.state == "promoted"


async def test_pinned_requests_stay_out_of_the_routed_monitor_metrics(
        harness: Harness) -> None:
    await pinned(harness, "v1", 40)
    await harness.traffic(30, seed=6, label=False)
    failed = await harness.client.post("/v1/models/m/versions/v1/predict", json={"x": "no"})
    assert failed.status_code == 500  # the model raised: a logged, failed prediction
    bad = await harness.client.post("/v1/models/m/versions/v1/predict", content=b"{nope")
    assert bad.status_code == 400  # refused before the model: counted as an error
    state = harness.app.state.rampup  # type: ignore[attr-defined]

    def requests(role: str) -> int:
        state.monitor.process()
        return sum(agg.requests for k, agg in state.monitor.snapshot("m").items()
                   if k.role == role)

    for _ in range(200):  # the monitor takes records off its intake in the background
        if requests("pinned") == 42 and requests("answer") == 30:
            break
        await asyncio.sleep(0.02)
    assert requests("answer") == 30
    assert requests("pinned") == 42  # 40 answered, 1 failed, 1 refused: under their role
    r = await harness.client.get("/v1/models/m/metrics", params={
        "metric": "requests", "role": "pinned", "step": "1h"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "pinned"


async def test_pinning_a_version_that_is_not_deployed_needs_the_admin_token(
        harness: Harness) -> None:
    harness.register("v3", "Successor")
    r = await harness.client.post("/v1/models/m/versions/v3/predict", json={"x": 0.2})
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["field"] == "version"
    assert "not deployed" in body["message"]
    assert "admin token" in body["message"]
    r = await harness.client.post("/v2/models/m/versions/v3/infer", json={"inputs": [
        {"name": "x", "shape": [1], "datatype": "FP64", "data": [0.2]}]})
    assert r.status_code == 401, r.text
    r = await harness.client.post("/v1/models/m/versions/v3/predict", json={"x": 0.2},
                                  headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["x-route"] == "v3; pinned"
    # the deployed version needs no more than a prediction does
    r = await harness.client.post("/v1/models/m/versions/v1/predict", json={"x": 0.2})
    assert r.status_code == 200, r.text
    # a version forced by header is pinned traffic too
    r = await harness.client.post("/v1/models/m/predict", json={"x": 0.2},
                                  headers={**AUTH, "x-rampup-route": "v3"})
    assert r.status_code == 200, r.text
    state = harness.app.state.rampup  # type: ignore[attr-defined]
    assert await asyncio.to_thread(state.writer.flush, 10.0)
    assert roles(harness) == {("v3", "pinned"): 2, ("v1", "pinned"): 1}
