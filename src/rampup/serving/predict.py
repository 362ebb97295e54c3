"""``POST /v1/models/{name}/predict`` and the version-pinned variant (the hot path).

:func:`handle` is the one predict path: auth, limits, routing, validation, the model call,
automation, metrics, monitoring, logging and shadows. A :class:`Wire` says how records
come out of the parsed body and how the answer and errors look on the wire: rampup's own
format here (:data:`V1`), the Open Inference Protocol in :mod:`rampup.serving.v2`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from rampup.errors import ModelError, RampupError
from rampup.predlog.ids import new_id
from rampup.predlog.writer import PredictionRecord
from rampup.registry.predictor import PredictionBatch
from rampup.registry.schema import OutputSpec
from rampup.serving import pipeline, shadow
from rampup.serving.auth import require_admin, require_predict
from rampup.serving.calls import read_body, run_version, yield_if_large
from rampup.serving.errors import error_response
from rampup.serving.human import HUMAN
from rampup.serving.responses import dumps
from rampup.serving.runtime import LoadedVersion, ServedModel
from rampup.serving.state import AppState, app_state
from rampup.serving.uploads import is_form, read_payload
from rampup.serving.validation import as_records

log = logging.getLogger("rampup.serving")

FORCE_HEADER = "x-rampup-route"
#: the log role of a prediction that bypassed the traffic policy (a version asked for by
#: path or forced by header): it is logged and monitored under this role, apart from the
#: routed ``answer`` traffic that rollout windows and the policy's metrics are made of.
PINNED = "pinned"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a predict call answered, for a wire format to render."""

    request_id: str
    model: str
    version: str
    route: str
    shown: list[dict[str, Any]]  # one item per record, as the response shows it
    output: OutputSpec  # of the answering version
    payload: Any  # the parsed request body


class Wire(Protocol):
    """A request/response format for :func:`handle`."""

    def records(self, payload: Any, served: ServedModel, pinned: str | None,
                max_records: int) -> list[Any]:
        """The records of a parsed body (raise a RampupError for a bad one)."""

    def answer(self, answer: Answer) -> Response: ...

    def error(self, exc: RampupError, request_id: str,
              headers: dict[str, str] | None) -> Response: ...


class _RampupWire:
    """rampup's own format: a JSON object (one record) or an array of them in, the
    ``predictions`` out, errors as ``{error, message, field, fix}``."""

    def records(self, payload: Any, served: ServedModel, pinned: str | None,
                max_records: int) -> list[Any]:
        return as_records(payload, max_records)[0]

    def answer(self, answer: Answer) -> Response:
        return Response(
            dumps({"request_id": answer.request_id, "model": answer.model,
                   "version": answer.version, "predictions": answer.shown}),
            200, headers={"x-request-id": answer.request_id, "x-model-version": answer.version,
                          "x-route": answer.route}, media_type="application/json")

    def error(self, exc: RampupError, request_id: str,
              headers: dict[str, str] | None) -> Response:
        return error_response(exc, request_id, extra_headers=headers)


V1: Wire = _RampupWire()


def _request_key(request: Request, served: ServedModel, records: list[Any]) -> str | None:
    key = request.headers.get(served.spec.request_key.header)
    if key:
        return key[:255]
    field = served.spec.request_key.field
    if field and isinstance(records[0], dict) and records[0].get(field) is not None:
        return str(records[0][field])[:255]
    return None


async def predict(request: Request) -> Response:
    name = request.path_params["name"]
    pipe = pipeline.pipeline_of(app_state(request), name)
    if pipe is not None:  # a pipeline of stages: rampup.serving.pipeline
        return await pipeline.predict(request, name, pipe)
    return await handle(request, name, None)


async def predict_version(request: Request) -> Response:
    return await handle(request, request.path_params["name"], request.path_params["version"])


async def handle(request: Request, name: str, pinned: str | None, wire: Wire = V1) -> Response:
    """Answer one predict request for model ``name`` (``pinned``: a version asked for by
    name, bypassing the traffic policy) in ``wire``'s format."""
    st = app_state(request)
    t0 = time.perf_counter()
    rid = new_id()
    request.state.request_id = rid
    m = st.metrics
    m.in_flight.inc()
    version = "-"
    role = "answer" if pinned is None else PINNED
    records: list[Any] = []
    key: str | None = None
    auto = st.automation
    try:
        require_predict(request, st.settings.predict_token, st.settings.admin_token)
        limit = st.settings.max_body_bytes
        body = None if is_form(request) else await read_body(request, limit)
        served = st.runtime.get(name)
        payload = await read_payload(request, body, limit,  # JSON, or a multipart upload
                                     st.settings.max_json_depth)
        records = wire.records(payload, served, pinned, st.settings.max_records)
        key = _request_key(request, served, records)
        forced = request.headers.get(FORCE_HEADER)
        if forced and pinned is None:
            # QA: force a version with a header, admin token only.
            require_admin(request, st.settings.admin_token)
            pinned, role = forced, PINNED
        elif pinned is not None and pinned not in served.versions:
            # A version the policy does not serve: loading it is an admin's call.
            require_admin_for_pinned(request, st, name, pinned)
        if pinned is None:
            version, bucket = served.router.assign(key)
            lv = served.versions[version]
            route = f"{version}; policy={served.deployment_id}" + (
                f"; bucket={bucket}" if bucket >= 0 else "")
        else:
            lv = await _pinned(st, name, pinned)
            version = lv.name
            route = f"{version}; {'forced' if forced else 'pinned'}"
        if auto is not None and pinned is None and auto.skips_model(name):
            lv.validator.validate(records)  # human_only: bad input is still a 422, but
            out, version = PredictionBatch([None] * len(records)), HUMAN  # no model call
        else:
            out = await run_version(lv, records)
    except RampupError as exc:
        kind = exc.code
        m.errors.labels(name, version, kind).inc()
        status = "5xx" if isinstance(exc, ModelError) else "4xx"
        m.requests.labels(name, version, status).inc()
        if isinstance(exc, ModelError) and records:
            # A model failure is a prediction too: log it with its error for analysis.
            now, ms = time.time(), (time.perf_counter() - t0) * 1000.0
            failed = [PredictionRecord(rid if len(records) == 1 else f"{rid}-{i}", rid, now,
                                       name, version, role, rec, None, None, ms,
                                       exc.message, key) for i, rec in enumerate(records)]
            if st.monitor is not None:
                st.monitor.offer(failed)
            await st.writer.submit_async(failed)
        elif st.monitor is not None and name in st.runtime.models:
            st.monitor.note_error(name, version, kind, (time.perf_counter() - t0) * 1000.0,
                                  role=role)
        return wire.error(exc, rid, {"x-model-version": version} if version != "-" else None)
    finally:
        m.in_flight.dec()
    await yield_if_large(len(records))  # answered: small requests go before the rest
    ids = [rid] if len(records) == 1 else [f"{rid}-{i}" for i in range(len(records))]
    preds = []
    for i, pid in enumerate(ids):
        item = out.record(i)
        item["id"] = pid
        if version == HUMAN:
            item["status"] = "pending_human"
        preds.append(item)
    shown = preds if auto is None or pinned is not None else auto.annotate(
        name, version, lv.output, records, out, ids, rid, preds)
    response = wire.answer(Answer(rid, name, version, route, shown, lv.output, payload))
    latency = time.perf_counter() - t0
    ok, seconds, predicted = m.answered(name, version, role)
    ok.inc()
    seconds.observe(latency)
    predicted.inc(len(records))
    await yield_if_large(len(records))  # the response is built: the same before logging
    now = time.time()
    conf = out.confidence
    log_records = [
        PredictionRecord(pid, rid, now, name, version, role, records[i], preds[i],
                         conf[i] if conf is not None else None, latency * 1000.0, None, key)
        for i, pid in enumerate(ids)]
    if pinned is None and served.policy.mirrors:
        mirrors = [v for v in served.router.mirrors() if v != version]
        if mirrors:
            shadow.schedule(st, name, mirrors, records, ids, rid, key)
    await st.record(name, version, log_records)
    return response


def require_admin_for_pinned(request: Request, st: AppState, name: str,
                             version: str) -> None:
    """Pinning a version outside the current policy needs the admin token (like the
    route-forcing header): it loads a version nobody deployed onto the server."""
    try:
        require_admin(request, st.settings.admin_token)
    except RampupError as exc:
        raise type(exc)(f"version {version!r} of {name!r} is not deployed, so predicting "
                        f"with it by name needs the admin token: {exc.message}",
                        fix=f"{exc.fix}, or predict with a deployed version "
                            f"(GET /v1/models/{name} lists them)", field="version") from None


async def _pinned(st: AppState, name: str, version: str) -> LoadedVersion:
    served = st.runtime.models.get(name)
    if served is not None and version in served.versions:
        return served.versions[version]
    return await asyncio.to_thread(st.runtime.pinned, name, version)


