"""The dashboard's pages and every JSON panel they read, through the real app."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from rampup.monitor.aggregates import WindowAggregate
from rampup.serving.app import create_app
from rampup.store import Database
from tests.dashboard.conftest import ADMIN, traffic
from tests.serving.conftest import Trained, make_settings

AUTH = {"authorization": f"Bearer {ADMIN}"}


async def test_pages_are_served_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    for path in ("/", "/dashboard", "/dashboard/models/credit"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "/dashboard/static/vendor/uPlot.iife.min.js" in r.text
    r = await client.get("/dashboard/models/credit")
    assert 'data-model="credit"' in r.text
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_unknown_model_page_is_404_and_escaped(client: httpx.AsyncClient) -> None:
    r = await client.get("/dashboard/models/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert r.status_code == 404
    assert "<img src=x" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in r.text


async def test_static_files_include_the_vendored_chart_library(
        client: httpx.AsyncClient) -> None:
    for name in ("vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "common.js",
                 "model.js", "overview.js", "dashboard.css"):
        r = await client.get(f"/dashboard/static/{name}")
        assert r.status_code == 200, name
        assert len(r.content) > 500
    assert (await client.get("/dashboard/static/nope.js")).status_code == 404


async def test_overview(client: httpx.AsyncClient, trained: Trained) -> None:
    empty = (await client.get("/dashboard/api/overview")).json()
    assert [m["name"] for m in empty["models"]] == ["credit"]
    assert empty["models"][0]["health"] == "no_data"
    await traffic(client, trained.frame, 40)
    doc = (await client.get("/dashboard/api/overview")).json()
    m = doc["models"][0]
    assert m["health"] == "ok"
    assert m["values"]["requests"] == 40
    assert m["policy"]["routes"] == {"v1": 100.0}
    assert m["rollout"] is None
    assert m["alerts"] == {"firing": 0, "pending": 0, "rules": 0}
    assert m["drift"]["level"] in ("ok", "warning", "drift")
    assert sum(v or 0 for v in m["spark"]["throughput"]) > 0
    assert len(m["spark"]["t"]) == len(m["spark"]["throughput"])


async def test_model_metrics_panel(client: httpx.AsyncClient, trained: Trained) -> None:
    await traffic(client, trained.frame, 60)
    r = await client.get("/dashboard/api/models/credit/metrics", params={"range": "15m"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["groups"] == ["v1 · answer"]
    assert d["step"] == 60.0
    assert len(d["t"]) in (15, 16)
    assert d["points"] >= 1
    thr = d["software"]["throughput"]["v1 · answer"]
    assert len(thr) == len(d["t"])
    assert sum(v or 0 for v in d["software"]["latency_p99"]["v1 · answer"]) > 0
    feats = d["inputs"]["features"]
    assert set(feats) == {"age", "income", "score", "city"}
    assert feats["city"]["stat"] == "unseen_fraction"
    assert feats["age"]["stat"] == "mean"
    assert any(v is not None and v > 0 for v in feats["score"]["missing_fraction"])
    assert set(d["outputs"]["class_share"]) <= {"0", "1"}
    assert d["outputs"]["class_share"]
    assert any(v is not None for v in d["performance"]["accuracy"]["v1 · answer"])
    drift = d["drift"]
    assert drift["reference_version"] == "v1"
    assert set(drift["features"]) == {"age", "income", "score", "city"}
    cells = [c for row in drift["cells"] for c in row if c is not None]
    assert cells
    assert all(0 <= c <= 1 for c in cells)
    assert drift["level"] in ("ok", "warning", "drift")


@pytest.mark.parametrize("name", ["15m", "1h", "6h", "24h", "7d"])
async def test_every_range(client: httpx.AsyncClient, name: str) -> None:
    r = await client.get("/dashboard/api/models/credit/metrics", params={"range": name})
    assert r.status_code == 200
    assert r.json()["range"] == name


async def test_bad_range_and_unknown_model(client: httpx.AsyncClient) -> None:
    r = await client.get("/dashboard/api/models/credit/metrics", params={"range": "2y"})
    assert r.status_code == 422
    assert r.json()["field"] == "range"
    for panel in ("metrics", "deployment", "alerts", "drift/age"):
        r = await client.get(f"/dashboard/api/models/nope/{panel}")
        assert r.status_code == 404, panel
        assert "credit" in r.json()["message"]


async def test_feature_histograms(client: httpx.AsyncClient, trained: Trained) -> None:
    await traffic(client, trained.frame, 60, labels=False)
    now = time.time()
    r = await client.get("/dashboard/api/models/credit/drift/city",
                         params={"since": f"epoch:{now - 600}",
                                 "until": f"epoch:{now + 60}"})
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["kind"] == "categorical"
    assert {"paris", "rome", "oslo"} <= set(h["labels"])
    assert sum(h["current"]) == pytest.approx(1.0)
    assert sum(h["reference"]) == pytest.approx(1.0)
    assert h["current_count"] == 60
    r = await client.get("/dashboard/api/models/credit/drift/income", params={"since": "-10m"})
    num = r.json()
    assert num["kind"] == "numeric"
    assert len(num["labels"]) == len(num["reference"]) == len(num["current"])
    assert num["labels"][0].startswith("<")
    assert num["distance"] is not None
    r = await client.get("/dashboard/api/models/credit/drift/nope")
    assert r.status_code == 404
    assert r.json()["field"] == "feature"
    r = await client.get("/dashboard/api/models/credit/drift/age",
                         params={"since": "-1m", "until": "-2m"})
    assert r.status_code == 422


async def test_deployment_panel_follows_a_rollout(client: httpx.AsyncClient,
                                                  trained: Trained) -> None:
    r = await client.post("/v1/admin/models/credit/versions", headers=AUTH,
                          json={"path": str(trained.model2_path), "version": "v2",
                                "reference": str(trained.reference_path),
                                "label_column": "y", "deploy": False})
    assert r.status_code == 201, r.text
    r = await client.post("/v1/admin/models/credit/deploy", headers=AUTH,
                          json={"version": "v2", "strategy": "canary"})
    assert r.status_code == 201, r.text
    d = (await client.get("/dashboard/api/models/credit/deployment")).json()
    assert d["rollout"]["candidate"] == "v2"
    assert d["rollout"]["baseline"] == "v1"
    assert d["versions"] == ["v1", "v2"]
    assert len(d["history"]) == 2
    assert d["checks"] == []
    await traffic(client, trained.frame, 30, labels=False)
    metrics = (await client.get("/dashboard/api/models/credit/metrics",
                                params={"range": "15m"})).json()
    assert len(metrics["groups"]) >= 1
    r = await client.post("/v1/admin/models/credit/rollback", headers=AUTH, json={})
    assert r.status_code == 200
    d = (await client.get("/dashboard/api/models/credit/deployment")).json()
    assert d["policy"]["routes"] == {"v1": 100.0}
    assert len(d["history"]) == 3
    overview = (await client.get("/dashboard/api/overview")).json()
    assert overview["models"][0]["policy"]["routes"] == {"v1": 100.0}


async def test_alerts_panel(client: httpx.AsyncClient, trained: Trained) -> None:
    rule = {"name": "slow", "condition": "latency_p99 > 0.0001", "for": "0s"}
    r = await client.post("/v1/admin/models/credit/alerts", headers=AUTH, json=rule)
    assert r.status_code == 201, r.text
    await traffic(client, trained.frame, 10, labels=False)
    d = (await client.get("/dashboard/api/models/credit/alerts")).json()
    assert [a["name"] for a in d["rules"]] == ["slow"]
    assert d["rules"][0]["metric"] == "latency_p99"
    assert isinstance(d["history"], list)
    assert sum(d["counts"].values()) == 1


async def test_read_token_is_required_when_set(store: Database, tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, predict_token="reader"), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            assert (await c.get("/dashboard/api/overview")).status_code == 401
            ok = await c.get("/dashboard/api/overview",
                             headers={"authorization": "Bearer reader"})
            assert ok.status_code == 200
            assert ok.json()["models"] == []
            assert (await c.get("/dashboard")).status_code == 200  # the shell needs none


async def test_overview_warms_the_model_pages(client: httpx.AsyncClient,
                                              trained: Trained) -> None:
    await traffic(client, trained.frame, 20, labels=False)
    app = client.app  # type: ignore[attr-defined]
    store = app.state.rampup.store
    doc = WindowAggregate()
    doc.requests = 5
    start = time.time() // 60 * 60 - 7200
    store.windows.upsert_metric_windows([{  # another replica's closed windows, two hours ago
        "model": "credit", "version": "v1", "role": "answer", "stage": "",
        "window_start": start + 60 * i, "window_s": 60.0, "replica": "other",
        "updated_at": start, "data": doc.to_dict()} for i in range(3)])
    assert (await client.get("/dashboard/api/overview")).status_code == 200
    tasks = set(app.state.dashboard_tasks)
    assert tasks
    for t in tasks:
        await t
    cache = app.state.dashboard_cache
    filled = len(cache)
    assert filled > 0
    await client.get("/dashboard/api/overview")  # within a minute: no second warm-up
    assert not app.state.dashboard_tasks
    hits = cache.hits
    r = await client.get("/dashboard/api/models/credit/metrics", params={"range": "24h"})
    assert r.status_code == 200
    assert cache.hits > hits
