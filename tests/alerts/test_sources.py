"""Drift metrics in alert rules: the drift package's check of the rule's window, computed
once per model and window and shared by the rules that read it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rampup.alerts.evaluator import AlertEvaluator
from rampup.alerts.notifiers import LogNotifier
from rampup.alerts.service import Alerts
from rampup.alerts.sources import AlertSource
from rampup.monitor.query import StoreMetricSource
from rampup.project import parse_project
from rampup.store import Database
from tests.alerts.conftest import Clock
from tests.alerts.test_app_alerts import serve
from tests.serving.conftest import Trained, record, trained

__all__ = ["trained"]


async def test_drift_metrics_fire_a_rule(sqlite_store: Database, tmp_path: Path,
                                         trained: Trained) -> None:
    async with serve(sqlite_store, tmp_path, trained, parse_project({}), alerts=False) as c:
        for i in range(400):  # applicants 30 years older than in training
            row = record(trained.frame, i)
            row["age"] = int(row["age"]) + 30  # type: ignore[call-overload]
            r = await c.post("/v1/models/credit/predict", json=row)
            assert r.status_code == 200, r.text
        state = c.app.state.rampup  # type: ignore[attr-defined]
        assert await asyncio.to_thread(state.writer.flush, 10.0)
        await asyncio.to_thread(state.monitor.process)
        await asyncio.to_thread(state.monitor.flush)
    clock = Clock(time.time() + 1)
    source = AlertSource(sqlite_store, StoreMetricSource(sqlite_store), clock=clock)
    first = source.drift_metrics("credit", None, 600.0)
    assert first["drift.dataset"] == 1.0
    assert first["drift.feature[age].drifted"] == 1.0
    assert first["drift.feature[age].effect"] > 1.0
    assert source.drift_metrics("credit", None, 600.0) is first  # cached within the TTL
    assert source.value("credit", "drift.feature[city].effect", window_s=600.0) is not None
    assert source.value("credit", "requests", window_s=600.0) == 400.0
    assert source.series("credit", "drift.dataset", since=0.0) == []
    assert source.value("credit", "drift.nothing", window_s=600.0) is None
    alerts = Alerts(sqlite_store)
    alerts.add("credit", {"name": "age-drift", "window": "10m",
                          "condition": "drift.feature[age].effect > 0.5"})
    alerts.add("credit", {"name": "inputs-drift", "window": "10m",
                          "condition": "drift.share_drifted >= 0.25"})
    ev = AlertEvaluator(sqlite_store, source, clock=clock, notifiers={"log": LogNotifier()})
    assert {r.rule: r.state for r in ev.tick()} == {"age-drift": "firing",
                                                    "inputs-drift": "firing"}
    ev.dispatcher.close()
    fired = {e["rule"]: e["message"] for e in sqlite_store.alerts.list_alert_events("credit")
             if e["kind"] == "state" and e["state"] == "firing"}
    # the alarm says which feature moved and by how much, not only the share
    assert "drifting: age (effect " in fired["inputs-drift"]
    assert fired["inputs-drift"].startswith("drift.share_drifted = ")
    assert source.explain("credit", "requests") is None
    clock.advance(61)  # past the TTL: measured again
    assert source.drift_metrics("credit", None, 600.0) is not first
