"""Admin API for rollouts: deploy with a strategy, status, pause/resume/abort/approve,
promote, rollback. Same operations as the CLI, through :class:`rampup.rollout.service.Rollouts`."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rampup.predlog.ids import MAX_ROW_ID
from rampup.rollout.plan import Plan, parse_plan
from rampup.rollout.service import Rollouts, rollout_dict
from rampup.serving.auth import require_admin
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state

router = APIRouter(route_class=EdgeRoute, prefix="/v1/admin/models/{name}",
                   tags=["rollouts"])


class DeployBody(BaseModel):
    version: str
    strategy: Literal["shadow", "canary", "bluegreen"] = "canary"
    plan: dict[str, Any] | None = Field(default=None,
                                        description="a plan (steps, checks, on_failure)")
    reason: str = ""
    force: bool = Field(default=False, description="deploy even if the audit gate fails")


class ActionBody(BaseModel):
    reason: str = ""
    rollout_id: int | None = Field(default=None, ge=0, le=MAX_ROW_ID,
                                   description="with revision: the rollout this action was "
                                   "decided on (from GET .../rollout)")
    revision: int | None = Field(default=None, ge=0, le=MAX_ROW_ID,
                                 description="refused (409, recorded as superseded) if the "
                                 "rollout moved past this revision")

    def seen_rollout(self) -> tuple[int, int] | None:
        if self.rollout_id is None or self.revision is None:
            return None
        return (self.rollout_id, self.revision)


def _service(st: AppState) -> Rollouts:
    from rampup.rollout.gates import deploy_gate

    return Rollouts(st.store, gate=deploy_gate)


def _actor(request: Request) -> str:
    return request.headers.get("x-rampup-actor", "admin-api")[:255]


async def _after_change(st: AppState) -> None:
    await asyncio.to_thread(st.runtime.refresh)


@router.post("/deploy", summary="Start a rollout of a version (shadow, canary or blue/green)")
async def deploy(request: Request, name: str, body: DeployBody) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    plan: Plan | None = None
    if body.plan is not None:
        plan = parse_plan({"strategy": body.strategy, **body.plan}, "plan")
    r = await asyncio.to_thread(_service(st).deploy, name, body.version,
                                strategy=body.strategy, plan=plan, actor=_actor(request),
                                reason=body.reason, force=body.force)
    await _after_change(st)
    if r is None:
        return json_response({"rollout": None, "message": f"{body.version} deployed directly "
                              "(first deployment of the model)"}, 201)
    return json_response({"rollout": rollout_dict(r)}, 201)


@router.get("/rollout", summary="The latest rollout, the live policy and recent check results")
async def status(request: Request, name: str) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    result = await asyncio.to_thread(_service(st).status, name)
    return json_response(result.to_dict())


@router.post("/rollout/{action}", summary="pause, resume, abort or approve the active rollout")
async def act(request: Request, name: str,
              action: Literal["pause", "resume", "abort", "approve"],
              body: ActionBody | None = None) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    service = _service(st)
    fn = {"pause": service.pause, "resume": service.resume, "abort": service.abort,
          "approve": service.approve}[action]
    r = await asyncio.to_thread(fn, name, actor=_actor(request),
                                reason=body.reason if body else "",
                                seen_rollout=body.seen_rollout() if body else None)
    await _after_change(st)
    return json_response({"rollout": rollout_dict(r)})


@router.post("/promote", summary="Give the candidate all traffic now (old version kept warm)")
async def promote(request: Request, name: str, body: ActionBody | None = None) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    r = await asyncio.to_thread(_service(st).promote, name, actor=_actor(request),
                                reason=body.reason if body else "",
                                seen_rollout=body.seen_rollout() if body else None)
    await _after_change(st)
    return json_response({"rollout": rollout_dict(r)})


@router.post("/rollback", summary="Back to the previous policy at once")
async def rollback(request: Request, name: str, body: ActionBody | None = None) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    policy = await asyncio.to_thread(_service(st).rollback, name, actor=_actor(request),
                                     reason=body.reason if body else "",
                                     seen_rollout=body.seen_rollout() if body else None)
    await _after_change(st)
    return json_response({"policy": policy.to_dict()})
