"""Erasure over HTTP: ``POST /v1/admin/forget`` (admin) erases one subject's rows, as
``rampup forget --request-key`` does (see :mod:`rampup.security.erase`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rampup.security.erase import forget
from rampup.serving.auth import require_admin
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import app_state

router = APIRouter(route_class=EdgeRoute, tags=["privacy"])


class ForgetBody(BaseModel):
    request_key: str = Field(min_length=1, max_length=255,
                             description="the subject's request key (user/session id) as sent")


@router.post("/v1/admin/forget", summary="Erase one subject's rows everywhere (predictions, "
             "feedback, review items, dead letters, retraining datasets); recorded as an "
             "event that names no personal data")
async def forget_subject(request: Request, body: ForgetBody) -> Response:
    st = app_state(request)
    who = require_admin(request, st.settings.admin_token)
    report = await asyncio.to_thread(forget, st.store, st.project, body.request_key,
                                     actor=who.actor,
                                     input_bytes_dir=st.settings.input_bytes_dir)
    return json_response(report)
