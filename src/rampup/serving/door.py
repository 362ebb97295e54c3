"""The predict door: machine clients' predict requests skip the middleware stack.

A ``POST /v1/models/{name}/predict`` from an SDK or curl walks nine ASGI layers before
rampup's handler runs (uvicorn's proxy headers, FastAPI's server-error, telemetry, body
limit and exit-stack layers, :class:`~rampup.serving.guard.Guard`,
:class:`~rampup.serving.jsonbody.JSONBodies`, the exception middleware and the router),
about a tenth of a one-record request's CPU. None of them changes what such a request
gets: Guard refuses cross-site browser requests (this one carries neither ``Origin`` nor
``Referer``) and adds headers only to safe methods; JSONBodies rewrites the content-type
the predict path never reads; the router finds the same endpoint.

:class:`RampupApp` therefore answers it directly: a POST to a predict path with no
``Origin``/``Referer``, no query string and no multipart body goes straight to
:func:`~rampup.serving.predict.predict` (or ``predict_version``) with the same
``Request``, the same exception handlers (by type, as Starlette picks them), a 500 for
anything unhandled, and the admin audit Guard would have written (a route forced by
header is an admin action). Every other request — browsers, uploads, every other route —
takes the full stack, unchanged.

The Open Inference Protocol's ``POST /v2/models/{name}/infer`` (and its versioned form)
takes the same door to :func:`rampup.serving.v2.infer`.

>>> predict_target("/v1/models/churn/predict")
('v1', 'churn', None)
>>> predict_target("/v1/models/churn/versions/v2/predict")
('v1', 'churn', 'v2')
>>> predict_target("/v2/models/churn/infer")
('v2', 'churn', None)
>>> predict_target("/v1/models/churn/feedback") is None
True
>>> predict_target("/v1/models/a/b/predict") is None
True
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from rampup.serving.auth import AUDIT_KEY
from rampup.serving.guard import record_audit

log = logging.getLogger("rampup.serving")

#: protocol -> (path prefix, path suffix) of its predict route
_DOORS = {"v1": ("/v1/models/", "/predict"), "v2": ("/v2/models/", "/infer")}
_BROWSER = frozenset({b"origin", b"referer"})


def predict_target(path: str) -> tuple[str, str, str | None] | None:
    """``(protocol, name, version)`` of a predict path (``version`` None for the routed
    one), or None for any other path."""
    if "\x00" in path:
        return None
    for protocol, (prefix, suffix) in _DOORS.items():
        if not (path.startswith(prefix) and path.endswith(suffix)):
            continue
        parts = path[len(prefix):-len(suffix)].split("/")
        if len(parts) == 1 and parts[0]:
            return protocol, parts[0], None
        if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
            return protocol, parts[0], parts[2]
    return None


def _takes(scope: Scope) -> tuple[str, str, str | None] | None:
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string") \
            or scope.get("root_path"):
        return None
    target = predict_target(scope["path"])
    if target is None:
        return None
    for key, value in scope["headers"]:
        if key in _BROWSER or (key == b"content-type"
                               and value.lower().startswith(b"multipart/")):
            return None
    return target


class RampupApp(FastAPI):
    """FastAPI, with the predict door in front (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _takes(scope)
        if target is None:
            await super().__call__(scope, receive, send)
            return
        from rampup.serving.predict import predict, predict_version
        from rampup.serving.v2 import infer

        scope["app"] = self
        protocol, name, version = target
        scope["path_params"] = {"name": name} if version is None else {
            "name": name, "version": version}
        audit: dict[str, Any] = {}
        scope[AUDIT_KEY] = audit
        request = Request(scope, receive, send)
        response: Response | None
        try:
            response = await (infer(request) if protocol == "v2" else predict(request)
                              if version is None else predict_version(request))
        except Exception as exc:
            response = await self._handled(request, exc)
            if response is None:
                log.error("predict on %s failed", scope["path"], exc_info=exc)
                response = PlainTextResponse("Internal Server Error", 500)
        status: list[int] = []

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await response(scope, receive, sent)
        if "principal" in audit:
            await record_audit(scope, audit, status[0] if status else 0)

    async def _handled(self, request: Request, exc: Exception) -> Response | None:
        """The app's own exception handler for ``exc`` (by type, most specific first),
        or None when there is none or it re-raised."""
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                try:
                    response = handler(request, exc)
                    return await response if inspect.isawaitable(response) else response
                except Exception:
                    return None
        return None
