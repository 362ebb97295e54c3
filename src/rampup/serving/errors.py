"""The one place where rampup errors become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rampup import errors as e
from rampup.serving.body_errors import from_pydantic
from rampup.serving.responses import json_response

log = logging.getLogger("rampup.serving")

STATUS: list[tuple[type[e.RampupError], int]] = [
    (e.PayloadTooLargeError, 413),
    (e.MalformedRequestError, 400),
    (e.ValidationError, 422),
    (e.NotFoundError, 404),
    (e.ConflictError, 409),
    (e.AuthError, 401),
    (e.ForbiddenError, 403),
    (e.OverloadedError, 503),
    (e.ConfigError, 400),
    (e.MissingExtraError, 501),
    (e.ModelError, 500),
    (e.StoreError, 503),
]


def status_for(exc: e.RampupError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(exc: e.RampupError, request_id: str | None = None,
                   status: int | None = None,
                   extra_headers: dict[str, str] | None = None) -> Response:
    body = exc.to_dict()
    if request_id:
        body["request_id"] = request_id
    code = status or status_for(exc)
    headers = {"x-request-id": request_id} if request_id else None
    if extra_headers:
        headers = {**(headers or {}), **extra_headers}
    if code == 401:
        headers = {**(headers or {}), "www-authenticate": "Bearer"}
    return json_response(body, code, headers)


def install(app: FastAPI) -> None:
    async def rampup_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, e.RampupError)
        return error_response(exc, getattr(request.state, "request_id", None))

    async def body_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # the same shape as predict's errors: error, message, field, fix, problems
        return error_response(from_pydantic(exc.errors()),
                              getattr(request.state, "request_id", None))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return json_response({"error": "http_error", "message": str(exc.detail)},
                             exc.status_code, getattr(exc, "headers", None))

    app.add_exception_handler(e.RampupError, rampup_error)
    app.add_exception_handler(RequestValidationError, body_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
