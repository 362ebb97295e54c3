"""Alerts in the real app: the admin API on both stores, and an alarm driven by real
traffic through the real monitor (pending → firing → resolved, webhook received by a
local server); a hanging notifier does not slow predictions."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rampup.project import ProjectFile, parse_project
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from tests.alerts.conftest import Receiver
from tests.serving.conftest import ADMIN, Trained, make_settings, record, trained

__all__ = ["trained"]
AUTH = {"authorization": f"Bearer {ADMIN}"}
BASE = "/v1/admin/models/credit/alerts"


def fast_settings(tmp_path: Path, **kw: Any) -> Any:
    return make_settings(tmp_path, monitor_interval=0.01, monitor_flush_interval=0.05,
                         monitor_window_s=1.0, alerts_interval=0.05, **kw)


@asynccontextmanager
async def serve(store: Database, tmp_path: Path, trained: Trained, project: ProjectFile,
                **kw: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = fast_settings(tmp_path, **kw)
    Registry.from_settings(settings, store).register(
        "credit", trained.model_path, reference=trained.reference_path, label_column="y")
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rampup") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def test_admin_api(store: Database, tmp_path: Path, trained: Trained) -> None:
    project = parse_project({
        "alerting": {"notifiers": {"ops": {"type": "log"}}},
        "models": {"credit": {"alerts": [
            {"name": "errors", "condition": "error_rate > 0.5 for 1m", "notify": ["ops"]}]}}})
    async with serve(store, tmp_path, trained, project, alerts=False) as c:
        assert (await c.get(BASE)).status_code == 401
        body = (await c.get(BASE, headers=AUTH)).json()
        assert [(r["name"], r["source"], r["state"]) for r in body["rules"]] == [
            ("errors", "project", "ok")]
        new = {"name": "slow", "condition": "latency_p99 > 500", "for": "30s",
               "severity": "critical", "actions": ["pause_rollout"], "version": "v1"}
        r = await c.post(BASE, json=new, headers={**AUTH, "x-rampup-actor": "alice"})
        assert r.status_code == 201, r.text
        assert r.json()["rule"]["for_s"] == 30.0
        assert (await c.post(BASE, json=new, headers=AUTH)).status_code == 409
        assert (await c.post(BASE, params={"replace": "true"}, json=new,
                             headers=AUTH)).status_code == 201
        bad = await c.post(BASE, json={"name": "x", "condition": "latency > 1"}, headers=AUTH)
        assert bad.status_code == 422
        assert "unknown metric 'latency'" in bad.json()["message"]
        unknown = await c.post(BASE, json={**new, "name": "y", "notify": ["pager"]},
                               headers=AUTH)
        assert unknown.status_code == 422
        assert "unknown notifier(s) pager (known: log, ops)" in unknown.json()["message"]
        r = await c.post(f"{BASE}/slow/disable", headers=AUTH)
        assert r.json()["rule"]["enabled"] is False
        read = (await c.get("/v1/models/credit/alerts")).json()
        assert {a["name"]: a["state"] for a in read["alerts"]} == {"errors": "ok",
                                                                   "slow": "disabled"}
        assert read["counts"] == {"ok": 1, "disabled": 1}
        await c.post(f"{BASE}/slow/enable", headers=AUTH)
        tried = await c.post(f"{BASE}/slow/test", headers=AUTH)
        assert tried.json() == {"rule": "slow", "model": "credit",
                                "condition": "latency_p99 > 500", "value": None,
                                "breached": False,
                                "message": "latency_p99 [v1] has no data over 5m"}
        await c.post("/v1/models/credit/predict", json=record(trained.frame, 0))
        deadline = time.time() + 10
        while time.time() < deadline:
            tried = await c.post(f"{BASE}/test", headers=AUTH,
                                 json={"name": "t", "condition": "requests >= 1"})
            if tried.json()["breached"]:
                break
            await asyncio.sleep(0.05)
        assert tried.json()["value"] == 1.0
        assert (await c.delete(f"{BASE}/errors", headers=AUTH)).status_code == 409
        assert (await c.delete(f"{BASE}/slow", headers=AUTH)).json()["removed"]["name"] == "slow"
        assert (await c.delete(f"{BASE}/slow", headers=AUTH)).status_code == 404
        assert (await c.post(f"{BASE}/nope/enable", headers=AUTH)).status_code == 404
        hist = await c.get(f"{BASE}/history", params={"kind": ["state"]}, headers=AUTH)
        assert hist.json()["events"] == []
        events = [e.action for e in store.events.list_events("credit")]
        assert {"alert_rule_added", "alert_rule_disabled", "alert_rule_removed"} <= set(events)


async def drive(client: httpx.AsyncClient, trained: Trained, bad_share: float,
                until: Callable[[], bool], timeout: float, seed: int) -> list[float]:
    """Send requests (a share of them invalid) until ``until()``; returns latencies."""
    rng = np.random.default_rng(seed)
    deadline = time.monotonic() + timeout
    latencies = []
    while time.monotonic() < deadline and not until():
        for _ in range(10):
            bad = rng.random() < bad_share
            body = {"age": "old"} if bad else record(trained.frame, int(rng.integers(0, 500)))
            t0 = time.perf_counter()
            r = await client.post("/v1/models/credit/predict", json=body)
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == (422 if bad else 200), r.text
        await asyncio.sleep(0.01)
    return latencies


async def test_alarm_fires_and_resolves_on_real_traffic(sqlite_store: Database, tmp_path: Path,
                                                        trained: Trained,
                                                        receiver: Receiver) -> None:
    project = parse_project({
        "alerting": {"base_url": "http://dash.example",
                     "notifiers": {"hook": {"type": "webhook", "url": receiver.url}}},
        "models": {"credit": {"alerts": [{
            # 2 s over 1 s monitor windows: a full window plus the current one, so a window
            # that has just begun (a few records, maybe all good) cannot resolve the alarm
            "name": "errors", "condition": "error_rate > 0.3 for 500ms", "window": "2s",
            "severity": "critical", "notify": ["hook", "log"], "cooldown": "1h"}]}}})
    async with serve(sqlite_store, tmp_path, trained, project) as c:
        seen: list[str] = []

        def state_is(*wanted: str) -> Callable[[], bool]:
            def check() -> bool:
                states = sqlite_store.alerts.alert_states("credit")
                s = states.get(("credit", "errors"), {}).get("state", "ok")
                if not seen or seen[-1] != s:
                    seen.append(s)
                return s in wanted
            return check

        await drive(c, trained, 0.0, lambda: False, timeout=1.0, seed=1)
        assert state_is("ok")()
        await drive(c, trained, 0.8, state_is("firing"), timeout=20, seed=2)
        [firing] = receiver.wait_for(1)
        await drive(c, trained, 0.0, state_is("ok"), timeout=20, seed=3)
        resolved = receiver.wait_for(2)[1]
        read = (await c.get("/v1/models/credit/alerts")).json()["alerts"][0]
    assert seen[:3] == ["ok", "pending", "firing"]
    assert seen[-1] == "ok"
    assert firing["state"] == "firing"
    assert firing["value"] > 0.3
    assert firing["links"]["alerts"] == "http://dash.example/v1/models/credit/alerts"
    assert resolved["state"] == "resolved"
    assert resolved["started_at"] == firing["started_at"]
    assert resolved["value"] <= 0.3
    assert read["state"] == "ok"
    history = sqlite_store.alerts.list_alert_events("credit", "errors", oldest_first=True,
                                                    limit=None)
    states = [e["state"] for e in history if e["kind"] == "state"]
    assert states == ["pending", "firing", "resolved", "ok"]
    notified = sorted((e["state"], e["details"]["notifier"]) for e in history
                      if e["kind"] == "notified")
    assert notified == [("firing", "hook"), ("firing", "log"), ("resolved", "hook"),
                        ("resolved", "log")]


async def test_a_hanging_notifier_does_not_slow_predictions(sqlite_store: Database,
                                                            tmp_path: Path,
                                                            trained: Trained) -> None:
    hang = [sys.executable, "-c", "import time; time.sleep(30)"]
    project = parse_project({"alerting": {"notify_workers": 2, "notifiers": {
        "stuck": {"type": "command", "command": hang, "timeout": "1s"}}}})
    async with serve(sqlite_store, tmp_path, trained, project) as c:
        before = await drive(c, trained, 0.0, lambda: False, timeout=1.0, seed=4)
        r = await c.post(BASE, headers=AUTH, json={
            "name": "always", "condition": "requests >= 0", "notify": ["stuck"],
            "cooldown": "0s", "window": "10s"})
        assert r.status_code == 201

        def failing() -> bool:
            return len(sqlite_store.alerts.list_alert_events("credit", "always",
                                                             kinds=["notify_failed"])) >= 2

        during = await drive(c, trained, 0.0, failing, timeout=20, seed=5)
        assert failing()
        stopping = time.monotonic()
    stopped_in = time.monotonic() - stopping
    # every pass re-notified into a command that hangs until it is killed: predictions
    # went on at the same speed
    assert np.median(during) < max(3 * np.median(before), 0.05)
    assert max(during) < 1.0
    failed = [e["message"] for e in sqlite_store.alerts.list_alert_events(
        "credit", "always", kinds=["notify_failed"], oldest_first=True)]
    assert "ran longer than 1 s and was killed" in failed[0]
    # the backlog did not hold up the stop: what was still queued was dropped (whether
    # anything was queued at that moment is a race), the hung commands were killed
    assert stopped_in < 3.0
    assert all(m == "stuck: dropped at shutdown" or "ran longer than 1 s" in m for m in failed)
