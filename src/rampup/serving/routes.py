"""Non-hot-path routes: health, metrics, model info, feedback, admin."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rampup.errors import FlavorError, ModelError, NotFoundError, ValidationError
from rampup.predlog.feedback import FeedbackItem, to_records
from rampup.predlog.ids import MAX_ROW_ID
from rampup.rollout.gates import deploy_gate
from rampup.rollout.policy import DeploymentPolicy
from rampup.serving.auth import require_admin, require_predict
from rampup.serving.human import HUMAN
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.pipeline import describe_pipeline, resolve_feedback
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state
from rampup.store.deployments import Change, Fence

router = APIRouter(route_class=EdgeRoute)


# -- health ---------------------------------------------------------------------------------

@router.get("/healthz", tags=["health"], summary="Liveness: the process answers")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", tags=["health"],
            summary="Readiness: models loaded, store reachable, every background worker up")
async def readyz(request: Request) -> Response:
    st = app_state(request)
    store_ok = await asyncio.to_thread(st.store.ping)
    down = st.supervisor.down()
    ready = st.ready and store_ok and not st.runtime.load_errors and not down
    body: dict[str, Any] = {
        "status": "ready" if ready else "not_ready",
        "store": "ok" if store_ok else "unreachable",
        "models": {n: {"deployment": m.deployment_id, "versions": sorted(m.versions)}
                   for n, m in st.runtime.models.items()},
        "load_errors": st.runtime.load_errors,
        "workers_down": down,
        "workers": st.supervisor.health(),
        "prediction_log": {"queue_depth": st.writer.depth, **vars(st.writer.stats)},
        "dead_letters": st.dead_letters.describe() if st.dead_letters is not None else None,
    }
    if down:
        body["message"] = "background worker(s) down: " + "; ".join(
            f"{name}: {why}" for name, why in down.items())
    return json_response(body, 200 if ready else 503)


@router.get("/metrics", tags=["health"], summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    data, content_type = app_state(request).metrics.render()
    return Response(data, media_type=content_type)


# -- model information -----------------------------------------------------------------------

def _check_read(request: Request, st: AppState) -> None:
    require_predict(request, st.settings.predict_token, st.settings.admin_token)


@router.get("/v1/models", tags=["models"], summary="Models served here")
async def list_models(request: Request) -> Response:
    st = app_state(request)
    _check_read(request, st)
    return json_response({"models": [
        {"name": n, "deployment_id": m.deployment_id, "routes": m.policy.routes,
         "mirrors": m.policy.mirrors, "standby": m.policy.standby,
         "versions": sorted(m.versions)} for n, m in sorted(st.runtime.models.items())]})


@router.get("/v1/models/{name}", tags=["models"],
            summary="One model: deployment and the input schema of each served version")
async def get_model(request: Request, name: str) -> Response:
    st = app_state(request)
    _check_read(request, st)
    if name in st.project.pipelines():
        return json_response(describe_pipeline(st, name))
    served = st.runtime.get(name)
    return json_response({
        "name": name, "deployment_id": served.deployment_id, "policy": served.policy.to_dict(),
        "versions": {v: {"flavor": lv.record.flavor, "input_schema": lv.record.input_schema,
                         "output": lv.record.output, "created_at": lv.record.created_at}
                     for v, lv in served.versions.items()},
    })


# -- feedback --------------------------------------------------------------------------------

FeedbackBody = Annotated[FeedbackItem | list[FeedbackItem], Body(
    openapi_examples={
        "label": {"value": {"request_id": "0192f3...", "label": 1}},
        "events": {"value": {"request_id": "0192f3...", "events": ["repeated_query"]}},
        "many": {"value": [{"request_id": "a", "label": 0}, {"request_id": "b", "label": 1}]},
    })]


@router.post("/v1/models/{name}/feedback", tags=["predictions"],
             summary="Labels and user events for earlier predictions (idempotent)")
async def feedback(request: Request, name: str, body: FeedbackBody) -> Response:
    st = app_state(request)
    _check_read(request, st)
    items = body if isinstance(body, list) else [body]
    if len(items) > st.settings.max_records:
        raise ValidationError(f"{len(items)} feedback items, over the limit of "
                              f"{st.settings.max_records}", fix="send them in smaller groups",
                              field="body")
    # pipeline feedback naming a stage is about that stage's row (owned by its model)
    items, stage_owner = resolve_feedback(st.project, name, items)
    ids = list({i.request_id for i in items})
    owners = await _find_predictions(st, ids)
    missing = [i for i in ids if i not in owners]
    if missing:
        raise NotFoundError(f"unknown request id {missing[0]!r}"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                            fix="use the request_id (or a prediction's id) returned by predict",
                            field="request_id", unknown=missing[:20])
    wrong = [i for i in ids if owners[i] != stage_owner.get(i, name)]
    if wrong:
        raise NotFoundError(f"request id {wrong[0]!r} belongs to model {owners[wrong[0]]!r}, "
                            f"not {name!r}", fix=f"post it to /v1/models/{owners[wrong[0]]}"
                            "/feedback", field="request_id")
    now = time.time()
    records = [r for item in items
               for r in to_records(item, stage_owner.get(item.request_id, name), now)]
    fresh = await asyncio.to_thread(st.store.feedback.add_feedback, records)
    if st.monitor is not None:
        st.monitor.feedback([r for r, new in zip(records, fresh, strict=True) if new])
    return json_response({"accepted": sum(fresh), "duplicates": len(fresh) - sum(fresh)})


async def _find_predictions(st: AppState, ids: list[str]) -> dict[str, str]:
    """Find the model of each id; predictions may still sit in a log queue (here or on a
    sibling worker), so wait for a flush before calling an id unknown."""
    owners = await asyncio.to_thread(st.store.predictions.prediction_models, ids)
    missing = [i for i in ids if i not in owners]
    if not missing:
        return owners
    if any(st.writer.is_pending(i) for i in missing):
        await asyncio.to_thread(st.writer.flush, 5.0)
    else:
        await asyncio.sleep(st.settings.log_flush_interval * 2 + 0.1)
    owners.update(await asyncio.to_thread(st.store.predictions.prediction_models, missing))
    return owners


# -- admin -----------------------------------------------------------------------------------

class DeploymentBody(BaseModel):
    routes: dict[str, float] = Field(description="version -> percent of traffic, sums to 100",
                                     examples=[{"v1": 95, "v2": 5}])
    mirrors: dict[str, float] = Field(default_factory=dict,
                                      description="version -> percent of requests shadowed")
    standby: str | None = None
    reason: str = ""
    force: bool = Field(default=False, description="deploy even if the audit gate fails")
    based_on: int | None = Field(
        default=None, ge=0, le=MAX_ROW_ID,
        description="the deployment id this change was decided on: refused "
        "(409, recorded as superseded) if another deployment was made since")


def _actor(request: Request) -> str:
    return request.headers.get("x-rampup-actor", "admin-api")[:255]


@router.put("/v1/admin/models/{name}/deployment", tags=["admin"],
            summary="Replace the traffic policy (a new row in the deployment history)")
async def set_deployment(request: Request, name: str, body: DeploymentBody) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    policy = DeploymentPolicy(routes=body.routes, mirrors=body.mirrors, standby=body.standby)
    current = await asyncio.to_thread(st.store.deployments.current_deployment, name)
    serving_now = set(DeploymentPolicy.from_dict(current.policy).routes) if current else set()
    for v in policy.versions() - {HUMAN}:
        if await asyncio.to_thread(st.store.models.get_version, name, v) is None:
            raise NotFoundError(f"version {name}@{v} is not registered",
                                fix="register it first (rampup register)", field=v)
        if v in policy.routes and v not in serving_now:
            await asyncio.to_thread(deploy_gate, st.store, name, v, body.force, _actor(request))
    if body.based_on is None:  # applied on top of whatever is current (and recorded)
        dep = await asyncio.to_thread(st.store.deployments.append_deployment, name,
                                      policy.to_dict(),
                                      _actor(request), body.reason)
    else:
        applied = await asyncio.to_thread(
            st.store.deployments.decide, name, Fence(body.based_on),
            Change(_actor(request), body.reason, policy=policy.to_dict(), always=True))
        assert applied.deployment is not None
        dep = applied.deployment
    await asyncio.to_thread(st.runtime.refresh)
    return json_response({"deployment_id": dep.id, "policy": policy.to_dict()})


@router.get("/v1/admin/models/{name}/deployments", tags=["admin"],
            summary="The deployment history, newest first")
async def deployment_history(request: Request, name: str) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    rows = await asyncio.to_thread(st.store.deployments.deployment_history, name, 100)
    return json_response({"deployments": [
        {"id": d.id, "created_at": d.created_at, "policy": d.policy, "actor": d.actor,
         "reason": d.reason} for d in rows]})


class RegisterBody(BaseModel):
    path: str = Field(min_length=1, max_length=4096,
                      description="artifact path on the server's filesystem")
    version: str | None = None
    flavor: str = "auto"
    reference: str | None = None
    label_column: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    deploy: bool | None = None


@router.post("/v1/admin/models/{name}/versions", tags=["admin"], status_code=201,
             summary="Register a version from a path on the server (admin token required)")
async def register_version(request: Request, name: str, body: RegisterBody) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    from rampup.registry.registry import Registry

    registry = Registry.from_settings(st.settings, st.store)
    try:
        rec = await asyncio.to_thread(
            registry.register, name, body.path, version=body.version, flavor=body.flavor,
            reference=body.reference, label_column=body.label_column, metadata=body.metadata,
            actor=_actor(request), deploy=body.deploy)
    except (FlavorError, ModelError) as exc:
        # the client named an artifact this server cannot load: its request, not a fault
        field = "flavor" if body.flavor != "auto" and isinstance(exc, FlavorError) else "path"
        raise ValidationError(exc.message, fix=exc.fix, field=field) from exc
    await asyncio.to_thread(st.runtime.refresh)
    return json_response({"model": rec.model, "version": rec.version, "flavor": rec.flavor,
                          "artifact_hash": rec.artifact_hash}, 201)
