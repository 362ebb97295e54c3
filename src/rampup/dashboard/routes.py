"""HTTP for the dashboard: the pages (``/``, ``/dashboard``, ``/dashboard/models/{name}``),
their JSON panels under ``/dashboard/api/`` and the static files (our CSS/JS and the
vendored chart library), all served by rampup itself.

Pages are shells without data (no token needed to load them); every panel's data comes
from a JSON route that takes the same token as the other read APIs (``require_predict``),
and admin buttons call the existing admin API with the admin token the page keeps in
``sessionStorage``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

import rampup
from rampup.dashboard import api
from rampup.dashboard.cache import BucketCache
from rampup.durations import parse_time
from rampup.serving.auth import require_predict
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state

HERE = Path(__file__).parent
log = logging.getLogger("rampup.dashboard")
STATIC = "/dashboard/static"
#: no inline scripts, nothing from elsewhere: an injected tag cannot run even if some
#: text escaped its escaping. ``blob:`` images and media: the input sample's thumbnails and
#: players, whose bytes the page fetches with its token.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(static=STATIC, version=rampup.__version__,
                                              ranges=list(api.RANGES), **context)
    return HTMLResponse(html, status, headers={"content-security-policy": CSP,
                                               "x-content-type-options": "nosniff",
                                               "cache-control": "no-store"})


def _sources(request: Request, st: AppState) -> api.Sources:
    cache = getattr(request.app.state, "dashboard_cache", None)
    if cache is None:  # one per app, made on first use (no module state)
        cache = request.app.state.dashboard_cache = BucketCache()
    return api.Sources(st.store, st.project, st.monitor, cache)


def _read(request: Request) -> AppState:
    st = app_state(request)
    require_predict(request, st.settings.predict_token, st.settings.admin_token)
    return st


async def overview_page(request: Request) -> Response:
    return _page("overview.html", title="Models")


async def model_page(request: Request) -> Response:
    st = app_state(request)
    name = request.path_params["name"]
    if not await asyncio.to_thread(_sources(request, st).exists, name):
        return _page("missing.html", 404, title="Unknown model", name=name)
    return _page("model.html", title=name, name=name)


WARM_RANGES = ("1h", "24h")
WARM_EVERY_S = 60.0


def _warm(src: api.Sources, models: list[str], now: float) -> None:
    """Decode the default and the longest common range of each model into the cache, so
    a click from the overview to a model page finds its buckets ready."""
    for name in models:
        for r in WARM_RANGES:
            try:
                api.model_metrics(src, name, r, now)
            except Exception:  # a model removed meanwhile, the store closing: skip
                log.debug("dashboard warm-up of %s (%s) failed", name, r, exc_info=True)


def _start_warm(request: Request, src: api.Sources, models: list[str], now: float) -> None:
    state = request.app.state
    last: dict[str, float] = getattr(state, "dashboard_warmed", None) or {}
    state.dashboard_warmed = last
    due = [m for m in models if now - last.get(m, -math.inf) >= WARM_EVERY_S]
    if not due:
        return
    for m in due:
        last[m] = now
    tasks: set[asyncio.Task[None]] = getattr(state, "dashboard_tasks", None) or set()
    state.dashboard_tasks = tasks
    task = asyncio.get_running_loop().create_task(asyncio.to_thread(_warm, src, due, now))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def overview_data(request: Request) -> Response:
    st = _read(request)
    src = _sources(request, st)
    now = time.time()
    doc = await asyncio.to_thread(api.overview, src, now, request.query_params.get("range"))
    _start_warm(request, src, [m["name"] for m in doc["models"]], now)
    return json_response(doc)


async def metrics_data(request: Request) -> Response:
    st = _read(request)
    name = request.path_params["name"]
    doc = await asyncio.to_thread(api.model_metrics, _sources(request, st), name,
                                  request.query_params.get("range"), time.time(),
                                  request.query_params.get("stage") or None)
    return json_response(doc)


async def sample_data(request: Request) -> Response:
    """A sample of a window's image/audio inputs (of a pipeline's stage with ``stage``),
    or why there is none: bytes not kept, or the fields protected."""
    from rampup.dashboard.media import sample
    from rampup.security.privacy import protected_fields

    st = _read(request)
    name, q, now = request.path_params["name"], request.query_params, time.time()
    since = parse_time(q["since"], "since", now) if "since" in q else now - 300.0
    until = parse_time(q["until"], "until", now) if "until" in q else now + 1.0
    limit = max(1, min(int(q["limit"]) if q.get("limit", "").isdigit() else 6, 24))
    src = _sources(request, st)
    model, tag = name, None
    if q.get("stage"):
        model, tag = api.stage_of(src, name, q["stage"])
    if st.settings.input_bytes_dir is None:
        return json_response({"model": model, "stage": q.get("stage"), "available": False,
                              "reason": "input bytes are not kept (RAMPUP_INPUT_BYTES_DIR is "
                                        "unset): the log holds hashes and metrics only",
                              "items": []})

    def read() -> dict[str, Any]:
        def rows() -> Any:
            for chunk in st.store.predictions.iter_predictions(model, since=since, until=until,
                                                               roles=["answer"], with_labels=False,
                                                               chunk_size=2000):
                yield from chunk
        protected = protected_fields(st.project, model)
        doc = sample(rows(), protected=protected, limit=limit, stage=tag)
        versions = st.store.models.list_versions(model)
        media = {f["name"] for f in (versions[-1].input_schema.get("features", [])
                                     if versions else [])
                 if f.get("dtype") in ("image", "audio")}
        doc["protected"] = sorted(set(doc["protected"]) | (media & set(protected)))
        return doc

    doc = await asyncio.to_thread(read)
    return json_response({"model": model, "stage": q.get("stage"), "available": True,
                          "since": since, "until": until, **doc})


async def input_bytes(request: Request) -> Response:
    """The kept bytes of one input, by content hash (only what RAMPUP_INPUT_BYTES_DIR
    holds: protected fields never reach it)."""
    from starlette.responses import FileResponse

    from rampup.dashboard.media import input_file
    from rampup.errors import NotFoundError

    st = _read(request)
    folder = st.settings.input_bytes_dir
    found = input_file(folder, request.path_params["file"]) if folder is not None else None
    if found is None:
        raise NotFoundError("no such kept input", fix="take the name from the sample API",
                            field="file")
    path, media_type = found
    return FileResponse(path, media_type=media_type,
                        headers={"cache-control": "private, max-age=3600",
                                 "x-content-type-options": "nosniff"})


async def histogram_data(request: Request) -> Response:
    st = _read(request)
    now = time.time()
    q = request.query_params
    since = parse_time(q["since"], "since", now) if "since" in q else now - 3600.0
    until = parse_time(q["until"], "until", now) if "until" in q else now + 1.0
    doc = await asyncio.to_thread(api.feature_histogram, _sources(request, st),
                                  request.path_params["name"], request.path_params["feature"],
                                  since, until)
    return json_response(doc)


async def deployment_data(request: Request) -> Response:
    st = _read(request)
    doc = await asyncio.to_thread(api.deployment, _sources(request, st),
                                  request.path_params["name"], time.time())
    return json_response(doc)


async def alerts_data(request: Request) -> Response:
    st = _read(request)
    doc = await asyncio.to_thread(api.alerts, _sources(request, st), request.path_params["name"])
    return json_response(doc)


async def workers_data(request: Request) -> Response:
    """The background workers' health (the same as /readyz) and the dead letters counted
    by this process."""
    st = _read(request)
    return json_response({
        "down": st.supervisor.down(), "workers": st.supervisor.health(),
        "dead_letters": st.dead_letters.describe() if st.dead_letters is not None else None})


def dashboard_routes() -> list[BaseRoute]:
    """The routes to add to the app (see :func:`rampup.serving.app.create_app`)."""
    m = "/dashboard/api/models/{name}"
    return [
        Route("/", overview_page, methods=["GET"], name="dashboard_root"),
        Route("/dashboard", overview_page, methods=["GET"], name="dashboard"),
        Route("/dashboard/models/{name}", model_page, methods=["GET"], name="dashboard_model"),
        Route("/dashboard/api/overview", overview_data, methods=["GET"]),
        Route("/dashboard/api/workers", workers_data, methods=["GET"]),
        Route(m + "/metrics", metrics_data, methods=["GET"]),
        Route(m + "/deployment", deployment_data, methods=["GET"]),
        Route(m + "/alerts", alerts_data, methods=["GET"]),
        Route(m + "/drift/{feature}", histogram_data, methods=["GET"]),
        Route(m + "/sample", sample_data, methods=["GET"]),
        Route("/dashboard/api/inputs/{file}", input_bytes, methods=["GET"]),
        Mount(STATIC, StaticFiles(directory=HERE / "static"), name="dashboard_static"),
    ]
