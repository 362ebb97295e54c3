"""Issue 14 through the real app: hostile records never stop logging, and every
background worker that dies is named by /readyz (503), restarted, and ready again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.config import Settings
from rampup.project import ProjectFile, parse_project
from rampup.serving.state import AppState
from rampup.store import Database
from tests.retrain.conftest import retrain_section
from tests.serving.conftest import ADMIN, Trained, client, make_settings, record, registry

__all__ = ["client", "registry"]
AUTH = {"authorization": f"Bearer {ADMIN}"}
WORKERS = ["alert-evaluator", "alert-notifier", "deployment-poller", "log-writer", "monitor",
           "retrain", "review-writer", "rollout-controller"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, controller=True, controller_interval=0.1,
                         alerts_interval=0.1, retrain_interval=0.1, monitor_interval=0.02,
                         monitor_flush_interval=0.05, worker_restart_initial=0.05,
                         worker_restart_max=0.2)


@pytest.fixture
def project(trained: Trained) -> ProjectFile:
    """Every worker runs: a retraining section, partial automation (review items)."""
    return parse_project({"models": {"credit": {
        "retrain": retrain_section(reference=str(trained.reference_path)),
        "automation": {"level": "partial", "threshold": 0.99}}}})


def state_of(c: httpx.AsyncClient) -> AppState:
    st: AppState = c.app.state.rampup  # type: ignore[attr-defined]
    return st


async def until(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def logged(c: httpx.AsyncClient, ids: list[str]) -> int:
    st = state_of(c)
    await asyncio.to_thread(st.writer.flush, 30.0)
    return len(await asyncio.to_thread(st.store.predictions.existing_prediction_ids, ids))


REPRODUCERS = {
    # the three, adapted to this model's features (age int, score float, city)
    "bom and huge int": lambda good: b"\xef\xbb\xbf" + _with(good, "age", "10" + "0" * 30),
    "401-digit int": lambda good: _with(good, "score", "9" * 401),
    "lone surrogate": lambda good: _with(good, "city", '"\\ud800"'),
}


def _with(good: dict[str, Any], field: str, raw: str) -> bytes:
    import json

    body = json.dumps({**good, field: "__X__"})
    return body.replace('"__X__"', raw).encode()


@pytest.mark.parametrize("name", list(REPRODUCERS))
async def test_a_hostile_request_never_stops_logging(client: httpx.AsyncClient,
                                                     trained: Trained, name: str) -> None:
    good = record(trained.frame, 0)
    # as a real server answers: an exception in the app is a 500, not a raise in the test
    transport = httpx.ASGITransport(app=client.app,  # type: ignore[attr-defined]
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as raw:
        bad = await raw.post("/v1/models/credit/predict", content=REPRODUCERS[name](good),
                             headers={"content-type": "application/json"})
    assert bad.status_code != 503, bad.text  # whatever the edge says, the server stands
    for _round in range(2):  # and stays standing: the same again, then ordinary traffic
        ids = []
        for i in range(20):
            r = await client.post("/v1/models/credit/predict", json=record(trained.frame, i))
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        assert await logged(client, ids) == 20
    st = state_of(client)
    assert st.supervisor.down() == {}
    assert st.writer.stats.dropped == 0
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    if bad.status_code == 200:  # accepted: logged too, escaped, and a dead letter says so
        rid = bad.json()["request_id"]
        assert await logged(client, [rid]) == 1
        letters = await asyncio.to_thread(st.store.dead_letters.list_dead_letters,
                                          worker="log-writer")
        assert [d["key"] for d in letters] == [rid]


async def test_every_worker_that_dies_is_named_by_readyz_and_comes_back(
        client: httpx.AsyncClient, trained: Trained) -> None:
    st = state_of(client)

    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await until(ready)
    # PostgreSQL also keeps the log's partitions made ahead (store/partitions.py)
    extra = ["log-partitions"] if st.store.dialect == "postgresql" else []
    assert sorted(st.supervisor.workers) == sorted(WORKERS + extra)
    for n, name in enumerate(WORKERS):
        handle = st.supervisor.workers[name]
        handle.inject(RuntimeError(f"fault injected into {name}"))

        async def named(name: str = name) -> bool:
            r = await client.get("/readyz")
            return r.status_code == 503 and name in r.json()["workers_down"]

        await until(named)
        body = (await client.get("/readyz")).json()
        assert f"fault injected into {name}" in body["workers_down"][name]
        assert f"{name}: " in body["message"]
        metrics = (await client.get("/metrics")).text
        assert f'rampup_worker_up{{worker="{name}"}} 0.0' in metrics
        # serving goes on meanwhile
        r = await client.post("/v1/models/credit/predict", json=record(trained.frame, n))
        assert r.status_code == 200
        handle.inject(None)
        await until(ready)
        assert st.supervisor.workers[name].health.restarts >= 1
        metrics = (await client.get("/metrics")).text
        assert f'rampup_worker_up{{worker="{name}"}} 1.0' in metrics
        restarts = [line for line in metrics.splitlines()
                    if line.startswith(f'rampup_worker_restarts_total{{worker="{name}"}}')]
        assert restarts
        assert float(restarts[0].split()[-1]) >= 1
    # nothing was lost on the way: every answered prediction is in the log
    ids = []
    for i in range(10):
        r = await client.post("/v1/models/credit/predict", json=record(trained.frame, i))
        ids.append(r.json()["request_id"])
    assert await logged(client, ids) == 10
    assert st.writer.stats.dropped == 0


async def test_dead_letters_are_visible_to_admins(client: httpx.AsyncClient,
                                                  store: Database) -> None:
    st = state_of(client)
    assert st.dead_letters is not None
    st.dead_letters.add("log-writer", "TypeError: Integer exceeds 64-bit range",
                        {"age": 10**30}, key="abc", model="credit")
    assert (await client.get("/v1/admin/dead-letters")).status_code == 401
    r = await client.get("/v1/admin/dead-letters", params={"worker": "log-writer"},
                         headers=AUTH)
    assert r.status_code == 200, r.text
    (letter,) = r.json()["dead_letters"]
    assert letter["key"] == "abc"
    assert "1000000000000000000000000000000" in letter["payload"]
    assert r.json()["counts"] == {"log-writer": 1}
