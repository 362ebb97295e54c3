"""Retraining API (admin token): start a run, list and show runs, approve a candidate,
replay logged traffic through a version. Same operations as ``rampup retrain`` and
``rampup replay``, through :class:`rampup.retrain.service.Retrainer`.

A started run is queued (202) and executed by the retraining loop on the leader, so the
request returns at once and the server keeps serving while the run trains.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rampup.errors import NotFoundError
from rampup.predlog.ids import MAX_ROW_ID
from rampup.retrain.loop import Retraining
from rampup.serving.auth import require_admin, require_predict
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import app_state

router = APIRouter(route_class=EdgeRoute, tags=["retraining"])
BASE = "/v1/models/{name}/retrain"
#: a run id as the store holds it (larger ones raised OverflowError in SQLite and
#: DataError in PostgreSQL: a 500)
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a run id")]


class RetrainBody(BaseModel):
    since: str | None = Field(default=None, description="window start: 7d, an ISO date, "
                              "or epoch seconds (default: the project's retrain.since)")
    reason: str = ""
    force: bool = Field(default=False, description="skip cooldown, daily limit and minimum "
                        "of new labels (never the one-run-at-a-time and rollout guards)")


class ApproveBody(BaseModel):
    reason: str = ""


class ReplayBody(BaseModel):
    last: int = Field(default=1000, ge=1, le=1_000_000)


def _admin(request: Request) -> Retraining:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    retraining: Retraining = request.app.state.retraining
    return retraining


def _reader(request: Request) -> Retraining:
    """Reading runs needs what reading metrics needs (the dashboard shows them to
    everyone who may see the model's charts); starting or approving one needs admin."""
    st = app_state(request)
    require_predict(request, st.settings.predict_token, st.settings.admin_token)
    retraining: Retraining = request.app.state.retraining
    return retraining


def _actor(request: Request) -> str:
    return request.headers.get("x-rampup-actor", "admin-api")[:255]


def _run_of(retraining: Retraining, name: str, run_id: int) -> dict[str, Any]:
    run = retraining.retrainer.get(run_id)
    if run["model"] != name:
        raise NotFoundError(f"retraining run #{run_id} is not a run of {name}",
                            fix=f"use GET {BASE.replace('{name}', name)}/runs")
    return run


@router.post(BASE, summary="Start a retraining run (queued; the leader executes it)",
             status_code=202)
async def start(request: Request, name: str, body: RetrainBody | None = None) -> Response:
    retraining = _admin(request)
    body = body or RetrainBody()
    since = None
    if body.since is not None:
        from rampup.durations import parse_time

        since = parse_time(body.since, "since", retraining.retrainer.clock())
    run = await asyncio.to_thread(retraining.retrainer.request, name, trigger="manual",
                                  actor=_actor(request), reason=body.reason, since=since,
                                  force=body.force)
    if retraining.loop is None:  # no background loop here: run it on a thread of its own
        threading.Thread(target=retraining.retrainer.execute, args=(run["id"],),
                         name=f"rampup-retrain-{run['id']}", daemon=True).start()
    return json_response({"run": run, "message": f"retraining run #{run['id']} queued"}, 202)


@router.get(f"{BASE}/status", summary="Whether a run may start now, and the latest run")
async def status(request: Request, name: str) -> Response:
    retraining = _reader(request)
    guards = await asyncio.to_thread(retraining.retrainer.guard_state, name)
    runs = await asyncio.to_thread(retraining.retrainer.runs, name, 1)
    return json_response({**guards, "latest": runs[0] if runs else None})


@router.get(f"{BASE}/runs", summary="Retraining runs of a model, newest first")
async def list_runs(request: Request, name: str,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Response:
    retraining = _reader(request)
    runs = await asyncio.to_thread(retraining.retrainer.runs, name, limit)
    return json_response({"model": name, "runs": runs})


@router.get(f"{BASE}/runs/{{run_id}}", summary="One run: why, dataset, evaluation, replay, "
            "verdict, rollout, log tail")
async def show_run(request: Request, name: str, run_id: RowId) -> Response:
    retraining = _reader(request)
    return json_response({"run": await asyncio.to_thread(_run_of, retraining, name, run_id)})


@router.post(f"{BASE}/runs/{{run_id}}/approve",
             summary="Approve a run awaiting approval: start its rollout")
async def approve(request: Request, name: str, run_id: RowId,
                  body: ApproveBody | None = None) -> Response:
    retraining = _admin(request)
    await asyncio.to_thread(_run_of, retraining, name, run_id)
    run = await asyncio.to_thread(retraining.retrainer.approve, run_id, actor=_actor(request))
    st = app_state(request)
    await asyncio.to_thread(st.runtime.refresh)
    return json_response({"run": run})


@router.post("/v1/models/{name}/versions/{version}/replay",
             summary="Replay the last N logged requests through a version (offline shadow)")
async def replay_version(request: Request, name: str, version: str,
                         body: ReplayBody | None = None) -> Response:
    from rampup.retrain.replay import replay

    retraining = _admin(request)
    last = (body or ReplayBody()).last
    report = await asyncio.to_thread(replay, retraining.retrainer.registry, name, version,
                                     last=last)
    return json_response({"replay": report.to_dict()})
