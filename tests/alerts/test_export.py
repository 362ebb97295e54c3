"""Exports: the Grafana dashboard and the Prometheus rules are valid JSON/YAML, their
PromQL is well formed, and every series they read is one the real app exposes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import yaml

from rampup.alerts.export import grafana_dashboard, prometheus_rules, promql
from rampup.alerts.rules import AlertRule
from rampup.alerts.spec import AlertRuleSpec
from rampup.project import parse_project
from rampup.store import Database
from tests.alerts.test_app_alerts import serve
from tests.serving.conftest import Trained, record, trained

__all__ = ["trained"]

CONDITIONS = [
    "requests < 10", "throughput < 1", "errors > 5", "error_rate > 0.05",
    "latency_p50 > 50", "latency_p90 > 80", "latency_p95 > 90", "latency_p99 > 100",
    "latency_mean > 40", "in_flight > 100", "log_queue_depth > 1000", "log_dropped > 0",
    "memory_rss_mb > 2000", "cpu_percent > 90", "null_fraction > 0.01",
    "repeated_query_rate > 0.2", "accuracy < 0.8", "error_rate_labelled > 0.2",
    "label_rate < 0.01", "labelled < 10", "feature[income].missing_fraction > 0.1",
    "class_share[1] > 0.6", "event_rate[clicked] < 0.01",
]
NOT_EXPORTED = ["feature[age].mean > 60", "confidence_mean < 0.6", "custom[b].mean > 1",
                "drift.output.psi > 0.2", "shadow_queue_depth > 10", "f1_macro < 0.7"]


def rule(cond: str, **kw: Any) -> AlertRule:
    return AlertRule.from_spec("credit", AlertRuleSpec.model_validate(
        {"name": "r", "condition": cond, **kw}))


def balanced(expr: str) -> bool:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and not in_string


def test_promql_for_each_metric_and_the_skipped_ones() -> None:
    for cond in CONDITIONS:
        expr, why = promql(rule(cond))
        assert expr is not None, (cond, why)
        assert balanced(expr), expr
        assert '[5m]' in expr or cond.split()[0] in ("in_flight", "log_queue_depth",
                                                      "memory_rss_mb")
    for cond in NOT_EXPORTED:
        expr, why = promql(rule(cond))
        assert expr is None
        assert "rampup evaluates this rule itself" in why
    expr, _ = promql(rule("error_rate > 0.1", version="v2", window="90s"))
    assert expr == ('sum(rate(rampup_errors_total{model="credit",version="v2"}[1m30s])) / '
                    'sum(rate(rampup_requests_total{model="credit",version="v2"}[1m30s]))')
    assert promql(rule("accuracy < 0.9", role="shadow"))[0] == (
        'sum(rate(rampup_labels_correct_total{model="credit",role="shadow"}[5m])) / '
        'sum(rate(rampup_labels_total{model="credit",role="shadow"}[5m]))')
    assert "for role shadow" in promql(rule("latency_p99 > 1", role="shadow"))[1]
    assert "no pipeline stage label" in promql(rule("error_rate > 0.1", stage="asr"))[1]
    assert "per process" in promql(rule("in_flight > 1", version="v1"))[1]


def test_prometheus_rule_file() -> None:
    rules = [rule("error_rate > 0.05 for 5m", severity="critical", labels={"team": "risk"},
                  description="Too many failures"),
             rule("latency_p99 > 250", window="1m"), rule("feature[age].mean > 60")]
    data, skipped = prometheus_rules(rules, group="rampup-shop")
    doc = yaml.safe_load(yaml.safe_dump(data))
    [group] = doc["groups"]
    first, second = group["rules"]
    assert first["alert"] == "RampupCreditR"
    assert first["for"] == "5m"
    assert first["expr"].endswith(") > 0.05")
    assert first["labels"] == {"severity": "critical", "model": "credit", "rampup_rule": "r",
                               "team": "risk"}
    assert first["annotations"]["description"] == "Too many failures"
    assert "for" not in second
    assert "[1m]" in second["expr"]
    assert "{{ $value" in second["annotations"]["description"]
    assert skipped == [("credit/r", "feature[age].mean is computed by rampup from the "
                        "prediction log and not exported to Prometheus; rampup evaluates "
                        "this rule itself")]


def test_grafana_dashboard_is_valid() -> None:
    board = json.loads(json.dumps(grafana_dashboard("credit")))
    assert board["uid"] == "rampup-credit"
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids)
    cells = set()
    for p in panels:  # no two panels overlap on the 24-column grid
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))
        for t in p["targets"]:
            assert balanced(t["expr"]), t["expr"]
    titles = " | ".join(p["title"] for p in panels)
    for needle in ("Throughput", "Error rate", "Latency quantiles", "In-flight",
                   "Prediction log queue", "Missing input", "Class mix"):
        assert needle in titles
    assert board["templating"]["list"][0]["name"] == "version"


def exported_names(text: str) -> tuple[set[str], set[str]]:
    """(series with samples, series declared by a TYPE line) in a /metrics page."""
    seen = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")}
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            declared |= {f"{name}{s}" for s in ("_bucket", "_sum", "_count")} \
                if kind == "histogram" else {name}
    return seen, declared


async def test_every_series_read_is_exposed_by_the_app(sqlite_store: Database, tmp_path: Path,
                                                       trained: Trained) -> None:
    async with serve(sqlite_store, tmp_path, trained, parse_project({}), alerts=False) as c:
        ids = []
        for i in range(20):
            r = await c.post("/v1/models/credit/predict", json=record(trained.frame, i),
                             headers={"x-request-key": f"u{i % 3}"})
            ids.append(r.json()["request_id"])
        await c.post("/v1/models/credit/predict", json={"age": "old"})
        fb = [{"request_id": rid, "label": 1, "events": ["clicked"]} for rid in ids]
        assert (await c.post("/v1/models/credit/feedback", json=fb)).status_code == 200
        seen: set[str] = set()
        declared: set[str] = set()
        for _ in range(200):  # the monitor thread updates its counters asynchronously
            seen, declared = exported_names((await c.get("/metrics")).text)
            if "rampup_labels_correct_total" in seen:
                break
            await asyncio.sleep(0.02)
    wanted: set[str] = set()
    for cond in CONDITIONS:
        expr, _ = promql(rule(cond))
        assert expr is not None
        wanted |= set(re.findall(r"rampup_[a-z_]+", expr))
    for p in grafana_dashboard("credit")["panels"]:
        for t in p["targets"]:
            wanted |= set(re.findall(r"rampup_[a-z_]+", t["expr"]))
    assert not wanted - declared, sorted(wanted - declared)
    # and the ones this traffic touches carry samples
    assert {"rampup_requests_total", "rampup_errors_total", "rampup_predictions_total",
            "rampup_request_latency_seconds_bucket", "rampup_input_values_total",
            "rampup_output_class_total", "rampup_outputs_total", "rampup_labels_total",
            "rampup_labels_correct_total", "rampup_feedback_events_total",
            "rampup_keyed_requests_total", "rampup_repeated_queries_total",
            "rampup_in_flight_requests", "rampup_predlog_queue_depth"} <= seen
