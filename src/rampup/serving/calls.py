"""One call of a loaded version and the bounded request body: the steps the predict path
(:mod:`rampup.serving.predict`) and pipelines (:mod:`rampup.serving.pipeline`) share."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from starlette.requests import Request

from rampup.errors import ModelError, PayloadTooLargeError, RampupError
from rampup.registry.predictor import PredictionBatch
from rampup.security.privacy import protected_values, redact
from rampup.serving.runtime import LoadedVersion

log = logging.getLogger("rampup.serving")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) over ``limit`` bytes: declared or read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"the request body is {int(declared)} bytes, over the limit of {limit}",
            fix="send fewer records per request or raise RAMPUP_MAX_BODY_BYTES", field="body")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLargeError(f"the request body is over the limit of {limit} bytes",
                                   fix="send fewer records per request", field="body")
    return body


async def run_version(lv: LoadedVersion, records: list[Any]) -> PredictionBatch:
    """Validate ``records`` and predict on ``lv`` (through its micro-batcher); a model
    that raises becomes a :class:`ModelError` whose text quotes no protected input."""
    batcher = lv.batcher
    if batcher is not None:
        batcher.expect()
    try:
        batch = lv.validator.validate(records)
    except RampupError:
        if batcher is not None:
            batcher.cancel()
        raise
    try:
        return await lv.predict(batch)
    except RampupError:
        raise
    except Exception as exc:
        secrets = protected_values(lv.validator.protected, records)
        if secrets:  # the message or traceback may quote a protected input: redacted
            trace = "".join(traceback.format_exception(exc))
            log.error("version %s raised while predicting:\n%s", lv.name, redact(trace, secrets))
        else:
            log.exception("version %s raised while predicting", lv.name)
        text = redact(f"{type(exc).__name__}: {exc}", secrets)
        raise ModelError(f"version {lv.name} failed: {text}"[:500],
                         fix="the model raised on this input; see the server log with the "
                             "request id") from exc
