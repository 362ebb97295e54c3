"""The review queue and automation level over HTTP, and the reviewers' web page.

Reviewers are people with credentials: claiming, deciding and skipping need a reviewer
token (``rampup reviewers add NAME``), and the decision records the reviewer that token
names, never a name sent in the request. Leads (``--role lead``) and admins adjudicate.
Only an *open* queue, on a loopback address with no reviewer configured (local trials),
takes a name from the ``x-reviewer`` header or a ``reviewer`` field, and the page says so.
Reading the queue needs what other reads need (the predict token when one is set).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from rampup.automation.page import page_script, page_style, render_index, render_page
from rampup.automation.queue import choices, item_view
from rampup.automation.service import Automation
from rampup.errors import AuthError, NotFoundError
from rampup.serving.auth import (
    queue_is_open,
    require_admin,
    require_predict,
    require_reviewer,
)
from rampup.serving.guard import CSP as GUARD_CSP
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state

router = APIRouter(route_class=EdgeRoute, tags=["review"])
CSP = GUARD_CSP.replace("img-src 'self' data:", "img-src 'self' data: blob:") + \
    "; media-src 'self' data: blob:"

PREFIX = "/v1/models/{name}/review"


class ReviewerBody(BaseModel):
    reviewer: str | None = Field(default=None, description="default: the x-reviewer header")
    note: str = Field(default="", max_length=2000)


class DecideBody(ReviewerBody):
    label: Any = Field(description="one of the item's choices (or any JSON value when the "
                       "item has none); the uncertain label is always allowed")


class LevelBody(BaseModel):
    level: Literal["human_only", "shadow", "ai_assist", "partial", "full"] | None = Field(
        description="the new level; null: back to the project file's level")
    reason: str = ""


def _service(st: AppState) -> Automation:
    return Automation(st.store, st.project)


def _reviewer(request: Request, body: ReviewerBody | None) -> str:
    """The authenticated reviewer's name (a claimed name only on an open queue)."""
    st = app_state(request)
    claimed = (body.reviewer if body is not None and body.reviewer
               else request.headers.get("x-reviewer", ""))
    return require_reviewer(request, host=st.settings.host,
                            predict_token=st.settings.predict_token,
                            admin_token=st.settings.admin_token, claimed=claimed).actor


def _check(request: Request, st: AppState) -> None:
    require_predict(request, st.settings.predict_token, st.settings.admin_token)


async def _flushed(st: AppState) -> None:
    """Items queued by this process reach the store before a reviewer asks for them."""
    if st.automation is not None and st.automation.pending:
        await asyncio.to_thread(st.automation.flush, 5.0)


def _model(st: AppState, name: str) -> None:
    if name not in st.runtime.models and name not in st.project.models:
        known = ", ".join(sorted(st.runtime.models)) or "none"
        raise NotFoundError(f"model {name!r} is not served here (served: {known})",
                            fix="check the model name", field="name")


@router.get(PREFIX + "/items", summary="Review items (queue order); status: open, disputed, "
            "pending (open + disputed), decided, uncertain, or empty for all")
async def list_items(request: Request, name: str, status: str = "pending",
                     reason: str | None = None, limit: int = 100) -> Response:
    st = app_state(request)
    _check(request, st)
    await _flushed(st)
    rows = await asyncio.to_thread(_service(st).queue().list, name, status or None,
                                   reason=reason, limit=min(max(limit, 1), 1000))
    now = time.time()
    return json_response({"items": [item_view(r, now) for r in rows]})


@router.post(PREFIX + "/next", summary="Claim the next item for this reviewer (null: none)")
async def next_item(request: Request, name: str, body: ReviewerBody | None = None) -> Response:
    st = app_state(request)
    reviewer = _reviewer(request, body)
    _model(st, name)
    await _flushed(st)
    row = await asyncio.to_thread(_service(st).queue().next, name, reviewer, time.time())
    return json_response({"item": item_view(row, time.time()) if row else None,
                          "choices": _choices(st, name, row),
                          "choice_names": _names(st, name), "task": _task(st, row)})


@router.get(PREFIX + "/items/{item_id}", summary="One review item with its reviewers' labels")
async def get_item(request: Request, name: str, item_id: str) -> Response:
    st = app_state(request)
    _check(request, st)
    await _flushed(st)
    svc = _service(st)
    row = await asyncio.to_thread(svc.queue().get, name, item_id)
    labels = await asyncio.to_thread(st.store.review.list_review_labels, name, item_ids=[item_id],
                                     kinds=("label", "skip", "adjudicate"))
    return json_response({"item": item_view(row, time.time()),
                          "choices": _choices(st, name, row),
                          "choice_names": _names(st, name), "task": _task(st, row),
                          "labels": [{k: r[k] for k in ("reviewer", "kind", "label", "ts",
                                                        "note")} for r in labels]})


@router.post(PREFIX + "/items/{item_id}/claim", summary="Claim a given item")
async def claim(request: Request, name: str, item_id: str,
                body: ReviewerBody | None = None) -> Response:
    st = app_state(request)
    reviewer = _reviewer(request, body)
    await _flushed(st)
    row = await asyncio.to_thread(_service(st).queue().claim, name, item_id, reviewer,
                                  time.time())
    return json_response({"item": item_view(row, time.time())})


@router.post(PREFIX + "/items/{item_id}/decide",
             summary="Label a claimed item; the final decision becomes the prediction's label")
async def decide(request: Request, name: str, item_id: str, body: DecideBody) -> Response:
    st = app_state(request)
    reviewer = _reviewer(request, body)
    row = await asyncio.to_thread(_service(st).queue().decide, name, item_id, reviewer,
                                  body.label, time.time(), note=body.note)
    _feed_monitor(st, row)
    return json_response({"item": item_view(row, time.time())})


@router.post(PREFIX + "/items/{item_id}/skip", summary="Give a claimed item back")
async def skip(request: Request, name: str, item_id: str,
               body: ReviewerBody | None = None) -> Response:
    st = app_state(request)
    reviewer = _reviewer(request, body)
    row = await asyncio.to_thread(_service(st).queue().skip, name, item_id, reviewer,
                                  time.time(), body.note if body else "")
    return json_response({"item": item_view(row, time.time())})


@router.post(PREFIX + "/items/{item_id}/adjudicate",
             summary="Set the final label of an open or disputed item (a lead reviewer "
             "or an admin)")
async def adjudicate(request: Request, name: str, item_id: str, body: DecideBody) -> Response:
    st = app_state(request)
    who = require_reviewer(request, host=st.settings.host,
                           predict_token=st.settings.predict_token,
                           admin_token=st.settings.admin_token)
    if not who.is_lead:
        raise AuthError(f"{who.actor!r} may not adjudicate: only lead reviewers and admins do",
                        fix="ask an admin for a lead token ('rampup reviewers add NAME "
                            "--role lead') or send an admin token")
    row = await asyncio.to_thread(_service(st).queue().adjudicate, name, item_id,
                                  who.actor, body.label, time.time(), note=body.note)
    _feed_monitor(st, row)
    return json_response({"item": item_view(row, time.time())})


@router.get(PREFIX + "/agreement", summary="Reviewer agreement, confusion, disputed items, "
            "human-level accuracy and model-vs-human agreement per class")
async def agreement(request: Request, name: str, since: float | None = None) -> Response:
    st = app_state(request)
    _check(request, st)
    return json_response(await asyncio.to_thread(_service(st).consistency, name, since=since))


@router.get("/v1/models/{name}/automation", tags=["automation"],
            summary="Level, automation rate, queue length, wait times, accuracy")
async def metrics(request: Request, name: str, since: float | None = None) -> Response:
    st = app_state(request)
    _check(request, st)
    await _flushed(st)
    return json_response(await asyncio.to_thread(_service(st).metrics, name, since=since,
                                                 now=time.time()))


@router.get("/v1/admin/models/{name}/automation", tags=["automation"],
            summary="The automation level (project file or run-time override) and history")
async def get_level(request: Request, name: str) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    svc = _service(st)
    level = await asyncio.to_thread(svc.level, name)
    return json_response({**level, "history": await asyncio.to_thread(svc.history, name)})


@router.put("/v1/admin/models/{name}/automation", tags=["automation"],
            summary="Set the automation level (recorded in the history; overrides the "
            "project file until reset with level: null)")
async def set_level(request: Request, name: str, body: LevelBody) -> Response:
    st = app_state(request)
    actor = require_admin(request, st.settings.admin_token).actor
    svc = _service(st)
    if body.level is None:
        out = await asyncio.to_thread(svc.reset_level, name, actor=actor, reason=body.reason)
    else:
        out = await asyncio.to_thread(svc.set_level, name, body.level, actor=actor,
                                      reason=body.reason, now=time.time())
    if st.automation is not None:
        await asyncio.to_thread(st.automation.refresh)
    return json_response(out)


def _choices(st: AppState, name: str, row: dict[str, Any] | None) -> list[Any] | None:
    return None if row is None else choices(row, _service(st).spec(name))


def _task(st: AppState, row: dict[str, Any] | None) -> str | None:
    """The metric family of the item's output (``transcription``, ``detection`` ...), so
    the page offers a transcript box or right/wrong marks; None for a class or number."""
    if row is None:
        return None
    served = st.runtime.models.get(row["model"])
    loaded = served.versions.get(row["version"]) if served is not None else None
    if loaded is not None:
        return loaded.output.task
    record = st.store.models.get_version(row["model"], row["version"])
    return None if record is None else record.output.get("task")


def _names(st: AppState, name: str) -> dict[str, str]:
    """What each label means, from the model's ``output_labels`` in rampup.yaml (e.g.
    ``{"0": "repays", "1": "defaults"}``); empty when not given."""
    spec = st.project.models.get(name)
    return dict(spec.output_labels or {}) if spec is not None else {}


def _feed_monitor(st: AppState, row: dict[str, Any]) -> None:
    if st.monitor is not None and row["status"] == "decided":
        from rampup.automation.queue import feedback_for

        st.monitor.feedback([feedback_for(row, row["final_label"], row["decided_at"])])


# -- the reviewers' page ----------------------------------------------------------------------

async def index_page(request: Request) -> Response:
    st = app_state(request)
    return HTMLResponse(render_index(sorted(set(st.runtime.models) | set(st.project.models))))


async def review_page(request: Request) -> Response:
    st = app_state(request)
    name = request.path_params["name"]
    _model(st, name)
    is_open = await asyncio.to_thread(queue_is_open, request, st.settings.host)
    # the page shows the items' images and plays their audio from data:/blob: URLs: the
    # strict policy with media sources widened for this page alone
    return HTMLResponse(render_page(name, open_queue=is_open),
                        headers={"cache-control": "no-store", "content-security-policy": CSP})


@router.get("/v1/review/whoami", summary="The reviewer a token names (and whether the "
            "queue is open to anyone on this machine)")
async def whoami(request: Request) -> Response:
    st = app_state(request)
    who = await asyncio.to_thread(
        require_reviewer, request, host=st.settings.host,
        predict_token=st.settings.predict_token, admin_token=st.settings.admin_token,
        claimed=request.headers.get("x-reviewer", ""))
    return json_response({"reviewer": who.actor, "kind": who.kind, "role": who.role,
                          "lead": who.is_lead, "open": who.kind == "open"})


async def review_script(request: Request) -> Response:
    return Response(page_script(), media_type="text/javascript",
                    headers={"cache-control": "no-cache"})


async def review_style(request: Request) -> Response:
    return Response(page_style(), media_type="text/css", headers={"cache-control": "no-cache"})


def page_routes() -> list[Route]:
    return [Route("/review", index_page, methods=["GET"], name="review_index"),
            Route("/review/static/review.js", review_script, methods=["GET"]),
            Route("/review/static/review.css", review_style, methods=["GET"]),
            Route("/review/{name}", review_page, methods=["GET"], name="review_page")]
