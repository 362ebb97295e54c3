"""Metric values from a (merged) window aggregate: one function per metric family.

Pure. ``span_s`` is the length of time the aggregate covers (for throughput). A metric
whose denominator is zero (no requests, no labels, ...) is None, not 0.

>>> agg = WindowAggregate()
>>> agg.requests = agg.predictions = 10
>>> agg.errors = {"model_error": 1}
>>> agg.latency.update_many([float(i) for i in range(1, 11)])
>>> metric_value(agg, "error_rate", 60.0), metric_value(agg, "throughput", 5.0)
(0.1, 2.0)
>>> agg.errors["invalid_input"] = 2  # two 422s: client errors, not the server's
>>> metric_value(agg, "server_error_rate", 60.0), metric_value(agg, "client_error_rate", 60.0)
(0.1, 0.2)
>>> metric_value(agg, "latency_p50", 60.0) == agg.latency.quantile(0.5)
True
>>> metric_value(agg, "accuracy", 60.0) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rampup.errors import ValidationError
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.features import VersionInfo
from rampup.monitor.ingest import MODEL_ERROR, TIMEOUT
from rampup.monitor.names import (
    FAMILIES,
    OUTPUT,
    PERFORMANCE,
    SOFTWARE,
    TASK_PERFORMANCE,
    is_known,
    parse_metric,
)
from rampup.predlog.feedback import KNOWN_EVENTS

INVALID_KINDS = ("invalid_input", "malformed_request", "payload_too_large")
#: the error kinds that are the server's fault (5xx: the model raised or timed out); every
#: other kind is a refused request (4xx: bad input, unknown version, missing token...)
SERVER_KINDS = (MODEL_ERROR, TIMEOUT)
GAUGES = ("in_flight", "cpu_percent", "memory_rss_mb", "log_queue_depth",
          "shadow_queue_depth", "batch_queue_depth", "model_cpu_ms")
FEATURE_KIND_STATS = {
    "numeric": ("count", "missing_fraction", "mean", "std", "min", "max"),
    "categorical": ("count", "missing_fraction", "unseen_fraction"),
    "text": ("count", "missing_fraction", "length_mean"),
}


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _server_errors(a: WindowAggregate) -> int:
    return sum(a.errors.get(k, 0) for k in SERVER_KINDS)


def _quantile(q: float) -> Callable[[WindowAggregate, float], float | None]:
    return lambda a, _s: a.latency.quantile(q)


_SIMPLE: dict[str, Callable[[WindowAggregate, float], float | None]] = {
    "requests": lambda a, _s: float(a.requests),
    "predictions": lambda a, _s: float(a.predictions),
    "throughput": lambda a, s: a.requests / s if s > 0 else None,
    "errors": lambda a, _s: float(a.error_count),
    "error_rate": lambda a, _s: _ratio(a.error_count, a.requests),
    "server_error_rate": lambda a, _s: _ratio(_server_errors(a), a.requests),
    "client_error_rate": lambda a, _s: _ratio(a.error_count - _server_errors(a), a.requests),
    "invalid_input_rate": lambda a, _s: _ratio(sum(a.errors.get(k, 0) for k in INVALID_KINDS),
                                               a.requests),
    "latency_p50": _quantile(0.5),
    "latency_p90": _quantile(0.9),
    "latency_p95": _quantile(0.95),
    "latency_p99": _quantile(0.99),
    "latency_mean": lambda a, _s: a.latency.mean,
    "log_dropped": lambda a, _s: float(a.log_dropped),
    "null_fraction": lambda a, _s: _ratio(a.output.null, a.output.n),
    "confidence_mean": lambda a, _s: a.output.confidence.mean,
    "confidence_p10": lambda a, _s: a.output.confidence.quantile(0.1),
    "output_mean": lambda a, _s: a.output.values.mean,
    "output_length_mean": lambda a, _s: a.output.length.mean if a.output.length.count
    else None,
    "repeated_query_rate": lambda a, _s: _ratio(a.repeated, a.keyed),
    "input_length_mean": lambda a, _s: a.input_length.mean if a.input_length.count else None,
    "early_stop_rate": lambda a, _s: _ratio(a.early_stops, a.predictions),
    "labelled": lambda a, _s: float(a.performance.labelled),
    "label_rate": lambda a, _s: _ratio(a.performance.labelled, a.predictions),
    "accuracy": lambda a, _s: a.performance.accuracy(),
    "error_rate_labelled": lambda a, _s: (None if (acc := a.performance.accuracy()) is None
                                          else 1.0 - acc),
    "precision_macro": lambda a, _s: a.performance.macro()[0],
    "recall_macro": lambda a, _s: a.performance.macro()[1],
    "f1_macro": lambda a, _s: a.performance.macro()[2],
    "mae": lambda a, _s: a.performance.mae(),
    "rmse": lambda a, _s: a.performance.rmse(),
}


def _feature(a: WindowAggregate, item: str, stat: str) -> float | None:
    f = a.features.get(item)
    if f is None:
        return None
    total = f.count + f.missing
    if stat == "count":
        return float(f.count)
    if stat == "missing_fraction":
        return _ratio(f.missing, total)
    if stat == "unseen_fraction":
        return _ratio(f.unseen, f.count) if f.kind == "categorical" else None
    if stat == "length_mean":
        return f.moments.mean if f.kind == "text" and f.moments.count else None
    if f.kind != "numeric" or not f.moments.count:
        return None
    return f.moments.summary()[stat]


def _custom(a: WindowAggregate, item: str, stat: str) -> float | None:
    c = a.custom.get(item)
    if c is None:
        return None
    if stat == "count":
        return float(c.moments.count)
    if stat == "errors":
        return float(c.errors)
    return c.moments.summary()[stat] if c.moments.count else None


def metric_value(agg: WindowAggregate | None, metric: str, span_s: float) -> float | None:
    """The value of ``metric`` (a name from :mod:`rampup.monitor.names`) over ``agg``."""
    if agg is None or metric.startswith("drift."):
        return None  # drift metrics come from the drift package, not from windows
    simple = _SIMPLE.get(metric)
    if simple is not None:
        return simple(agg, span_s)
    if metric in TASK_PERFORMANCE:
        return agg.performance.task_metric(metric)
    if metric in GAUGES:
        g = agg.gauges.get(metric)
        return None if g is None else g.mean
    m = parse_metric(metric)
    if m.item is None:
        raise unknown_metric(metric)
    if m.family == "feature" and m.stat:
        return _feature(agg, m.item, m.stat)
    if m.family == "custom" and m.stat:
        return _custom(agg, m.item, m.stat)
    if m.family == "class_share":
        return _ratio(agg.output.classes.counts.get(m.item, 0), agg.output.classes.total)
    if m.family == "event_rate":
        return _ratio(agg.events.counts.get(m.item, 0), agg.predictions)
    if m.family in ("precision", "recall", "f1"):
        p, r, f1 = agg.performance.per_class(m.item)
        return {"precision": p, "recall": r, "f1": f1}[m.family]
    raise unknown_metric(metric)


def unknown_metric(metric: str) -> ValidationError:
    return ValidationError(
        f"unknown metric {metric!r}",
        fix="use one of " + ", ".join((*SOFTWARE, *OUTPUT, *PERFORMANCE)) + ", or "
            + ", ".join(f"{fam}[ITEM]" + (f".{{{'|'.join(stats)}}}" if stats else "")
                        for fam, stats in FAMILIES.items())
            + " (GET /v1/models/{name}/metrics/catalogue lists this model's)",
        field="metric")


def check_metric(metric: str) -> str:
    """Raise ValidationError for a name outside the catalogue."""
    if not is_known(metric):
        raise unknown_metric(metric)
    return metric


def sections_for(metrics: Iterable[str]) -> set[str]:
    """The aggregate sections these metrics read (software is always read)."""
    out: set[str] = set()
    for metric in metrics:
        fam = parse_metric(metric).family
        if fam in ("feature", "custom") or metric == "input_length_mean":
            out.add("inputs")
        elif metric == "repeated_query_rate":
            out.add("repeats")
        elif fam == "class_share" or metric in OUTPUT:
            out.add("output")
        elif fam == "event_rate":
            out.add("events")
        elif fam in ("precision", "recall", "f1") or metric in PERFORMANCE:
            out.add("performance")
    return out


def catalogue(agg: WindowAggregate, infos: Iterable[VersionInfo],
              custom_names: Iterable[str] = ()) -> dict[str, list[str]]:
    """Every concrete metric name for a model: from its versions' schemas and outputs,
    its declared input metrics, and what the recent windows saw (features, classes,
    events, custom metrics)."""
    infos = list(infos)
    features: dict[str, str] = {f.name: f.kind for i in infos for f in i.features}
    features.update({n: f.kind for n, f in agg.features.items() if n not in features})
    classes = sorted({c for i in infos for c in (i.classes or ())}
                     | set(agg.output.classes.counts) | set(agg.performance.classes()))
    events = sorted(set(KNOWN_EVENTS) | set(agg.events.counts))
    custom = sorted(set(agg.custom) | set(custom_names))
    names = [*SOFTWARE, *OUTPUT, *PERFORMANCE]
    names += [f"feature[{n}].{s}" for n, k in features.items()
              for s in FEATURE_KIND_STATS.get(k, ())]
    names += [f"custom[{n}].{s}" for n in custom for s in FAMILIES["custom"]]
    names += [f"class_share[{c}]" for c in classes]
    names += [f"{fam}[{c}]" for fam in ("precision", "recall", "f1") for c in classes]
    names += [f"event_rate[{e}]" for e in events]
    return {"metrics": names, "features": sorted(features), "classes": classes,
            "events": events, "custom": custom}
