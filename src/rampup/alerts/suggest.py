"""Suggest alert thresholds from a baseline period: each metric's own history.

Set thresholds, then adapt them: the history of each key metric over the alert's window
gives its normal range, and the suggested threshold sits beyond it by a margin:

- ``error_rate > max(p99.5 * margin, 0.005, SLO max_error_rate)``
- ``latency_p99 > max(p99 * margin, SLO latency_p99_ms)`` (``latency_p50`` likewise)
- ``feature[F].missing_fraction > max + 0.05`` (capped below 1)
- ``throughput < p0.5 / (2 * margin)``: traffic dropping away
- ``class_share[C]`` outside ``[min - 0.1, max + 0.1]``; ``confidence_mean < p0.5 - 0.05``
- SLO key metrics: ``p99.5 * margin`` above, or ``p0.5 / margin`` below for metrics where
  higher is better (accuracy, F1, ...).

:func:`suggest_rules` is pure; :func:`gather` reads the series through a MetricSource.

>>> hist = {"error_rate": [0.001, 0.002, 0.004] * 10, "latency_p99": [80.0, 95.0, 120.0] * 10}
>>> for s in suggest_rules("m", hist):
...     print(s.spec.condition, "|", s.why)
error_rate > 0.006 for 5m | p99.5 of 30 points = 0.004, * 1.5
latency_p99 > 180 for 5m | p99 of 30 points = 120, * 1.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rampup.alerts.spec import AlertRuleSpec, Severity
from rampup.monitor.names import MetricSource, parse_metric

if TYPE_CHECKING:
    from rampup.project import SLO
    from rampup.store import Database

RATE_FLOOR = 0.005
MISSING_MARGIN = 0.05
SHARE_MARGIN = 0.1
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "label_rate", "throughput",
                    "requests", "confidence", "labelled")


@dataclass(frozen=True)
class Suggestion:
    spec: AlertRuleSpec
    why: str
    points: int


def suggest_rules(model: str, series: Mapping[str, Sequence[float]], *,
                  slo: SLO | None = None, margin: float = 1.5, window: str = "5m",
                  for_: str = "5m", min_points: int = 10) -> list[Suggestion]:
    """Rules for the metrics in ``series`` (metric -> historical values, one per window)."""
    del model  # rules are per model already; kept for a uniform signature
    out: list[Suggestion] = []

    def add(name: str, metric: str, op: str, threshold: float, severity: Severity,
            why: str, n: int) -> None:
        cond = f"{metric} {op} {_round(threshold, op == '>')} for {for_}"
        spec = AlertRuleSpec(name=_slug(name), condition=cond, window=window,
                             severity=severity, description=f"suggested: {why}")
        out.append(Suggestion(spec, why, n))

    for metric, raw in series.items():
        values = np.asarray([v for v in raw if v is not None and math.isfinite(v)], float)
        n = len(values)
        if n < min_points:
            continue
        m = parse_metric(metric)
        if metric == "error_rate":
            q = float(np.quantile(values, 0.995))
            t = max(q * margin, RATE_FLOOR)
            why = f"p99.5 of {n} points = {q:.3g}, * {margin:g}"
            if slo is not None and slo.max_error_rate is not None and slo.max_error_rate > t:
                t, why = slo.max_error_rate, why + f"; SLO {slo.max_error_rate:g}"
            elif t == RATE_FLOOR and q * margin < RATE_FLOOR:
                why += f"; floor {RATE_FLOOR:g}"
            add("error-rate-high", metric, ">", t, "critical", why, n)
        elif metric in ("latency_p99", "latency_p50"):
            q = float(np.quantile(values, 0.99))
            t = q * margin
            why = f"p99 of {n} points = {q:.4g}, * {margin:g}"
            slo_ms = None if slo is None else (
                slo.latency_p99_ms if metric == "latency_p99" else slo.latency_p50_ms)
            if slo_ms is not None and slo_ms > t:
                t, why = slo_ms, why + f"; SLO {slo_ms:g} ms"
            add(metric.replace("_", "-") + "-high", metric, ">", t, "warning", why, n)
        elif m.family == "feature" and m.stat == "missing_fraction":
            hi = float(values.max())
            t = hi + MISSING_MARGIN
            if t < 1.0:
                add(f"{m.item}-missing", metric, ">", t, "warning",
                    f"max of {n} points = {hi:.3g}, + {MISSING_MARGIN:g}", n)
        elif metric == "throughput":
            q = float(np.quantile(values, 0.005))
            if q > 0:
                add("throughput-low", metric, "<", q / (2 * margin), "warning",
                    f"p0.5 of {n} points = {q:.4g}, / {2 * margin:g}", n)
        elif m.family == "class_share":
            lo, hi = float(values.min()), float(values.max())
            if hi + SHARE_MARGIN < 1.0:
                add(f"class-{m.item}-share-high", metric, ">", hi + SHARE_MARGIN, "info",
                    f"max of {n} points = {hi:.3g}, + {SHARE_MARGIN:g}", n)
            if lo - SHARE_MARGIN > 0.0:
                add(f"class-{m.item}-share-low", metric, "<", lo - SHARE_MARGIN, "info",
                    f"min of {n} points = {lo:.3g}, - {SHARE_MARGIN:g}", n)
        elif metric == "confidence_mean":
            q = float(np.quantile(values, 0.005))
            if q - 0.05 > 0:
                add("confidence-low", metric, "<", q - 0.05, "info",
                    f"p0.5 of {n} points = {q:.3g}, - 0.05", n)
        elif _higher_is_better(metric):
            q = float(np.quantile(values, 0.005))
            if q > 0:
                add(f"{metric}-low", metric, "<", q / margin, "warning",
                    f"p0.5 of {n} points = {q:.4g}, / {margin:g}", n)
        else:
            q = float(np.quantile(values, 0.995))
            if q > 0:
                add(f"{metric}-high", metric, ">", q * margin, "warning",
                    f"p99.5 of {n} points = {q:.4g}, * {margin:g}", n)
    return out


def candidate_metrics(store: Database, model: str, slo: SLO | None = None) -> list[str]:
    """The metrics worth a threshold: errors, latency, traffic, each feature's missing
    fraction, each class's share, confidence and the SLO's key metrics that a live source
    computes for this model (see :func:`skipped_key_metrics` for the others)."""
    out = ["error_rate", "latency_p50", "latency_p99", "throughput"]
    versions = store.models.list_versions(model)
    if versions:
        latest = versions[-1]
        for f in latest.input_schema.get("features", []):
            out.append(f"feature[{f['name']}].missing_fraction")
        classes = (latest.output or {}).get("classes") or []
        out += [f"class_share[{c}]" for c in classes]
        if (latest.output or {}).get("has_probabilities") or classes:
            out.append("confidence_mean")
    live, _ = _key_metrics(store, model, slo)
    out += [k for k in live if k not in out]
    return out


def skipped_key_metrics(store: Database, model: str, slo: SLO | None) -> dict[str, str]:
    """SLO key metrics no live source computes for this model, with why (``roc_auc`` is
    an evaluation metric of a registered version, not a metric of served traffic)."""
    return _key_metrics(store, model, slo)[1]


def _key_metrics(store: Database, model: str, slo: SLO | None
                 ) -> tuple[list[str], dict[str, str]]:
    from rampup.alerts.available import available_problem, model_infos
    from rampup.alerts.condition import canonical_metric

    live: list[str] = []
    skipped: dict[str, str] = {}
    infos = None
    for k in (slo.key_metrics if slo is not None else []):
        name = canonical_metric(k)
        if name is None:
            skipped[k] = ("an evaluation metric of registered versions; no live source "
                          "computes it from served traffic")
            continue
        if infos is None:
            infos = model_infos(store, model)
        problem = available_problem(name, infos)
        if problem is not None:
            skipped[k] = problem
        else:
            live.append(name)
    return live, skipped


def gather(source: MetricSource, model: str, metrics: Sequence[str], *, since: float,
           until: float, step_s: float) -> dict[str, list[float]]:
    """Each metric's history, one value per ``step_s`` window (windows without data left
    out)."""
    out: dict[str, list[float]] = {}
    for metric in metrics:
        points = source.series(model, metric, since=since, until=until, step_s=step_s)
        out[metric] = [float(v) for _, v in points if v is not None]
    return out


def to_yaml(model: str, suggestions: Sequence[Suggestion],
            skipped: Mapping[str, str] | None = None) -> str:
    """The rules as a block ready to paste under ``models.<model>`` in rampup.yaml
    (``skipped``: metrics left out, with why, as comments)."""
    import yaml

    rules: list[dict[str, Any]] = [s.spec.to_yaml_dict() for s in suggestions]
    head = f"# suggested alert rules for {model}: paste under models.{model} in rampup.yaml\n"
    for metric, why in (skipped or {}).items():
        head += f"# not suggested: {metric} ({why})\n"
    if not rules:
        return head + "# (not enough history to suggest anything)\nalerts: []\n"
    return head + yaml.safe_dump({"alerts": rules}, sort_keys=False, allow_unicode=True)


def _higher_is_better(metric: str) -> bool:
    m = parse_metric(metric)
    return any(m.family.startswith(p) for p in HIGHER_IS_BETTER)


def _round(x: float, up: bool) -> str:
    """Three significant digits, rounded away from the normal range (up for ``>``).

    >>> _round(0.004 * 1.5, True), _round(1234.5, True), _round(0.01234, False)
    ('0.006', '1240', '0.0123')
    """
    if x == 0:
        return "0"
    x = float(f"{x:.9g}")  # drop float noise such as 0.006000000000000001
    digits = 2 - math.floor(math.log10(abs(x)))
    factor = 10.0 ** digits
    y = (math.ceil if up else math.floor)(round(x * factor, 6)) / factor
    y = round(y, max(digits, 0))
    return str(int(y)) if float(y).is_integer() else repr(y)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (s or "rule")[:63]

