"""Every request body rampup takes is JSON, whatever its content-type header says, and is
parsed at one edge (:func:`rampup.serving.edge.parse`).

``curl -d '{...}'`` without ``-H 'content-type: application/json'`` sends
``application/x-www-form-urlencoded``; FastAPI would then hand the raw bytes to the
route's model and answer "Input should be a valid dictionary". :class:`JSONBodies` states
the truth instead: a POST, PUT or PATCH body is JSON (the predict routes read it as JSON
anyway). It is safe because cross-origin browser requests, the ones a form encoding could
smuggle past a CORS preflight, are refused by the Origin checks.

:class:`EdgeRoute` is the route class of every FastAPI router: it parses the body at the
edge *before* FastAPI does, so a value nothing downstream could hold is a 4xx naming the
field (FastAPI's own ``json.loads`` would take NaN, lone surrogates and huge integers,
and raise RecursionError on deep nesting). The predict routes call the same parser.

One exception: a ``multipart/form-data`` upload to a predict route (an image or audio
file, the way ``curl -F photo=@cat.jpg`` sends it) keeps its content-type, which the
predict path reads as a form (:mod:`rampup.serving.uploads`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rampup.errors import PayloadTooLargeError, ValidationError
from rampup.serving.edge import DEFAULT_MAX_DEPTH, parse

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = (b"content-type", b"application/json")
_FORM = b"multipart/form-data"


def _upload(scope: Scope) -> bool:
    if not str(scope.get("path", "")).endswith("/predict"):
        return False
    return any(k == b"content-type" and v.lower().startswith(_FORM)
               for k, v in scope["headers"])


def _nul_in_url(scope: Scope) -> ValidationError | None:
    """A NUL character in the path or a query parameter (``%00``): no name, id or filter
    holds one, and PostgreSQL refuses it in a query (a 500 before), so it is a 422."""
    if "\x00" in str(scope.get("path", "")):
        return ValidationError("the URL path holds a NUL character (%00)",
                               fix="remove %00 from the path", field="path")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                name = key.replace("\x00", "")
                return ValidationError(f"query parameter '{name}' holds a NUL character (%00)",
                                       fix=f"remove %00 from '{name}'", field=name or "query")
    return None


class JSONBodies:
    """Pure ASGI middleware: rewrite the content-type of requests with a body to JSON (and
    refuse a NUL character in the URL before any route looks it up)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            nul = _nul_in_url(scope)
            if nul is not None:
                from rampup.serving.errors import error_response

                await error_response(nul)(scope, receive, send)
                return
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS \
                and not _upload(scope):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            headers.append(_JSON)
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


class _EdgeRequest(Request):
    """A request whose JSON was parsed at the edge (FastAPI reads it through ``json()``)."""

    edge_json: Any = None

    async def json(self) -> Any:
        return self.edge_json


def _limits(request: Request) -> tuple[int, int]:
    st = getattr(request.app.state, "rampup", None)
    if st is None:  # an app built without rampup's state (a route tested on its own)
        return DEFAULT_MAX_DEPTH, 1_048_576
    return st.settings.max_json_depth, st.settings.max_body_bytes


class EdgeRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose body goes through the JSON edge."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def edge_handler(request: Request) -> Response:
            if request.method not in _BODY_METHODS:
                return await handler(request)
            depth, limit = _limits(request)
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLargeError(
                    f"the request body is {int(declared)} bytes, over the limit of {limit}",
                    fix="send a smaller body or raise RAMPUP_MAX_BODY_BYTES", field="body")
            edge = _EdgeRequest(request.scope, request.receive)
            body = await edge.body()
            if len(body) > limit:
                raise PayloadTooLargeError(f"the request body is over the limit of {limit} "
                                           "bytes", fix="send a smaller body", field="body")
            if body:
                edge.edge_json = parse(body, depth)
            return await handler(edge)

        return edge_handler
