"""Every request body rampup takes is JSON, whatever its content-type header says.

``curl -d '{...}'`` without ``-H 'content-type: application/json'`` sends
``application/x-www-form-urlencoded``; FastAPI would then hand the raw bytes to the
route's model and answer "Input should be a valid dictionary". This ASGI middleware
states the truth instead: a POST, PUT or PATCH body is JSON (the predict routes read it
as JSON anyway). It is safe because cross-origin browser requests, the ones a form
encoding could smuggle past a CORS preflight, are refused by the Origin checks.

One exception: a ``multipart/form-data`` upload to a predict route (an image or audio
file, the way ``curl -F photo=@cat.jpg`` sends it) keeps its content-type, which the
predict path reads as a form (:mod:`rampup.serving.uploads`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = (b"content-type", b"application/json")
_FORM = b"multipart/form-data"


def _upload(scope: Scope) -> bool:
    if not str(scope.get("path", "")).endswith("/predict"):
        return False
    return any(k == b"content-type" and v.lower().startswith(_FORM)
               for k, v in scope["headers"])


class JSONBodies:
    """Pure ASGI middleware: rewrite the content-type of requests with a body to JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS \
                and not _upload(scope):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            headers.append(_JSON)
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
