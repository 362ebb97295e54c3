"""The Open Inference Protocol (V2, as KServe, MLServer and Triton speak it) beside
rampup's own API, so clients and tools built for those servers work unchanged.

``POST /v2/models/{name}[/versions/{v}]/infer`` goes through the same predict path as
``/v1/models/{name}/predict`` (:func:`rampup.serving.predict.handle`: routing by the
deployment, sticky keys, validation, micro-batching, automation, metrics, monitoring,
the prediction log, shadows); only the wire format differs
(:mod:`rampup.serving.v2_codec`). Health, readiness and metadata answer as the protocol
says: 200 for true, a 4xx with ``{"error": message}`` for false or failure.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import rampup
from rampup.errors import NotFoundError, RampupError, ValidationError
from rampup.serving import pipeline, v2_codec
from rampup.serving.auth import require_predict
from rampup.serving.errors import status_for
from rampup.serving.predict import Answer, handle
from rampup.serving.responses import dumps, json_response
from rampup.serving.runtime import LoadedVersion, ServedModel
from rampup.serving.state import AppState, app_state

TAG = "open inference protocol (v2)"


def v2_error(exc: RampupError, request_id: str | None = None,
             headers: dict[str, str] | None = None, status: int | None = None) -> Response:
    """V2's error object (``{"error": message}``) with rampup's details beside it."""
    body = exc.to_dict()  # error (rampup's code), message, field, fix, ...
    body["code"] = body["error"]
    body["error"] = exc.message + (f" (fix: {exc.fix})" if exc.fix else "")
    if request_id:
        body["request_id"] = request_id
    out_headers = dict(headers or {})
    if request_id:
        out_headers["x-request-id"] = request_id
    return json_response(body, status or status_for(exc), out_headers or None)


def _primary(served: ServedModel, version: str | None) -> LoadedVersion | None:
    if version is not None:
        return served.versions.get(version)
    routes = served.policy.routes
    name = max(routes, key=lambda v: routes[v]) if routes else None
    return served.versions.get(name) if name is not None else None


class _V2Wire:
    """Tensors in, tensors out (see :mod:`rampup.serving.v2_codec`)."""

    def records(self, payload: Any, served: ServedModel, pinned: str | None,
                max_records: int) -> list[Any]:
        lv = _primary(served, pinned)
        records = v2_codec.decode(payload, lv.schema.names if lv is not None else [],
                                  max_records)
        if lv is not None:  # asked-for outputs are checked before the model runs
            v2_codec.check_outputs(v2_codec.requested_outputs(payload), lv.output)
        return records

    def answer(self, answer: Answer) -> Response:
        outputs = v2_codec.encode(answer.shown, answer.output)
        wanted = v2_codec.requested_outputs(answer.payload)
        if wanted is not None:
            outputs = [o for o in outputs if o["name"] in wanted]
        given = answer.payload.get("id")
        body = {"model_name": answer.model, "model_version": answer.version,
                "id": given if isinstance(given, str) else answer.request_id,
                "parameters": {"request_id": answer.request_id, "route": answer.route},
                "outputs": outputs}
        return Response(dumps(body), 200, media_type="application/json", headers={
            "x-request-id": answer.request_id, "x-model-version": answer.version,
            "x-route": answer.route})

    def error(self, exc: RampupError, request_id: str,
              headers: dict[str, str] | None) -> Response:
        return v2_error(exc, request_id, headers)


V2 = _V2Wire()


async def infer(request: Request) -> Response:
    name = request.path_params["name"]
    version = request.path_params.get("version")
    if "inference-header-content-length" in request.headers:
        return v2_error(ValidationError(
            "binary tensor data (the binary data extension) is not supported",
            fix="send the tensors' data as JSON (tritonclient: binary_data=False on inputs "
                "and outputs)", field="body"), status=400)
    if pipeline.pipeline_of(app_state(request), name) is not None:
        return v2_error(ValidationError(
            f"{name!r} is a pipeline; the V2 protocol serves its stages, one model each",
            fix=f"call a stage's /v2/models/<stage>/infer, or the whole pipeline at "
                f"/v1/models/{name}/predict", field="name"))
    return await handle(request, name, version, V2)


def _read(request: Request) -> AppState:
    st = app_state(request)
    require_predict(request, st.settings.predict_token, st.settings.admin_token)
    return st


async def _version(st: AppState, name: str, version: str | None) -> LoadedVersion:
    served = st.runtime.get(name)
    lv = _primary(served, version)
    if lv is None and version is not None:
        lv = await asyncio.to_thread(st.runtime.pinned, name, version)
    if lv is None:  # pragma: no cover - a deployment always routes to a loaded version
        raise NotFoundError(f"model {name!r} has no version to answer",
                            fix="deploy a version (rampup deploy)")
    return lv


async def model_metadata(request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params.get("version")
    try:
        st = _read(request)
        lv = await _version(st, name, version)
        served = st.runtime.get(name)
    except RampupError as exc:
        return v2_error(exc)
    return json_response({
        "name": name, "versions": sorted(served.versions),
        "platform": f"rampup-{lv.record.flavor}",
        "inputs": v2_codec.input_metadata(lv.schema),
        "outputs": v2_codec.output_metadata(lv.output),
        "parameters": {"version": lv.name, "deployment_id": served.deployment_id}})


async def model_ready(request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params.get("version")
    try:
        st = _read(request)
        served = st.runtime.get(name)
    except RampupError as exc:
        return v2_error(exc)
    if version is not None and version not in served.versions:
        return v2_error(NotFoundError(
            f"version {name}@{version} is not deployed here (deployed: "
            f"{', '.join(sorted(served.versions))})", fix="deploy it, or ask for a deployed "
            "version", field="version"), status=400)
    return json_response({"name": name, "ready": True})


async def server_live(request: Request) -> Response:
    return json_response({"live": True})


async def server_ready(request: Request) -> Response:
    from rampup.serving.routes import readyz  # the one readiness check (workers, store)

    checked = await readyz(request)
    if checked.status_code == 200:
        return json_response({"ready": True})
    return json_response({"ready": False, "error": "not ready: see /readyz for what is down"},
                         400)


async def server_metadata(request: Request) -> Response:
    return json_response({"name": "rampup", "version": rampup.__version__, "extensions": []})


def routes() -> list[Route]:
    """The V2 routes (plain Starlette routes, documented in :data:`OPENAPI_PATHS`)."""
    return [
        Route("/v2", server_metadata, methods=["GET"], name="v2_server_metadata"),
        Route("/v2/health/live", server_live, methods=["GET"], name="v2_live"),
        Route("/v2/health/ready", server_ready, methods=["GET"], name="v2_ready"),
        Route("/v2/models/{name}", model_metadata, methods=["GET"], name="v2_model"),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"], name="v2_model_ready"),
        Route("/v2/models/{name}/infer", infer, methods=["POST"], name="v2_infer"),
        Route("/v2/models/{name}/versions/{version}", model_metadata, methods=["GET"],
              name="v2_model_version"),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"],
              name="v2_model_version_ready"),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"],
              name="v2_infer_version"),
    ]


_TENSOR = {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
    "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
    "datatype": {"type": "string", "enum": list(v2_codec.DATATYPES)},
    "parameters": {"type": "object"}, "data": {"type": "array", "items": {}}}}
_ERROR = {"description": "V2 error: {\"error\": message} with rampup's code, field and fix",
          "content": {"application/json": {"schema": {"type": "object", "properties": {
              "error": {"type": "string"}, "code": {"type": "string"},
              "field": {"type": "string"}, "fix": {"type": "string"}}}}}}
_INFER_REQUEST = {"type": "object", "required": ["inputs"], "properties": {
    "id": {"type": "string"}, "parameters": {"type": "object"},
    "inputs": {"type": "array", "items": _TENSOR},
    "outputs": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "parameters": {"type": "object"}}}}}}
_INFER_RESPONSE = {"type": "object", "properties": {
    "model_name": {"type": "string"}, "model_version": {"type": "string"},
    "id": {"type": "string"}, "parameters": {"type": "object"},
    "outputs": {"type": "array", "items": _TENSOR}}}
_EXAMPLE = {"inputs": [
    {"name": "age", "shape": [1], "datatype": "INT64", "data": [35]},
    {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["oslo"]}]}


def _params(version: bool) -> list[dict[str, Any]]:
    out = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if version:
        out.append({"name": "version", "in": "path", "required": True,
                    "schema": {"type": "string"}})
    return out


def _get(summary: str, op: str, version: bool | None = None) -> dict[str, Any]:
    return {"get": {"tags": [TAG], "summary": summary, "operationId": op,
                    "parameters": [] if version is None else _params(version),
                    "responses": {"200": {"description": "true / the metadata"},
                                  "400": _ERROR, "404": _ERROR}}}


def _infer(version: bool) -> dict[str, Any]:
    return {"post": {
        "tags": [TAG], "operationId": "v2_infer_version" if version else "v2_infer",
        "summary": "Inference with a specific version (bypasses the traffic policy)" if version
        else "Inference: routed, validated, logged and monitored like /v1/.../predict",
        "description": (
            "Inputs: one tensor per feature (shape [N] or [N, 1]), or one 2-D tensor "
            "[N, features] whose columns are the model's features in order (or named in "
            "its parameters.feature_names). Outputs: predict, predict_proba, confidence; "
            "with human review, status, decided_by and review_id (also in predict's "
            "parameters for one record)."),
        "parameters": [*_params(version), {
            "name": "x-request-key", "in": "header", "required": False,
            "schema": {"type": "string"}, "description": "user/session id (sticky)"}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _INFER_REQUEST, "example": _EXAMPLE}}},
        "responses": {"200": {"description": "the output tensors", "content": {
            "application/json": {"schema": _INFER_RESPONSE}}},
            "400": _ERROR, "404": _ERROR, "413": _ERROR, "422": _ERROR, "500": _ERROR}}}


def openapi_paths() -> dict[str, Any]:
    """The V2 routes for the OpenAPI document (they are plain Starlette routes)."""
    return {
        "/v2": _get("Server metadata", "v2_server_metadata"),
        "/v2/health/live": _get("Server live", "v2_live"),
        "/v2/health/ready": _get("Server ready (models loaded, store and workers up)",
                                 "v2_ready"),
        "/v2/models/{name}": _get("Model metadata: input and output tensors",
                                  "v2_model", False),
        "/v2/models/{name}/ready": _get("Model ready", "v2_model_ready", False),
        "/v2/models/{name}/infer": _infer(False),
        "/v2/models/{name}/versions/{version}": _get("Metadata of a version",
                                                     "v2_model_version", True),
        "/v2/models/{name}/versions/{version}/ready": _get("Version ready",
                                                           "v2_model_version_ready", True),
        "/v2/models/{name}/versions/{version}/infer": _infer(True),
    }
