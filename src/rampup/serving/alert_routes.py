"""Alert API: rule states for dashboards (read), and the admin operations on rules
(list, add, remove, enable, disable, history, test) through
:class:`rampup.alerts.service.Alerts`."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rampup.alerts.kinds import KINDS
from rampup.alerts.runner import default_source
from rampup.alerts.service import Alerts
from rampup.alerts.spec import AlertRuleSpec
from rampup.serving.auth import require_admin, require_predict
from rampup.serving.jsonbody import EdgeRoute
from rampup.serving.responses import json_response
from rampup.serving.state import AppState, app_state

router = APIRouter(route_class=EdgeRoute, tags=["alerts"])
ADMIN = "/v1/admin/models/{name}/alerts"
Since = Annotated[float | None, Query(description="epoch seconds")]
Kinds = Annotated[list[str] | None, Query(description=f"any of {', '.join(KINDS)}")]
Limit = Annotated[int, Query(ge=1, le=10_000)]


def _alerts(st: AppState) -> Alerts:
    return Alerts(st.store, alerting=st.project.alerting, project=st.project)


def _actor(request: Request) -> str:
    return request.headers.get("x-rampup-actor", "admin-api")[:255]


def _admin(request: Request) -> AppState:
    st = app_state(request)
    require_admin(request, st.settings.admin_token)
    return st


@router.get("/v1/models/{name}/alerts", summary="Alert states of a model (for dashboards)")
async def states(request: Request, name: str) -> Response:
    st = app_state(request)
    require_predict(request, st.settings.predict_token, st.settings.admin_token)
    rows = await asyncio.to_thread(_alerts(st).status, name)
    alerts = [{"name": r.rule.name, "state": r.state.state if r.rule.enabled else "disabled",
               "severity": r.rule.severity, "condition": r.rule.condition.text,
               "scope": r.rule.scope(), "value": r.state.value,
               "threshold": r.rule.condition.threshold, "since": r.state.since,
               "started_at": r.state.started_at, "no_data": r.state.no_data,
               "enabled": r.rule.enabled, "evaluated_at": r.state.evaluated_at}
              for r in rows]
    return json_response({"model": name, "alerts": alerts,
                          "counts": dict(Counter(a["state"] for a in alerts))})


@router.get(ADMIN, summary="Alert rules of a model with their states")
async def list_rules(request: Request, name: str) -> Response:
    st = _admin(request)
    rows = await asyncio.to_thread(_alerts(st).status, name)
    return json_response({"model": name, "rules": [r.to_dict() for r in rows]})


@router.post(ADMIN, status_code=201, summary="Add a runtime alert rule (kept across restarts)")
async def add_rule(request: Request, name: str, body: AlertRuleSpec,
                   replace: Annotated[bool, Query(
                       description="overwrite a rule of that name")] = False) -> Response:
    st = _admin(request)
    rule = await asyncio.to_thread(_alerts(st).add, name, body, actor=_actor(request),
                                   replace=replace)
    return json_response({"rule": rule.to_dict()}, 201)


@router.get(ADMIN + "/history", summary="Alert history of a model (newest first)")
async def history(request: Request, name: str, rule: str | None = None,
                  since: Since = None, kind: Kinds = None, limit: Limit = 100) -> Response:
    st = _admin(request)
    rows = await asyncio.to_thread(_alerts(st).history, name, rule, since=since, kinds=kind,
                                   limit=limit)
    return json_response({"model": name, "events": rows})


@router.get(ADMIN + "/{rule}/history", summary="History of one alert rule (newest first)")
async def rule_history(request: Request, name: str, rule: str, since: Since = None,
                       limit: Limit = 100) -> Response:
    st = _admin(request)
    rows = await asyncio.to_thread(_alerts(st).history, name, rule, since=since, limit=limit)
    return json_response({"model": name, "rule": rule, "events": rows})


@router.delete(ADMIN + "/{rule}", summary="Remove a runtime alert rule")
async def remove_rule(request: Request, name: str, rule: str) -> Response:
    st = _admin(request)
    removed = await asyncio.to_thread(_alerts(st).remove, name, rule, actor=_actor(request))
    return json_response({"removed": removed.to_dict()})


@router.post(ADMIN + "/{rule}/test", summary="Measure a rule's metric now (no state change)")
async def test_rule(request: Request, name: str, rule: str) -> Response:
    st = _admin(request)
    source = default_source(st.store, st.monitor)
    result = await asyncio.to_thread(_alerts(st).test, name, rule, source)
    return json_response(result.to_dict())


@router.post(ADMIN + "/test", summary="Measure an unsaved rule's metric now")
async def test_spec(request: Request, name: str, body: AlertRuleSpec) -> Response:
    st = _admin(request)
    source = default_source(st.store, st.monitor)
    result = await asyncio.to_thread(_alerts(st).test, name, body, source)
    return json_response(result.to_dict())


@router.post(ADMIN + "/{rule}/{action}", summary="Enable or disable an alert rule")
async def toggle_rule(request: Request, name: str, rule: str,
                      action: Literal["enable", "disable"]) -> Response:
    st = _admin(request)
    r = await asyncio.to_thread(_alerts(st).set_enabled, name, rule, action == "enable",
                                actor=_actor(request))
    return json_response({"rule": r.to_dict()})
