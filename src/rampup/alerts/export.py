"""Exports for teams that run Prometheus and Grafana: a dashboard over the metrics every
replica exposes at ``/metrics`` (:mod:`rampup.serving.metrics`), and the project's alert
rules as Prometheus alerting rules where the metric has a Prometheus equivalent.

Pure: both return plain data; the CLI writes JSON/YAML.

>>> from rampup.alerts.rules import AlertRule
>>> from rampup.alerts.spec import AlertRuleSpec
>>> rule = AlertRule.from_spec("credit", AlertRuleSpec(name="errors",
...                            condition="error_rate > 0.05 for 5m", severity="critical"))
>>> print(promql(rule)[0])
sum(rate(rampup_errors_total{model="credit"}[5m])) / sum(rate(rampup_requests_total{model="credit"}[5m]))
>>> promql(AlertRule.from_spec("credit", AlertRuleSpec(name="m",
...        condition="feature[age].mean > 60")))[1]
'feature[age].mean is computed by rampup from the prediction log and not exported to Prometheus; rampup evaluates this rule itself'
"""  # noqa: E501

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rampup.alerts.rules import AlertRule
from rampup.durations import format_duration
from rampup.monitor.names import parse_metric

REQUESTS = "rampup_requests_total"
ERRORS = "rampup_errors_total"
LATENCY = "rampup_request_latency_seconds"
QUANTILES = {"latency_p50": 0.5, "latency_p90": 0.9, "latency_p95": 0.95, "latency_p99": 0.99}
#: metrics that describe a whole process (no model label): summed over replicas
PROCESS = {
    "in_flight": "sum(rampup_in_flight_requests)",
    "log_queue_depth": "sum(rampup_predlog_queue_depth)",
    "memory_rss_mb": "sum(rampup_process_resident_memory_bytes) / 1048576",
}


def promql(rule: AlertRule) -> tuple[str | None, str]:
    """The PromQL expression of the rule's metric, or None and why there is none.

    Definitions match rampup's monitor: ``error_rate`` is failed requests (any error kind)
    over requests, latency is in milliseconds, throughput in requests per second."""
    metric = rule.metric
    if rule.spec.stage is not None:
        return None, "Prometheus metrics carry no pipeline stage label"
    w = _range(rule.window_s)
    sel = f'model="{_esc(rule.model)}"'
    if rule.spec.version is not None:
        sel += f',version="{_esc(rule.spec.version)}"'
    role = f'role="{_esc(rule.spec.role)}"'
    m = parse_metric(metric)

    def ratio(num: str, den: str) -> str:
        return f"sum(rate({num}[{w}])) / sum(rate({den}[{w}]))"

    by_role = {
        "null_fraction": ratio(f"rampup_null_outputs_total{{{sel},{role}}}",
                               f"rampup_outputs_total{{{sel},{role}}}"),
        "accuracy": ratio(f"rampup_labels_correct_total{{{sel},{role}}}",
                          f"rampup_labels_total{{{sel},{role}}}"),
        "label_rate": ratio(f"rampup_labels_total{{{sel},{role}}}",
                            f"rampup_predictions_total{{{sel},{role}}}"),
        "labelled": f"sum(increase(rampup_labels_total{{{sel},{role}}}[{w}]))",
    }
    by_role["error_rate_labelled"] = f"1 - ({by_role['accuracy']})"
    if metric in by_role:
        return by_role[metric], ""
    if rule.spec.role != "answer":
        return None, (f"Prometheus carries {metric} for answers only, not for role "
                      f"{rule.spec.role}")
    answers = {
        "requests": f"sum(increase({REQUESTS}{{{sel}}}[{w}]))",
        "throughput": f"sum(rate({REQUESTS}{{{sel}}}[{w}]))",
        "errors": f"sum(increase({ERRORS}{{{sel}}}[{w}]))",
        "error_rate": ratio(f"{ERRORS}{{{sel}}}", f"{REQUESTS}{{{sel}}}"),
        "latency_mean": f"{ratio(f'{LATENCY}_sum{{{sel}}}', f'{LATENCY}_count{{{sel}}}')} "
                        "* 1000",
        "repeated_query_rate": ratio(f"rampup_repeated_queries_total{{{sel}}}",
                                     f"rampup_keyed_requests_total{{{sel}}}"),
    }
    if metric in answers:
        return answers[metric], ""
    if metric in QUANTILES:
        return (f"histogram_quantile({QUANTILES[metric]}, sum by (le) "
                f"(rate({LATENCY}_bucket{{{sel}}}[{w}]))) * 1000"), ""
    if m.family == "feature" and m.stat == "missing_fraction" and m.item:
        f = f'feature="{_esc(m.item)}"'
        return ratio(f"rampup_input_missing_total{{{sel},{f}}}",
                     f"rampup_input_values_total{{{sel},{f}}}"), ""
    if m.family == "class_share" and m.item:
        return ratio(f'rampup_output_class_total{{{sel},class="{_esc(m.item)}"}}',
                     f"rampup_output_class_total{{{sel}}}"), ""
    if m.family == "event_rate" and m.item:
        return ratio(f'rampup_feedback_events_total{{{sel},event="{_esc(m.item)}"}}',
                     f'rampup_predictions_total{{{sel},role="answer"}}'), ""
    if metric in PROCESS or metric in ("log_dropped", "cpu_percent"):
        if rule.spec.version is not None:
            return None, f"{metric} is per process, not per version"
        if metric == "log_dropped":
            return f"sum(increase(rampup_predlog_dropped_total[{w}]))", ""
        if metric == "cpu_percent":
            return f"sum(rate(rampup_process_cpu_seconds[{w}])) * 100", ""
        return PROCESS[metric], ""
    return None, (f"{metric} is computed by rampup from the prediction log and not exported "
                  "to Prometheus; rampup evaluates this rule itself")


def prometheus_rules(rules: Sequence[AlertRule], group: str = "rampup"
                     ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A Prometheus rule file (as data) and the rules skipped, each with the reason."""
    out: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for rule in rules:
        expr, why = promql(rule)
        if expr is None:
            skipped.append((rule.key, why))
            continue
        c = rule.condition
        item: dict[str, Any] = {
            "alert": _alert_name(rule),
            "expr": f"({expr}) {c.op} {c.threshold:g}",
        }
        if rule.for_s > 0:
            item["for"] = _range(rule.for_s)
        item["labels"] = {"severity": rule.severity, "model": rule.model,
                          "rampup_rule": rule.name, **rule.spec.labels}
        scope = f" [{rule.scope()}]" if rule.scope() else ""
        item["annotations"] = {
            "summary": f"{rule.model}{scope}: {c.text} over {format_duration(rule.window_s)}",
            "description": rule.spec.description or
            f"{{{{ $value | printf \"%.4g\" }}}} {c.op} {c.threshold:g} (rampup rule "
            f"{rule.key})"}
        out.append(item)
    return {"groups": [{"name": group, "rules": out}]}, skipped


def grafana_dashboard(model: str, *, title: str | None = None,
                      datasource_uid: str = "${DS_PROMETHEUS}") -> dict[str, Any]:
    """A Grafana dashboard (JSON model) of one model: throughput, error rate, latency
    quantiles, records, errors by kind, shadow calls, batch sizes, missing inputs, class
    mix, null outputs, repeated queries, accuracy, in-flight, log queue, memory, CPU."""
    ds = {"type": "prometheus", "uid": datasource_uid}
    sel = f'model="{_esc(model)}",version=~"$version"'
    rate = "$__rate_interval"
    q = [
        ("Throughput (requests/s) by version", "reqps",
         [(f"sum by (version) (rate({REQUESTS}{{{sel}}}[{rate}]))", "{{version}}")]),
        ("Error rate (failed / requests) by version", "percentunit",
         [(f"sum by (version) (rate({ERRORS}{{{sel}}}[{rate}])) / "
           f"sum by (version) (rate({REQUESTS}{{{sel}}}[{rate}]))", "{{version}} all"),
          (f'sum by (version) (rate({REQUESTS}{{{sel},status="5xx"}}[{rate}])) / '
           f"sum by (version) (rate({REQUESTS}{{{sel}}}[{rate}]))", "{{version}} 5xx"),
          (f'sum by (version) (rate({REQUESTS}{{{sel},status="4xx"}}[{rate}])) / '
           f"sum by (version) (rate({REQUESTS}{{{sel}}}[{rate}]))", "{{version}} 4xx")]),
        ("Latency quantiles by version", "s",
         [(f"histogram_quantile({qv}, sum by (version, le) "
           f"(rate({LATENCY}_bucket{{{sel}}}[{rate}])))", f"{{{{version}}}} p{name[9:]}")
          for name, qv in QUANTILES.items() if name != "latency_p95"]),
        ("Records predicted/s by version and role", "rps",
         [(f"sum by (version, role) (rate(rampup_predictions_total{{{sel}}}[{rate}]))",
           "{{version}} {{role}}")]),
        ("Errors by kind", "reqps",
         [(f"sum by (version, kind) (rate(rampup_errors_total{{{sel}}}[{rate}]))",
           "{{version}} {{kind}}")]),
        ("Shadow calls by outcome", "reqps",
         [(f"sum by (version, outcome) (rate(rampup_shadow_requests_total{{{sel}}}[{rate}]))",
           "{{version}} {{outcome}}")]),
        ("Records per model call (median)", "short",
         [(f"histogram_quantile(0.5, sum by (version, le) "
           f"(rate(rampup_batch_records_bucket{{{sel}}}[{rate}])))", "{{version}}")]),
        ("Missing input fraction by feature", "percentunit",
         [(f"sum by (feature) (rate(rampup_input_missing_total{{{sel}}}[{rate}])) / "
           f"sum by (feature) (rate(rampup_input_values_total{{{sel}}}[{rate}]))",
           "{{feature}}")]),
        ("Class mix (share of outputs)", "percentunit",
         [(f"sum by (class) (rate(rampup_output_class_total{{{sel}}}[{rate}])) / "
           f"scalar(sum(rate(rampup_output_class_total{{{sel}}}[{rate}])))", "{{class}}")]),
        ("Null outputs and repeated queries", "percentunit",
         [(f'sum by (version) (rate(rampup_null_outputs_total{{{sel},role="answer"}}[{rate}]))'
           f' / sum by (version) (rate(rampup_outputs_total{{{sel},role="answer"}}[{rate}]))',
           "{{version}} null"),
          (f"sum by (version) (rate(rampup_repeated_queries_total{{{sel}}}[{rate}])) / "
           f"sum by (version) (rate(rampup_keyed_requests_total{{{sel}}}[{rate}]))",
           "{{version}} repeated")]),
        ("Accuracy (labelled predictions)", "percentunit",
         [(f"sum by (version, role) (rate(rampup_labels_correct_total{{{sel}}}[{rate}])) / "
           f"sum by (version, role) (rate(rampup_labels_total{{{sel}}}[{rate}]))",
           "{{version}} {{role}}")]),
        ("In-flight requests (server load)", "short",
         [("sum by (instance) (rampup_in_flight_requests)", "{{instance}}")]),
        ("Prediction log queue and drops", "short",
         [("sum by (instance) (rampup_predlog_queue_depth)", "queued {{instance}}"),
          (f"sum by (instance) (rate(rampup_predlog_dropped_total[{rate}]))",
           "dropped/s {{instance}}")]),
        ("Resident memory per process", "bytes",
         [("sum by (replica, worker) (rampup_process_resident_memory_bytes)",
           "{{replica}} {{worker}}")]),
        ("CPU per process (cores used)", "short",
         [(f"sum by (replica, worker) (rate(rampup_process_cpu_seconds[{rate}]))",
           "{{replica}} {{worker}}")]),
        ("Model CPU per call (ms)", "ms",
         [(f"1000 * sum by (version) (rate(rampup_model_cpu_seconds_total{{{sel}}}[{rate}])) "
           f"/ sum by (version) (rate(rampup_model_calls_total{{{sel}}}[{rate}]))",
           "{{version}}")]),
    ]
    stats = [
        ("Requests/s", "reqps", f"sum(rate({REQUESTS}{{{sel}}}[{rate}]))"),
        ("Error rate", "percentunit",
         f"sum(rate({ERRORS}{{{sel}}}[{rate}])) / sum(rate({REQUESTS}{{{sel}}}[{rate}]))"),
        ("p99 latency", "s", f"histogram_quantile(0.99, sum by (le) "
                             f"(rate({LATENCY}_bucket{{{sel}}}[{rate}])))"),
        ("In flight", "short", "sum(rampup_in_flight_requests)"),
    ]
    panels: list[dict[str, Any]] = []
    for i, (name, unit, expr) in enumerate(stats):
        panels.append({
            "id": i + 1, "type": "stat", "title": name, "datasource": ds,
            "gridPos": {"x": 6 * i, "y": 0, "w": 6, "h": 4},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
            "targets": [{"refId": "A", "datasource": ds, "expr": expr}]})
    for i, (name, unit, targets) in enumerate(q):
        panels.append({
            "id": len(stats) + i + 1, "type": "timeseries", "title": name, "datasource": ds,
            "gridPos": {"x": 12 * (i % 2), "y": 4 + 8 * (i // 2), "w": 12, "h": 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}},
            "targets": [{"refId": chr(ord("A") + j), "datasource": ds, "expr": e,
                         "legendFormat": legend} for j, (e, legend) in enumerate(targets)]})
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": title or f"rampup: {model}", "uid": _uid(model), "tags": ["rampup", model],
        "timezone": "browser", "schemaVersion": 39, "version": 1, "editable": True,
        "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "version", "label": "version", "type": "query", "datasource": ds,
            "query": f'label_values({REQUESTS}{{model="{_esc(model)}"}}, version)',
            "refresh": 2, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"text": "All", "value": "$__all"}}]},
        "annotations": {"list": []},
        "panels": panels,
    }


def _alert_name(rule: AlertRule) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"rampup {rule.model} {rule.name}")
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _range(seconds: float) -> str:
    if float(seconds).is_integer():
        return format_duration(seconds) if seconds > 0 else "1s"
    return f"{round(seconds * 1000)}ms"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _uid(model: str) -> str:
    return ("rampup-" + re.sub(r"[^a-z0-9-]", "-", model.lower()))[:40]
