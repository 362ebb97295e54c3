"""The metric catalogue: every metric a chart, a check or an alert rule can name.

Names are flat strings. Per-feature, per-class and per-event metrics carry the item in
brackets: ``feature[income].missing_fraction``, ``class_share[1]``, ``event_rate[clicked]``,
``custom[brightness].mean``. Drift metrics (``drift.*``, ``concept.*``: :data:`DRIFT`,
``drift.feature[<name>].<stat>``) are computed by the drift package.

>>> parse_metric("feature[income].missing_fraction")
MetricName(family='feature', item='income', stat='missing_fraction')
>>> parse_metric("latency_p99")
MetricName(family='latency_p99', item=None, stat=None)
>>> is_known("class_share[1]"), is_known("speed")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# software
SOFTWARE = ("requests", "throughput", "errors", "error_rate", "latency_p50", "latency_p90",
            "latency_p95", "latency_p99", "latency_mean", "in_flight", "cpu_percent",
            "memory_rss_mb", "log_queue_depth", "shadow_queue_depth", "batch_queue_depth",
            "log_dropped", "predictions", "invalid_input_rate", "server_error_rate",
            "client_error_rate", "model_cpu_ms")
#: levels of the serving process (replica, worker), whatever versions it serves: shown per
#: process, and not something a version can be judged or alerted on alone
PROCESS_LEVELS = ("cpu_percent", "memory_rss_mb")
# output (whole window)
OUTPUT = ("null_fraction", "confidence_mean", "confidence_p10", "output_mean",
          "output_length_mean", "repeated_query_rate", "input_length_mean", "early_stop_rate")
# performance (once labels arrive; attributed to the prediction's window)
PERFORMANCE = ("labelled", "label_rate", "accuracy", "error_rate_labelled", "precision_macro",
               "recall_macro", "f1_macro", "mae", "rmse",
               # task outputs once labels arrive (ranking at the default cut-off, 10)
               "wer", "cer", "mrr", "recall_at_10", "ndcg_at_10", "map_at_10", "recall_50",
               "precision_50")
#: the task metrics above, read from the performance aggregate's sums
TASK_PERFORMANCE = frozenset({"wer", "cer", "mrr", "recall_at_10", "ndcg_at_10", "map_at_10",
                              "recall_50", "precision_50"})
# families with an item in brackets and an optional stat
FEATURE_STATS = ("count", "missing_fraction", "mean", "std", "min", "max", "unseen_fraction",
                 "length_mean")
FAMILIES = {
    "feature": FEATURE_STATS,
    "custom": ("mean", "std", "min", "max", "count", "errors"),
    "class_share": (),
    "event_rate": (),
    "precision": (),
    "recall": (),
    "f1": (),
}

# drift and concept metrics of a window, computed by the drift package when an alert rule
# reads one (rampup.drift.metrics.drift_metrics; tests/alerts/test_available.py checks the
# two lists agree)
DRIFT = ("drift.share_drifted", "drift.dataset", "drift.output", "drift.output.psi",
         "drift.label", "drift.label.psi", "concept.accuracy_drop")
#: embedding drift (rampup.drift.embeddings): the MMD effect and its permutation p-value,
#: for versions whose outputs carry an embedding
DRIFT_EMBEDDING = ("drift.embedding", "drift.embedding.p_value")
#: label-free estimates of a binary classifier's decisions (rampup.drift.estimate), for
#: versions registered with labelled reference data and class probabilities
LABEL_FREE = ("concept.estimated_accuracy", "concept.estimated_f1",
              "concept.estimated_roc_auc")
DRIFT_FEATURE_STATS = ("effect", "p_value", "q_value", "drifted", "unseen_share")
#: drift feature stats only some kinds of feature have (the rest: every kind)
DRIFT_FEATURE_KINDS = {"unseen_share": ("categorical",)}
#: drift metrics only an exact check on raw rows computes (``rampup drift --reference``,
#: :func:`rampup.drift.check_frames`), never a stored window: not for alert rules
EXACT_ONLY = {
    "drift.multivariate.auc": "the domain classifier runs only in exact checks on raw rows "
                              "(rampup drift --reference FILE), not on the stored windows "
                              "alert rules read; alert on drift.dataset or "
                              "drift.share_drifted instead",
    "drift.multivariate.drifted": "the domain classifier runs only in exact checks on raw "
                                  "rows, not on the stored windows alert rules read; "
                                  "alert on drift.dataset instead",
}
_DRIFT_FEATURE = re.compile(r"^drift\.feature\[(?P<item>[^\]]+)\]\.(?P<stat>[a-z_]+)$")

_ITEM = re.compile(
    r"^(?P<family>[a-z_][a-z0-9_]*)\[(?P<item>[^\]]+)\](?:\.(?P<stat>[a-z_0-9]+))?$")


@dataclass(frozen=True)
class MetricName:
    family: str
    item: str | None
    stat: str | None


def parse_metric(name: str) -> MetricName:
    m = _ITEM.match(name) or _DRIFT_FEATURE.match(name)
    if m:
        family = m["family"] if "family" in m.groupdict() else "drift.feature"
        return MetricName(family, m["item"], m["stat"])
    return MetricName(name, None, None)


def is_known(name: str) -> bool:
    """A name some source computes for a window (the monitor, or the drift package)."""
    if name in DRIFT or name in DRIFT_EMBEDDING or name in LABEL_FREE:
        return True
    m = parse_metric(name)
    if m.family == "drift.feature":
        return m.stat in DRIFT_FEATURE_STATS
    if m.item is None:
        return name in SOFTWARE or name in OUTPUT or name in PERFORMANCE
    stats = FAMILIES.get(m.family)
    if stats is None:
        return False
    return (m.stat is None and not stats) or (m.stat in stats)


class MetricSource(Protocol):
    """What checks, alert rules and the dashboard read metrics through.

    ``value``: one number for ``metric`` over the window ``[now - window_s, now)``, merged
    across replicas (and across versions when ``version`` is None); None when there is no
    data. ``series``: ``(window_start, value)`` points every ``step_s`` seconds.
    """

    def value(self, model: str, metric: str, *, version: str | None = None,
              role: str = "answer", stage: str | None = None, window_s: float = 300.0,
              now: float | None = None) -> float | None: ...

    def series(self, model: str, metric: str, *, version: str | None = None,
               role: str = "answer", stage: str | None = None, since: float,
               until: float | None = None, step_s: float = 60.0
               ) -> list[tuple[float, float | None]]: ...
