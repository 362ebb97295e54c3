"""Each metric family through the real app: predict, feedback, then read the metric API."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from rampup.registry.registry import Registry
from rampup.store import Database
from tests.monitor.conftest import monitor_of, settle
from tests.serving.conftest import Trained, record

Q = "/v1/models/credit/metrics"


async def summary(client: httpx.AsyncClient, *metrics: str, **params: str) -> dict[str, Any]:
    r = await client.get(Q, params={"metric": list(metrics), "since": "-10m", **params})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["summary"]
    return out


async def send(client: httpx.AsyncClient, rows: list[dict[str, Any]],
               headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        r = await client.post("/v1/models/credit/predict", json=row, headers=headers)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def test_software_metrics(client: httpx.AsyncClient, trained: Trained) -> None:
    await send(client, [record(trained.frame, i) for i in range(20)])
    batch = await client.post("/v1/models/credit/predict",
                              json=[record(trained.frame, i) for i in range(5)])
    assert batch.status_code == 200
    bad = await client.post("/v1/models/credit/predict", json={"age": "old"})
    assert bad.status_code == 422
    await settle(client)
    s = await summary(client, "requests", "predictions", "errors", "error_rate",
                      "invalid_input_rate", "latency_p50", "latency_p99", "throughput",
                      "in_flight", "memory_rss_mb", "log_queue_depth")
    assert (s["requests"], s["predictions"], s["errors"]) == (22, 25, 1)
    assert s["error_rate"] == pytest.approx(1 / 22)
    assert s["invalid_input_rate"] == pytest.approx(1 / 22)
    assert 0 < s["latency_p50"] <= s["latency_p99"] < 10_000
    assert s["throughput"] > 0
    assert s["in_flight"] is not None
    assert s["memory_rss_mb"] > 10
    r = await client.get(Q, params={"metric": "requests,errors", "since": "-3m", "step": "1m"})
    body = r.json()
    assert len(body["series"]["requests"]) in (3, 4)
    assert sum(v or 0 for _, v in body["series"]["requests"]) == 22


async def test_input_metrics(client: httpx.AsyncClient, trained: Trained,
                             store: Database) -> None:
    rng = np.random.default_rng(5)
    rows = [record(trained.frame, i) for i in range(40)]
    for row in rows:
        if rng.random() < 0.3:
            row["score"] = None
        if rng.random() < 0.2:
            row["city"] = "berlin"
    await send(client, rows)
    await settle(client)
    s = await summary(client, "feature[score].missing_fraction", "feature[age].mean",
                      "feature[age].max", "feature[income].std", "feature[city].unseen_fraction",
                      "feature[city].missing_fraction")
    ages = np.array([r["age"] for r in rows], dtype=float)
    incomes = np.array([r["income"] for r in rows])
    assert s["feature[score].missing_fraction"] == pytest.approx(
        sum(r["score"] is None for r in rows) / len(rows))
    assert s["feature[age].mean"] == pytest.approx(ages.mean())
    assert s["feature[age].max"] == ages.max()
    assert s["feature[income].std"] == pytest.approx(incomes.std())
    assert s["feature[city].unseen_fraction"] == pytest.approx(
        sum(r["city"] == "berlin" for r in rows) / len(rows))
    assert s["feature[city].missing_fraction"] == 0.0

    r = await client.get("/v1/models/credit/metrics/profile", params={"since": "-10m"})
    prof = r.json()
    reference = store.models.get_version("credit", "v1").profile["features"]  # type: ignore[union-attr]
    age = prof["features"]["age"]
    assert age["bins"] == reference["age"]["bins"]
    from rampup.registry.profile import bin_counts

    assert age["counts"] == bin_counts(ages, reference["age"]).tolist()
    assert prof["features"]["city"]["counts"]["berlin"] == sum(r["city"] == "berlin"
                                                              for r in rows)
    assert prof["rows"] == 40
    assert prof["output"]["classes"]["counts"]


async def test_output_metrics(client: httpx.AsyncClient, trained: Trained) -> None:
    bodies = await send(client, [record(trained.frame, i) for i in range(30)])
    await settle(client)
    preds = [b["predictions"][0] for b in bodies]
    s = await summary(client, "null_fraction", "class_share[1]", "class_share[0]",
                      "confidence_mean", "confidence_p10")
    assert s["null_fraction"] == 0.0
    assert s["class_share[1]"] == pytest.approx(sum(p["prediction"] == 1 for p in preds) / 30)
    assert s["class_share[0]"] + s["class_share[1]"] == pytest.approx(1.0)
    conf = np.array([p["confidence"] for p in preds])
    assert s["confidence_mean"] == pytest.approx(conf.mean())
    assert s["confidence_p10"] == pytest.approx(np.quantile(conf, 0.1, method="lower"),
                                                rel=0.01)


async def test_performance_and_events_from_feedback(client: httpx.AsyncClient,
                                                    trained: Trained) -> None:
    bodies = await send(client, [record(trained.frame, i) for i in range(30)])
    truth = trained.frame["y"].iloc[:30].tolist()
    items: list[dict[str, Any]] = [{"request_id": b["request_id"], "label": int(y)}
                                   for b, y in zip(bodies, truth, strict=True)]
    items += [{"request_id": b["request_id"], "events": ["clicked"]} for b in bodies[:6]]
    r = await client.post("/v1/models/credit/feedback", json=items)
    assert r.json() == {"accepted": 36, "duplicates": 0}
    again = await client.post("/v1/models/credit/feedback", json=items[:5])
    assert again.json()["duplicates"] == 5  # duplicates are not counted twice
    await settle(client)
    s = await summary(client, "accuracy", "labelled", "label_rate", "f1_macro", "recall[1]",
                      "event_rate[clicked]", "event_rate[repeated_query]", "mae")
    preds = [b["predictions"][0]["prediction"] for b in bodies]
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    assert s["accuracy"] == pytest.approx(accuracy_score(truth, preds))
    assert s["f1_macro"] == pytest.approx(f1_score(truth, preds, average="macro"))
    assert s["recall[1]"] == pytest.approx(recall_score(truth, preds))
    assert (s["labelled"], s["label_rate"]) == (30, 1.0)
    assert s["event_rate[clicked]"] == pytest.approx(6 / 30)
    assert s["event_rate[repeated_query]"] == 0.0
    assert s["mae"] is None  # a classifier has no regression error


async def test_repeated_queries_are_detected(client: httpx.AsyncClient,
                                             trained: Trained) -> None:
    base = record(trained.frame, 0)
    near = {**base, "income": float(base["income"]) + 0.01}
    other = record(trained.frame, 1)
    monitor = monitor_of(client)
    window = monitor.start_of(monitor.clock())
    await send(client, [base, base, near], headers={"x-request-key": "alice"})
    await send(client, [other, base], headers={"x-request-key": "bob"})
    await send(client, [base])  # no key: not checked
    await settle(client)
    s = await summary(client, "repeated_query_rate")
    assert s["repeated_query_rate"] == pytest.approx(2 / 5)  # alice's 2nd and 3rd
    if monitor.start_of(monitor.clock()) == window:  # else the live window began mid-test
        agg = monitor.live("credit")
        assert (agg.keyed, agg.repeated, agg.repeated_exact) == (5, 2, 1)
    prom = (await client.get("/metrics")).text
    assert 'rampup_repeated_queries_total{model="credit",version="v1"} 2.0' in prom


async def test_shadow_role(client: httpx.AsyncClient, trained: Trained, registry: Registry,
                           store: Database) -> None:
    registry.register("credit", trained.model2_path, deploy=False)
    store.deployments.append_deployment("credit", {"routes": {"v1": 100.0},
                                                   "mirrors": {"v2": 100.0}},
                            "test", "shadow v2")
    client.app.state.rampup.runtime.refresh()  # type: ignore[attr-defined]
    await send(client, [record(trained.frame, i) for i in range(8)])
    await settle(client)
    shadow = await summary(client, "requests", "class_share[1]", role="shadow")
    answer = await summary(client, "requests", version="v1")
    assert shadow["requests"] == answer["requests"] == 8
    assert (await summary(client, "requests", version="v2"))["requests"] is None
    assert (await summary(client, "requests", version="v2", role="shadow"))["requests"] == 8


async def test_catalogue_and_prometheus(client: httpx.AsyncClient, trained: Trained) -> None:
    rows = [record(trained.frame, i) for i in range(10)]
    rows[0]["score"] = None
    await send(client, rows)
    await settle(client)
    r = await client.get("/v1/models/credit/metrics/catalogue")
    cat = r.json()
    assert cat["features"] == ["age", "city", "income", "score"]
    assert cat["classes"] == ["0", "1"]
    assert "clicked" in cat["events"]
    for name in ("feature[age].mean", "feature[city].unseen_fraction", "class_share[1]",
                 "f1[0]", "event_rate[clicked]", "latency_p99", "accuracy"):
        assert name in cat["metrics"]
    assert "feature[city].mean" not in cat["metrics"]
    assert {"version": "v1", "role": "answer", "stage": None} in cat["windows"]
    prom = (await client.get("/metrics")).text
    assert 'rampup_input_missing_total{feature="score",model="credit",version="v1"} 1.0' in prom
    assert 'rampup_input_values_total{feature="score",model="credit",version="v1"} 10.0' in prom
    assert 'rampup_outputs_total{model="credit",role="answer",version="v1"} 10.0' in prom


@pytest.mark.parametrize(("params", "field", "text"), [
    ({"metric": "latency_p42"}, "metric", "unknown metric 'latency_p42'"),
    ({"metric": "feature[x].median"}, "metric", "feature[ITEM]"),
    ({"since": "yesterday"}, "since", "as a point in time"),
    ({"since": "-1h", "until": "-2h"}, "until", "must be after"),
    ({"step": "fast"}, "step", "as a duration"),
    ({"since": "-30d", "step": "1s"}, "step", "points"),
    ({"role": "Boss!"}, "role", "not a role"),
])
async def test_validation_names_the_parameter(client: httpx.AsyncClient, params: dict[str, str],
                                              field: str, text: str) -> None:
    r = await client.get(Q, params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == field
    assert text in body["message"] + body["fix"]
    if field == "metric":
        assert "latency_p99" in body["fix"]  # the known metrics are listed


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models/nope/metrics")
    assert r.status_code == 404
    assert r.json()["field"] == "name"
    r = await client.get("/v1/models/nope/metrics/catalogue")
    assert r.status_code == 404


async def test_snapshots_reach_the_store_and_flush_on_shutdown(
        store: Database, settings: Any, registry: Registry, trained: Trained) -> None:
    from rampup.serving.app import create_app

    app = create_app(settings.model_copy(update={"monitor_flush_interval": 3600.0}),
                     store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await send(c, [record(trained.frame, i) for i in range(4)])
        assert store.windows.metric_windows("credit", since=0, until=1e12) == []
    rows = store.windows.metric_windows("credit", since=0, until=1e12)
    assert sum(r["data"]["software"]["predictions"] for r in rows) == 4
