"""Monitoring a pipeline: where its stages' windows live, and the cascade report.

Stage rows are logged under the stage's own model with ``stage = "<pipeline>/<stage>"``
(:mod:`rampup.serving.pipeline`); the pipeline's end-to-end rows under the pipeline's
name without a stage. So every stage has the usual metrics (``GET
/v1/models/vad/metrics?stage=transcribe/vad``, or ``GET
/v1/models/transcribe/metrics?stage=vad`` through :func:`stage_map`) and the pipeline
has the end-to-end ones (latency, ``error_rate`` — a failure at any stage fails the
request —, ``early_stop_rate``, the final output's class mix, and performance once
labels arrive on the request id).

>>> from rampup.project import ProjectFile
>>> p = ProjectFile.model_validate({"models": {"vad": {}, "asr": {}, "t": {"pipeline": {
...     "stages": [{"model": "vad"}, {"model": "asr", "name": "speech"}]}}}})
>>> stage_map(p)
{'t': {'vad': ('vad', 't/vad'), 'speech': ('asr', 't/speech')}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rampup.errors import NotFoundError
from rampup.monitor.cascade import Method, Series, cascade
from rampup.serving.pipeline_spec import PipelineSpec, stage_tag

if TYPE_CHECKING:
    from rampup.monitor.query import StoreMetricSource
    from rampup.project import ProjectFile
    from rampup.store import Database

BASE_METRICS = ("error_rate", "latency_p50", "null_fraction", "confidence_mean",
                "output_mean", "accuracy", "mae")
MAX_ITEMS = 10  # features / classes per stage in the default metric list
#: with the automatic baseline, the range is re-read at a finer step when the data spans
#: fewer windows than this (a young deployment), but never finer than the monitor's.
AUTO_WINDOWS = 30
MONITOR_STEP_S = 60.0


def stage_map(project: ProjectFile) -> dict[str, dict[str, tuple[str, str]]]:
    """pipeline -> stage name -> (stage model, stage tag)."""
    return {name: {s.stage: (s.model, stage_tag(name, s.stage)) for s in pipe.stages}
            for name, pipe in project.pipelines().items()}


def pipeline_or_404(project: ProjectFile, name: str) -> PipelineSpec:
    pipe = project.pipelines().get(name)
    if pipe is None:
        known = ", ".join(sorted(project.pipelines())) or "none"
        raise NotFoundError(f"{name!r} is not a pipeline (pipelines: {known})",
                            fix="declare it with a 'pipeline' block in rampup.yaml",
                            field="name")
    return pipe


def default_stage_metrics(store: Database, model: str) -> list[str]:
    """The metrics a stage is watched on: software, output and performance basics, the
    means and missing fractions of its latest version's numeric features and the shares
    of its classes (up to ten of each)."""
    out = list(BASE_METRICS)
    versions = store.models.list_versions(model)
    if not versions:
        return out
    latest = versions[-1]
    numeric = [f["name"] for f in latest.input_schema.get("features", [])
               if f.get("dtype", "float") in ("float", "int") and not f.get("categories")]
    for name in numeric[:MAX_ITEMS]:
        out += [f"feature[{name}].mean", f"feature[{name}].missing_fraction"]
    classes = latest.output.get("classes") or []
    out += [f"class_share[{c}]" for c in classes[:MAX_ITEMS]]
    return out


def first_data(series: Sequence[Series]) -> float | None:
    """The earliest window start with a value in any of the series.

    >>> first_data([[(0.0, None), (60.0, 1.0)], [(0.0, None), (60.0, None), (120.0, 2.0)]])
    60.0
    """
    starts = [t for s in series for t, v in s if v is not None]
    return min(starts) if starts else None


def auto_baseline(start: float, until: float, step_s: float, method: Method
                  ) -> tuple[float, float]:
    """The baseline when none is given: from the earliest data, its first third (at
    least ``min_baseline`` windows), so a deployment minutes old has one, where "the
    first half of the last six hours" would predate its data.

    >>> auto_baseline(0.0, 3600.0, 60.0, Method())
    (0.0, 1200.0)
    >>> auto_baseline(0.0, 300.0, 60.0, Method())
    (0.0, 300.0)
    """
    windows = max(1, round((until - start) / step_s))
    return start, start + max(method.min_baseline, windows // 3) * step_s


def cascade_report(source: StoreMetricSource, project: ProjectFile, pipeline: str, *,
                   metric: str, since: float, until: float, step_s: float,
                   baseline: tuple[float, float] | None,
                   stage_metrics: Sequence[str] | None = None,
                   method: Method | None = None) -> dict[str, Any]:
    """Read every stage's series and the end-to-end ``metric``; judge them (see
    :mod:`rampup.monitor.cascade`). The payload is documented on the HTTP route.

    ``baseline`` None: from the earliest data in the range (:func:`auto_baseline`); when
    the data spans fewer than :data:`AUTO_WINDOWS` steps (a young deployment), the range
    is re-read from the first data at a step that gives about that many (at least the
    monitor's one minute)."""
    pipe = pipeline_or_404(project, pipeline)
    method = method or Method()
    models = {s.stage: s.model for s in pipe.stages}
    watched = {}
    for s in pipe.stages:
        metrics = list(stage_metrics) if stage_metrics else default_stage_metrics(
            source.store, s.model)
        if metric not in metrics:
            metrics.append(metric)
        watched[s.stage] = metrics

    def read(a: float, step: float) -> tuple[list[tuple[str, Mapping[str, Series]]], Series]:
        stages: list[tuple[str, Mapping[str, Series]]] = []
        for s in pipe.stages:
            stages.append((s.stage, source.series_many(
                s.model, watched[s.stage], stage=stage_tag(pipeline, s.stage), since=a,
                until=until, step_s=step)))
        e2e: Series = source.series_many(pipeline, [metric], since=a, until=until,
                                         step_s=step)[metric]
        return stages, e2e

    stages, e2e = read(since, step_s)
    if baseline is None:
        start = first_data([e2e, *(x for _, ms in stages for x in ms.values())])
        if start is None:
            start = since
        elif (until - start) / step_s < AUTO_WINDOWS:
            fine = max(MONITOR_STEP_S,
                       math.ceil((until - start) / AUTO_WINDOWS / MONITOR_STEP_S)
                       * MONITOR_STEP_S)
            if fine < step_s:
                step_s = fine
                since = start
                stages, e2e = read(since, step_s)
                start = first_data([e2e, *(x for _, ms in stages
                                          for x in ms.values())]) or start
        baseline = auto_baseline(start, until, step_s, method)
    result = cascade(stages, baseline=baseline, end_to_end=(metric, e2e), method=method)
    body = result.to_dict()
    for st in body["stages"]:
        st["model"] = models[st["stage"]]
        st["tag"] = stage_tag(pipeline, st["stage"])
    e2e_change = result.end_to_end.change if result.end_to_end else None
    first = result.stages[0].first_change if result.stages else None
    return {"pipeline": pipeline, "metric": metric, "since": since, "until": until,
            "step": step_s, **body,
            "explained": bool(e2e_change and first and first.start <= e2e_change.start)}
