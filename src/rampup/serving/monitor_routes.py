"""HTTP: metric series, the metric catalogue and window profiles of a model.

``GET /v1/models/{name}/metrics?metric=latency_p99&metric=error_rate&since=-1h&step=5m``
merges every replica's stored windows (and this replica's unflushed ones).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from rampup.durations import parse_duration, parse_time
from rampup.errors import NotFoundError, ValidationError
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.compute import catalogue, check_metric
from rampup.monitor.features import VersionInfo
from rampup.monitor.pipelines import stage_map
from rampup.monitor.query import MAX_POINTS, StoreMetricSource, window_profile
from rampup.serving.auth import require_predict
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state

router = APIRouter(route_class=EdgeRoute)

CATALOGUE_S = 3 * 3600.0  # recent windows read for items (events, classes) seen
DEFAULT_METRICS = ("requests", "throughput", "error_rate", "latency_p50", "latency_p99")
_ROLE = re.compile(r"^[a-z][a-z_]{0,15}$")


def _check_read(request: Request, st: AppState) -> None:
    require_predict(request, st.settings.predict_token, st.settings.admin_token)


async def _known_model(st: AppState, name: str) -> None:
    if name in st.runtime.models or name in st.project.pipelines():
        return
    if await asyncio.to_thread(st.store.models.get_model, name) is None:
        raise NotFoundError(f"model {name!r} does not exist", fix="check the model name",
                            field="name")


def _params(request: Request, now: float) -> dict[str, Any]:
    q = request.query_params
    metrics = [m.strip() for raw in q.getlist("metric") for m in raw.split(",") if m.strip()]
    for metric in metrics:
        check_metric(metric)
    since = parse_time(q["since"], "since", now) if "since" in q else now - 3600.0
    until = parse_time(q["until"], "until", now) if "until" in q else now
    if until <= since:
        raise ValidationError(f"until ({until}) must be after since ({since})",
                              fix="swap them, or leave until out (now)", field="until")
    step = parse_duration(q["step"], "step", positive=True) if "step" in q else 60.0
    if step <= 0 or (until - since) / step > MAX_POINTS:
        raise ValidationError(f"step={q.get('step')!r} gives more than {MAX_POINTS} points "
                              f"over {until - since:.0f} s",
                              fix="use a larger step or a shorter range", field="step")
    role = q.get("role", "answer")
    if not _ROLE.fullmatch(role):
        raise ValidationError(f"role={role!r} is not a role",
                              fix="use answer (the default), shadow or pinned", field="role")
    return {"metrics": metrics or list(DEFAULT_METRICS), "since": since, "until": until,
            "step": step, "version": q.get("version") or None, "role": role,
            "stage": q.get("stage") or None}


@router.get("/v1/models/{name}/metrics", tags=["monitoring"],
            summary="Metric series merged across replicas",
            description="`metric` (repeatable or comma-separated; names from "
                        "`/metrics/catalogue`), `version` (default: all versions merged), "
                        "`role` (answer, shadow, pinned), `stage` (a pipeline stage; default: the "
                        "model's own records), `since`/`until` (a duration back from now "
                        "like `1h` or `-1h`, ISO 8601, or `epoch:1714521600`; default the "
                        "last hour), `step` (seconds, `5m` or `PT5M`; default 60). Each "
                        "series holds `[bucket_start, value]` "
                        "pairs, value null without data; `summary` is each metric over the "
                        "whole range.")
async def metrics_series(request: Request, name: str) -> Response:
    st = app_state(request)
    _check_read(request, st)
    now = time.time()
    p = _params(request, now)
    await _known_model(st, name)
    source = StoreMetricSource(st.store, monitor=st.monitor,
                               stages=stage_map(st.project))

    def read() -> tuple[dict[str, list[tuple[float, float | None]]], dict[str, float | None]]:
        series = source.series_many(name, p["metrics"], version=p["version"], role=p["role"],
                                    stage=p["stage"], since=p["since"], until=p["until"],
                                    step_s=p["step"])
        summary = source.values(name, p["metrics"], version=p["version"], role=p["role"],
                                stage=p["stage"], since=p["since"], until=p["until"])
        return series, summary

    series, summary = await asyncio.to_thread(read)
    return json_response({"model": name, "version": p["version"], "role": p["role"],
                          "stage": p["stage"], "since": p["since"], "until": p["until"],
                          "step": p["step"], "series": series, "summary": summary})


@router.get("/v1/models/{name}/metrics/catalogue", tags=["monitoring"],
            summary="The metrics this model has: features, classes, events, custom metrics")
async def metrics_catalogue(request: Request, name: str) -> Response:
    st = app_state(request)
    _check_read(request, st)
    await _known_model(st, name)
    now = time.time()

    def read() -> dict[str, Any]:
        versions = st.store.models.list_versions(name)
        infos = [VersionInfo.from_parts(v.input_schema, v.output, v.profile) for v in versions]
        source = StoreMetricSource(st.store, monitor=st.monitor,
                               stages=stage_map(st.project))
        agg, _ = source.aggregate(name, since=now - CATALOGUE_S, until=now + 1.0,
                                  sections={"inputs", "output", "events", "performance"})
        keys = st.store.windows.metric_window_keys(name, now - CATALOGUE_S)
        spec = st.project.models.get(name)
        out = catalogue(agg or WindowAggregate(), infos,
                        spec.input_metrics if spec is not None else ())
        return {"model": name, "versions": [v.version for v in versions],
                "windows": [{"version": v, "role": r, "stage": s or None} for v, r, s in keys],
                **out}

    return json_response(await asyncio.to_thread(read))


@router.get("/v1/models/{name}/metrics/profile", tags=["monitoring"],
            summary="A window profile: live inputs and outputs shaped like the reference "
                    "profile (for drift)")
async def metrics_profile(request: Request, name: str) -> Response:
    st = app_state(request)
    _check_read(request, st)
    now = time.time()
    p = _params(request, now)
    await _known_model(st, name)
    doc = await asyncio.to_thread(window_profile, st.store, name, p["version"], p["since"],
                                  p["until"], role=p["role"], stage=p["stage"],
                                  monitor=st.monitor)
    return json_response(doc)
