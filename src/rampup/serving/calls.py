"""One call of a loaded version and the bounded request body: the steps the predict path
(:mod:`rampup.serving.predict`) and pipelines (:mod:`rampup.serving.pipeline`) share."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

from starlette.requests import Request

from rampup.errors import ModelError, PayloadTooLargeError, RampupError
from rampup.registry.predictor import FeatureBatch, PredictionBatch
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


#: a request of this many records lets the event loop run other requests between its
#: steps (parse, validate, predict, log): a 1,000-record request is ~10 ms of Python on
#: the loop, which single-record requests behind it would otherwise wait out whole
LARGE_REQUEST = 128


async def yield_if_large(n: int) -> None:
    """Give the event loop a turn when a request of ``n`` records is large."""
    if n >= LARGE_REQUEST:
        await asyncio.sleep(0)


async def _validate(lv: LoadedVersion, records: list[Any]) -> FeatureBatch:
    """The version's validator over ``records``; a large request in parts of
    :data:`LARGE_REQUEST` records with a turn of the event loop between them. A part
    with a problem sends the whole request through at once, so the problems listed and
    their record numbers are exactly those of a one-piece check."""
    n = len(records)
    if n < 2 * LARGE_REQUEST or lv.validator.decodes_in_place:
        # (images and audio are decoded into the records: a second pass over a part
        # already checked would see decoded values, so such a request goes in one piece)
        return lv.validator.validate(records)
    parts = []
    for start in range(0, n, LARGE_REQUEST):
        if start:
            await asyncio.sleep(0)
        try:
            parts.append(lv.validator.validate(records[start:start + LARGE_REQUEST]))
        except RampupError:
            return lv.validator.validate(records)
    return FeatureBatch.concat(parts)


async def run_version(lv: LoadedVersion, records: list[Any]) -> PredictionBatch:
    """Validate ``records`` and predict on ``lv`` (through its micro-batcher); a model
    that raises becomes a :class:`ModelError` whose text quotes no protected input."""
    batcher = lv.batcher
    if batcher is not None:
        batcher.expect()
    try:
        await yield_if_large(len(records))  # parsed: let waiting small requests run
        batch = await _validate(lv, records)
    except RampupError:
        if batcher is not None:
            batcher.cancel()
        raise
    try:
        await yield_if_large(len(records))  # validated: the same
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
