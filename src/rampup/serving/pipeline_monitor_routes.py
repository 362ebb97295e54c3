"""HTTP: the cascade view of a pipeline (which stage's metrics changed first).

``GET /v1/models/{pipeline}/cascade?metric=accuracy&since=-6h&baseline=2h&step=5m``

The parameters and the JSON payload (shaped for a dashboard panel) are documented in
:data:`DESCRIPTION`, which is also the route's description at ``/docs``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from rampup.durations import parse_duration, parse_time
from rampup.errors import ValidationError
from rampup.monitor.cascade import Method
from rampup.monitor.compute import check_metric
from rampup.monitor.pipelines import cascade_report, pipeline_or_404, stage_map
from rampup.monitor.query import MAX_POINTS, StoreMetricSource
from rampup.serving.auth import require_predict
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import app_state

router = APIRouter(route_class=EdgeRoute)

DESCRIPTION = """\
For a pipeline: each stage's metrics (its rows under its own model, stage
`<pipeline>/<stage>`) and the end-to-end `metric`, each judged against its own baseline
(robust z-score: median and 1.4826·MAD of the baseline windows, |z| ≥ `threshold` for
`for` consecutive windows; see `rampup.monitor.cascade`). Stages are ranked by the first
window where any of their metrics departed, so a drifting upstream stage shows up before
the downstream stage it disturbs.

Parameters: `metric` (end-to-end metric, default `accuracy`), `since`/`until` (default
the last 6 h), `step` (window of each point, default 5m), `baseline` (a duration — the
first part of the range — or `START..END` times; default: from the earliest data in the
range, its first third, at least 5 windows; when the data spans fewer than 30 steps — a
young deployment — the range is re-read from the first data at a finer step, at least 1m),
`stage_metric` (repeatable; default per stage: error rate, latency, outputs, accuracy,
its numeric features' mean and missing fraction and its class shares), `threshold`
(default 4), `for` (default 3).

Payload (for a dashboard panel):

    {"pipeline", "metric", "since", "until", "step",
     "baseline": {"since", "until"},
     "method": {"name": "robust_z", "threshold", "for_windows", "min_baseline",
                "rel_floor", "abs_floor"},
     "end_to_end": {"metric", "series": [[start, value|null], ...],
                    "baseline": {"median", "scale", "n"} | null,
                    "change": {"start", "value", "z", "direction": "up"|"down"} | null},
     "first": stage name | null,        # the stage that changed first
     "order": [stage names, first change first; unchanged stages last, in order],
     "explained": bool,                 # the first stage changed no later than end to end
     "stages": [{"rank", "stage", "model", "tag", "position", "first_change": start|null,
                 "changed_metrics": [metric, ... earliest first],
                 "metrics": [{"metric", "series", "baseline", "change"}, ...]}, ...]}
"""


def _baseline(text: str | None, since: float, until: float, now: float
              ) -> tuple[float, float] | None:
    if not text:
        return None  # from the earliest data (works on a young deployment)
    if ".." in text:
        a, b = text.split("..", 1)
        start, end = parse_time(a, "baseline", now), parse_time(b, "baseline", now)
    else:
        start, end = since, since + parse_duration(text, "baseline")
    if not since <= start < end <= until:
        raise ValidationError(f"baseline={text!r} is not a period inside the range",
                              fix="give a duration shorter than the range (2h) or "
                                  "START..END inside since..until", field="baseline")
    return start, end


def _float(q: Any, name: str, default: float) -> float:
    try:
        return float(q[name]) if name in q else default
    except ValueError:
        raise ValidationError(f"{name}={q[name]!r} is not a number", fix="give a number",
                              field=name) from None


@router.get("/v1/models/{name}/cascade", tags=["monitoring"],
            summary="Which pipeline stage's metrics changed first", description=DESCRIPTION)
async def pipeline_cascade(request: Request, name: str) -> Response:
    st = app_state(request)
    require_predict(request, st.settings.predict_token, st.settings.admin_token)
    pipeline_or_404(st.project, name)
    q = request.query_params
    now = time.time()
    metric = check_metric(q.get("metric") or "accuracy")
    stage_metrics = [check_metric(m.strip()) for raw in q.getlist("stage_metric")
                     for m in raw.split(",") if m.strip()]
    since = parse_time(q["since"], "since", now) if "since" in q else now - 6 * 3600.0
    until = parse_time(q["until"], "until", now) if "until" in q else now
    step = parse_duration(q["step"], "step", positive=True) if "step" in q else 300.0
    if until <= since or step <= 0 or (until - since) / step > MAX_POINTS:
        raise ValidationError("since/until/step give no points or too many",
                              fix="since before until, and at most "
                                  f"{MAX_POINTS} steps", field="step")
    baseline = _baseline(q.get("baseline"), since, until, now)
    windows = _float(q, "for", 3)
    if windows < 1:
        raise ValidationError("for must be at least 1", fix="give 1 or more", field="for")
    method = Method(threshold=_float(q, "threshold", 4.0), for_windows=int(windows))
    source = StoreMetricSource(st.store, monitor=st.monitor, stages=stage_map(st.project))
    body = await asyncio.to_thread(
        cascade_report, source, st.project, name, metric=metric, since=since, until=until,
        step_s=step, baseline=baseline, stage_metrics=stage_metrics or None, method=method)
    return json_response(body)
