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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rampup.errors import NotFoundError
from rampup.monitor.cascade import Method, Series, cascade
from rampup.serving.pipeline_spec import PipelineSpec, stage_tag

if TYPE_CHECKING:
    from rampup.monitor.query import StoreMetricSource
    from rampup.project import ProjectFile
    from rampup.store import Store

BASE_METRICS = ("error_rate", "latency_p50", "null_fraction", "confidence_mean",
                "output_mean", "accuracy", "mae")
MAX_ITEMS = 10  # features / classes per stage in the default metric list


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


def default_stage_metrics(store: Store, model: str) -> list[str]:
    """The metrics a stage is watched on: software, output and performance basics, the
    means and missing fractions of its latest version's numeric features and the shares
    of its classes (up to ten of each)."""
    out = list(BASE_METRICS)
    versions = store.list_versions(model)
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


def cascade_report(source: StoreMetricSource, project: ProjectFile, pipeline: str, *,
                   metric: str, since: float, until: float, step_s: float,
                   baseline: tuple[float, float],
                   stage_metrics: Sequence[str] | None = None,
                   method: Method | None = None) -> dict[str, Any]:
    """Read every stage's series and the end-to-end ``metric``; judge them (see
    :mod:`rampup.monitor.cascade`). The payload is documented on the HTTP route."""
    pipe = pipeline_or_404(project, pipeline)
    stages: list[tuple[str, Mapping[str, Series]]] = []
    models = {}
    for s in pipe.stages:
        metrics = list(stage_metrics) if stage_metrics else default_stage_metrics(
            source.store, s.model)
        if metric not in metrics:
            metrics.append(metric)
        series = source.series_many(s.model, metrics, stage=stage_tag(pipeline, s.stage),
                                    since=since, until=until, step_s=step_s)
        stages.append((s.stage, series))
        models[s.stage] = s.model
    e2e = source.series_many(pipeline, [metric], since=since, until=until,
                             step_s=step_s)[metric]
    result = cascade(stages, baseline=baseline, end_to_end=(metric, e2e),
                     method=method or Method())
    body = result.to_dict()
    for st in body["stages"]:
        st["model"] = models[st["stage"]]
        st["tag"] = stage_tag(pipeline, st["stage"])
    e2e_change = result.end_to_end.change if result.end_to_end else None
    first = result.stages[0].first_change if result.stages else None
    return {"pipeline": pipeline, "metric": metric, "since": since, "until": until,
            "step": step_s, **body,
            "explained": bool(e2e_change and first and first.start <= e2e_change.start)}
