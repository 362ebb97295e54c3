"""Admin view of what the background workers could not write: ``GET /v1/admin/dead-letters``
(the same rows as ``rampup log dead-letters``). Worker health itself is on ``/readyz`` and
``/metrics``."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rampup.durations import parse_time
from rampup.serving.auth import require_admin
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import app_state

router = APIRouter(route_class=EdgeRoute, tags=["admin"])


@router.get("/v1/admin/dead-letters",
            summary="Records a background worker could not write, newest first (admin)")
async def dead_letters(
        request: Request,
        worker: str | None = Query(None, description="only this worker, e.g. log-writer"),
        model: str | None = Query(None, description="only this model"),
        since: str | None = Query(None, description="2h (back), ISO 8601 or epoch:N"),
        limit: int = Query(100, ge=1, le=1000)) -> Response:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    start = parse_time(since, "since", time.time()) if since else None
    rows = await asyncio.to_thread(st.store.dead_letters.list_dead_letters, worker=worker,
                                   model=model,
                                   since=start, limit=limit)
    counts = await asyncio.to_thread(st.store.dead_letters.count_dead_letters, since=start)
    return json_response({"dead_letters": rows, "counts": counts})
