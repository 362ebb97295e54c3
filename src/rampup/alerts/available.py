"""Alert rules only on metrics that exist for the model.

:func:`rampup.alerts.condition.parse_condition` refuses names outside the catalogue; this
module refuses names in the catalogue that no source would ever compute *for this
model*, so a rule cannot sit silently in ``no data`` for ever: a feature the model does
not have (``feature[incme].mean``), a statistic its kind has no value for (``mean`` of a
categorical feature), a class it never predicts, a custom input metric nobody declared,
a performance metric of the other task (``mae`` of a classifier).

The model's names come from its registered versions (schemas, outputs) and the project
file's ``input_metrics``; where they do not pin an item down (a free-form input schema,
outputs without a class list, a model with no version yet) the item is not checked.

>>> from rampup.monitor.features import VersionInfo
>>> info = VersionInfo.from_parts(
...     {"features": [{"name": "income", "dtype": "float"}, {"name": "city",
...      "dtype": "string", "categories": ["paris", "rome"]}]}, {"kind": "class", "classes": [0, 1]}, None)
>>> available_problem("feature[incme].mean", [info])
"model has no feature 'incme' (did you mean 'feature[income].mean' or 'feature[income].min' or 'feature[income].max'?)"
>>> available_problem("feature[city].mean", [info])
"feature 'city' is categorical: it has no 'mean' (its metrics: count, missing_fraction, unseen_fraction)"
>>> available_problem("class_share[1]", [info]) is None
True
>>> available_problem("mae", [info])
"mae needs a model with numeric outputs; this model's outputs are classes (its performance metrics: accuracy, error_rate_labelled, precision_macro, recall_macro, f1_macro)"
"""  # noqa: E501

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rampup.errors import ValidationError
from rampup.monitor.compute import FEATURE_KIND_STATS
from rampup.monitor.features import VersionInfo
from rampup.monitor.names import (
    DRIFT,
    DRIFT_EMBEDDING,
    DRIFT_FEATURE_KINDS,
    DRIFT_FEATURE_STATS,
    LABEL_FREE,
    PERFORMANCE,
    TASK_PERFORMANCE,
    parse_metric,
)

if TYPE_CHECKING:
    from rampup.store import Database

CLASS_METRICS = ("accuracy", "error_rate_labelled", "precision_macro", "recall_macro",
                 "f1_macro")
NUMBER_METRICS = ("mae", "rmse")
_PER_CLASS = ("class_share", "precision", "recall", "f1")


def model_infos(store: Database, model: str) -> list[VersionInfo]:
    return [VersionInfo.from_parts(v.input_schema, v.output, v.profile)
            for v in store.models.list_versions(model)]


def model_metric_names(infos: Sequence[VersionInfo], custom: Iterable[str] = ()
                       ) -> list[str]:
    """Every concrete alertable name the model's versions pin down (for suggestions)."""
    from rampup.monitor.aggregates import WindowAggregate
    from rampup.monitor.compute import catalogue

    cat = catalogue(WindowAggregate(), infos, custom)
    names = list(cat["metrics"]) + list(DRIFT)
    if any(i.embedding for i in infos):
        names += list(DRIFT_EMBEDDING)
    if any(i.label_free for i in infos):
        names += list(LABEL_FREE)
    kinds = {f.name: f.kind for i in infos for f in i.features}
    names += [f"drift.feature[{f}].{s}" for f in cat["features"] for s in DRIFT_FEATURE_STATS
              if s not in DRIFT_FEATURE_KINDS or kinds.get(f) in DRIFT_FEATURE_KINDS[s]]
    return names


def available_problem(metric: str, infos: Sequence[VersionInfo],
                      custom: Iterable[str] | None = None) -> str | None:
    """Why no source computes ``metric`` (a catalogue name) for a model with these
    versions, or None when one does or the versions do not say. ``custom``: the declared
    input metrics (None: unknown, not checked)."""
    if not infos:
        return None
    custom_names = None if custom is None else list(custom)
    m = parse_metric(metric)
    features = {f.name: f.kind for i in infos for f in i.features}
    free_form = any(i.free_form for i in infos)

    def near(candidates: Iterable[str]) -> str:
        close = difflib.get_close_matches(metric, list(candidates), n=3, cutoff=0.5)
        return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""

    def everything() -> list[str]:
        return model_metric_names(infos, custom_names or ())

    if m.family in ("feature", "drift.feature") and m.item is not None:
        if m.item not in features:
            if free_form:
                return None
            known = ", ".join(sorted(features)) or "none"
            return f"model has no feature {m.item!r}" + (near(everything()) or
                                                        f" (its features: {known})")
        kind = features[m.item]
        only = DRIFT_FEATURE_KINDS.get(m.stat or "")
        if m.family == "drift.feature" and only is not None and kind not in only:
            return (f"feature {m.item!r} is {kind}: {m.stat} is computed for "
                    f"{' and '.join(only)} features only (values the reference never had)")
        stats = FEATURE_KIND_STATS.get(kind)
        if m.family == "feature" and stats is not None and m.stat not in stats:
            return (f"feature {m.item!r} is {kind}: it has no {m.stat!r} (its metrics: "
                    f"{', '.join(stats)})")
        return None
    if m.family in _PER_CLASS and m.item is not None:
        lists = [i.classes for i in infos]
        if any(c is None for c in lists):
            return None  # some version does not say which classes it predicts
        classes = sorted({c for cs in lists for c in (cs or ())})
        if m.item not in classes:
            return (f"model never predicts class {m.item!r} (its classes: "
                    f"{', '.join(classes) or 'none'})")
        return None
    if m.family == "custom" and m.item is not None and custom_names is not None:
        if m.item not in custom_names:
            declared = ", ".join(custom_names) or "none"
            return (f"no input metric {m.item!r} is declared for this model (declared: "
                    f"{declared}; add it under input_metrics in rampup.yaml)")
        return None
    if metric in DRIFT_EMBEDDING:
        if not any(i.embedding for i in infos):
            return (f"{metric} needs a version whose outputs carry an embedding (return "
                    "{'embedding': [...]} per prediction and register it with reference "
                    "data); no version of this model does")
        return None
    if metric in LABEL_FREE:
        if not any(i.label_free for i in infos):
            return (f"{metric} needs a binary classifier with class probabilities registered "
                    "with labelled reference data (--reference with --label-column); no "
                    "version of this model is")
        return None
    if metric in TASK_PERFORMANCE:
        from rampup.tasks.family import family_of_metric

        task = family_of_metric(metric).name
        tasks = {i.output_task for i in infos}
        if task not in tasks:
            return (f"{metric} needs a model whose output task is {task} (declare "
                    f"output = {{'kind': 'free', 'task': '{task}'}}); this model's outputs "
                    f"are {', '.join(sorted(i.output_task or i.output_kind for i in infos))}")
        return None
    if metric in PERFORMANCE:
        kinds = {i.output_kind for i in infos}
        if metric in NUMBER_METRICS and kinds == {"class"}:
            return (f"{metric} needs a model with numeric outputs; this model's outputs are "
                    f"classes (its performance metrics: {', '.join(CLASS_METRICS)})")
        if metric in CLASS_METRICS and kinds == {"number"}:
            return (f"{metric} needs a classifier; this model's outputs are numbers (its "
                    f"performance metrics: {', '.join(NUMBER_METRICS)})")
    return None


def check_available(store: Database, model: str, metric: str, *, where: str,
                    custom: Iterable[str] | None = None) -> None:
    """Raise :class:`ValidationError` (field ``condition``) when no source computes
    ``metric`` for ``model`` (see the module doc)."""
    infos = model_infos(store, model)
    problem = available_problem(metric, infos, custom)
    if problem is not None:
        raise ValidationError(
            f"{where}: no source computes {metric!r} for {model}: {problem}",
            fix=f"pick a metric this model has (GET /v1/models/{model}/metrics/catalogue "
                "lists them)", field="condition")
