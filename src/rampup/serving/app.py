"""The app factory: the CLI, the tests and ``rampup serve`` all build the server here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

import rampup
from rampup.alerts.runner import start_alerts
from rampup.automation.runtime import start_automation
from rampup.config import Settings
from rampup.dashboard.routes import dashboard_routes
from rampup.monitor.recorder import replica_id
from rampup.predlog.partitions import start_partitions
from rampup.predlog.writer import LogWriter
from rampup.project import ProjectFile
from rampup.retrain.loop import start_retraining
from rampup.runtime import DeadLetters, Supervisor
from rampup.security.privacy import load_privacy
from rampup.security.retention import start_retention
from rampup.serving import (
    alert_routes,
    api_docs,
    errors,
    monitor_routes,
    pipeline_monitor_routes,
    privacy_routes,
    retrain_routes,
    review_routes,
    rollout_routes,
    routes,
    v2,
    worker_routes,
)
from rampup.serving.auth import TokenBook
from rampup.serving.door import RampupApp
from rampup.serving.guard import Guard
from rampup.serving.heap import settle
from rampup.serving.jsonbody import JSONBodies
from rampup.serving.metrics import ServingMetrics
from rampup.serving.model_openapi import model_paths
from rampup.serving.monitoring import start_monitoring
from rampup.serving.predict import predict, predict_version
from rampup.serving.runtime import LoadFn, Runtime
from rampup.serving.state import POLLER, POLLER_STALL_AFTER_S, AppState, poll_deployments
from rampup.store import Database

log = logging.getLogger("rampup.serving")

PREDICT_DOC = {
    "summary": "Predict one record (JSON object) or many (array of objects)",
    "description": (
        "The answering version is chosen by the model's deployment (sticky by the request "
        "key header or field). The response holds one entry per record with `prediction`, "
        "`probabilities` and `confidence` where the model has them, and an `id` to send "
        "feedback for. Bad input gives 4xx with `field` and `fix`."),
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        "example": {"age": 35, "annual_income": 52000.0}}}},
    "responses": {"200": {"description": "predictions"},
                  "404": {"description": "unknown model"},
                  "413": {"description": "payload too large"},
                  "422": {"description": "input does not match the schema"},
                  "500": {"description": "the model raised"}},
}


def create_app(settings: Settings, project: ProjectFile | None = None, *,
               store: Database | None = None, load: LoadFn | None = None) -> FastAPI:
    """Build the ASGI app. ``store``/``load`` may be given (tests); otherwise the store is
    opened from settings on startup and versions load through the registry."""
    project = project or ProjectFile()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns = store is None
        st_store: Database = store if store is not None else await asyncio.to_thread(
            Database.open, settings.resolved_database_url, migrate=settings.migrate)
        loader = load
        if loader is None:
            from rampup.registry.registry import Registry

            loader = Registry.from_settings(settings, st_store).load
        metrics = ServingMetrics()
        supervisor = Supervisor(registry=metrics.registry, backoff=settings.worker_backoff())
        metrics.add_collector(supervisor.collector)
        dead_letters = DeadLetters(st_store, registry=metrics.registry, replica=replica_id())
        writer = LogWriter(st_store, queue_size=settings.log_queue_size,
                           batch_size=settings.log_batch_size,
                           flush_interval=settings.log_flush_interval,
                           block_timeout=settings.log_block_timeout,
                           dead_letters=dead_letters,
                           input_bytes_dir=settings.input_bytes_dir).start(supervisor)
        metrics.bind_queue_depth(lambda: writer.depth)
        privacy = await asyncio.to_thread(load_privacy, st_store, project)
        writer.privacy = privacy
        runtime = Runtime(st_store, loader, project,
                          inline_budget_s=settings.inline_budget_ms / 1000.0)
        state = AppState(settings, project, st_store, runtime, writer, metrics, owns_store=owns,
                         supervisor=supervisor, dead_letters=dead_letters,
                         tokens=TokenBook(st_store), privacy=privacy)
        app.state.rampup = state
        monitoring = start_monitoring(state)
        automation = await asyncio.to_thread(start_automation, state)
        retraining = await asyncio.to_thread(start_retraining, state)
        app.state.retraining = retraining
        alerting = await asyncio.to_thread(start_alerts, state, retraining.actions)
        retention = start_retention(state)
        partitions = await asyncio.to_thread(start_partitions, state)
        await asyncio.to_thread(runtime.refresh)
        if settings.gc_freeze:
            settle()  # start-up's objects frozen: no long collector pause while serving
        state.ready = True
        state.poller = supervisor.start(POLLER, partial(poll_deployments, state),
                                        stall_after=POLLER_STALL_AFTER_S)
        controller = None
        if settings.controller:
            from rampup.rollout.controller import RolloutController

            controller = RolloutController(
                st_store, dead_letters=dead_letters,
                min_requests=settings.controller_min_requests).start(
                settings.controller_interval, supervisor)
        try:
            yield
        finally:
            state.ready = False
            await asyncio.to_thread(state.poller.stop, 10.0)
            if controller is not None:
                await asyncio.to_thread(controller.stop)
            if alerting is not None:
                await asyncio.to_thread(alerting.stop)
            await asyncio.to_thread(retraining.stop)
            if retention is not None:
                await asyncio.to_thread(retention.stop)
            if partitions is not None:
                await asyncio.to_thread(partitions.stop)
            for t in list(state.shadow_tasks):
                t.cancel()
            runtime.close()
            await asyncio.to_thread(automation.stop)
            await asyncio.to_thread(writer.stop)
            if monitoring is not None:
                await asyncio.to_thread(monitoring.stop)
            await asyncio.to_thread(supervisor.stop_all, 5.0)  # any left (none, normally)
            dead_letters.flush()
            if owns:
                st_store.close()

    app = RampupApp(title="rampup", version=rampup.__version__, lifespan=lifespan,
                  description="Serve, roll out, monitor and retrain ML models safely.",
                  docs_url=None, redoc_url=None)  # served from vendored files: api_docs
    errors.install(app)
    app.add_middleware(JSONBodies)  # a body is JSON whatever its content-type says
    origins = frozenset(o.strip() for o in settings.allowed_origins.split(",") if o.strip())
    app.add_middleware(Guard, allowed_origins=origins)  # outermost: refuse cross-site first
    app.router.routes.append(Route("/v1/models/{name}/predict", predict, methods=["POST"],
                                   name="predict"))
    app.router.routes.append(Route("/v1/models/{name}/versions/{version}/predict",
                                   predict_version, methods=["POST"], name="predict_version"))
    app.router.routes.extend(v2.routes())  # the Open Inference Protocol beside /v1
    app.include_router(routes.router)
    app.include_router(rollout_routes.router)
    app.include_router(monitor_routes.router)
    app.include_router(pipeline_monitor_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(retrain_routes.router)
    app.include_router(review_routes.router)
    app.include_router(worker_routes.router)
    app.include_router(privacy_routes.router)
    app.router.routes.extend(review_routes.page_routes())
    app.router.routes.extend(dashboard_routes())
    app.router.routes.extend(api_docs.routes())
    _document_raw_routes(app)
    warm_routes(app)
    return app


def warm_routes(app: FastAPI) -> int:
    """Build every included router's route handlers now, in this one thread, before the
    server starts; return how many routes were built.

    FastAPI (0.16x) builds an included router's handlers lazily, on the first request that
    walks it — pydantic ``TypeAdapter`` construction included — while the app's background
    threads are already running; a full test run once saw that first build raise (a 500 on
    the first feedback POST). Building them here makes the first request like every other.
    Older FastAPI versions build routes when they are included: nothing to do there.
    """
    built = 0
    pending = list(app.router.routes)
    while pending:
        route = pending.pop()
        candidates = getattr(route, "effective_candidates", None)
        if not callable(candidates):
            continue
        found = candidates()
        low = getattr(route, "effective_low_priority_routes", None)
        if callable(low):
            low()
        built += len(found)
        pending.extend(found)
    return built


def _with_examples(paths: dict[str, Any], values: dict[str, list[str]]) -> dict[str, Any]:
    """The path parameters ``name`` and ``version`` with the models and versions served
    now as examples (in /docs, and the first values a fuzzer tries)."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        out[path] = item = {**item}
        for method, op in list(item.items()):
            params = op.get("parameters") if isinstance(op, dict) else None
            if not params:
                continue
            fixed = []
            for prm in params:
                known = values.get(prm.get("name")) if prm.get("in") == "path" else None
                if known:
                    prm = {**prm, "schema": {**prm.get("schema", {}), "examples": known}}
                fixed.append(prm)
            item[method] = {**op, "parameters": fixed}
    return out


def _document_raw_routes(app: FastAPI) -> None:
    """The predict routes are plain Starlette routes (no per-request pydantic cost); add
    them to the OpenAPI document by hand, and each served model's own request and
    response schema (:mod:`rampup.serving.model_openapi`), as served right now."""
    original = app.openapi

    def openapi() -> dict[str, object]:
        base = _raw_routes_openapi()
        state = getattr(app.state, "rampup", None)
        if state is None:
            return base
        served = state.runtime.models
        pipelines = state.project.pipelines()
        paths = model_paths(
            {n: {v: (lv.schema, lv.output) for v, lv in m.versions.items()}
             for n, m in served.items() if n not in pipelines},
            {n: list(m.policy.routes) for n, m in served.items()},
            state.settings.max_records,
            {n: [m.spec.request_key.field] for n, m in served.items()
             if m.spec.request_key.field})
        names = sorted(served)
        versions = sorted({v for m in served.values() for v in m.versions})
        return {**base, "paths": _with_examples(
            {**base["paths"], **paths},  # type: ignore[dict-item]
            {"name": names, "version": versions})}

    def _raw_routes_openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        paths = schema.setdefault("paths", {})
        name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ver_param = {"name": "version", "in": "path", "required": True,
                     "schema": {"type": "string"}}
        key_param = {"name": "x-request-key", "in": "header", "required": False,
                     "schema": {"type": "string"}, "description": "user/session id (sticky)"}
        paths["/v1/models/{name}/predict"] = {"post": {
            **PREDICT_DOC, "tags": ["predictions"], "operationId": "predict",
            "parameters": [name_param, key_param]}}
        paths["/v1/models/{name}/versions/{version}/predict"] = {"post": {
            **PREDICT_DOC, "tags": ["predictions"], "operationId": "predict_version",
            "summary": "Predict with a specific version (bypasses the traffic policy)",
            "parameters": [name_param, ver_param, key_param]}}
        paths.update(v2.openapi_paths())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
