"""Request bodies as records: JSON, or a ``multipart/form-data`` upload.

A form is one record: each file field is the file's bytes (an image or audio feature),
each text field a :class:`~rampup.serving.validation.FormText` that the validator types
by the schema (``"42"`` for an int feature is 42). The parts are parsed by Starlette
with python-multipart, within the same byte limit as a JSON body; a form with more files
or fields than ``MAX_PARTS`` is refused.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from rampup.errors import MalformedRequestError, PayloadTooLargeError
from rampup.serving.edge import DEFAULT_MAX_DEPTH
from rampup.serving.validation import FormText, parse_json

MAX_PARTS = 64


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the upload is over the limit of {limit} bytes",
                                fix="send smaller files or raise RAMPUP_MAX_BODY_BYTES",
                                field="body")


async def read_form(request: Request, limit: int) -> dict[str, Any]:
    """One record from a multipart form (see the module docstring)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    try:
        form = await request.form(max_files=MAX_PARTS, max_fields=MAX_PARTS,
                                  max_part_size=limit)
    except Exception as exc:  # python-multipart's and Starlette's parse errors
        raise MalformedRequestError(
            f"the multipart/form-data body could not be read: {exc}",
            fix="send one field per feature, files as file parts (curl -F photo=@cat.jpg)",
            field="body") from None
    record: dict[str, Any] = {}
    total = 0
    try:
        for key, value in form.multi_items():
            if key in record:
                raise MalformedRequestError(
                    f"the form has the field {key!r} more than once",
                    fix="send each feature once; several records need a JSON array",
                    field=key)
            if isinstance(value, UploadFile):
                data = await value.read()
                total += len(data)
                if total > limit:
                    raise _too_large(limit)
                record[key] = data
            else:
                record[key] = FormText(value)
    finally:
        await form.close()
    if not record:
        raise MalformedRequestError("the form holds no fields",
                                    fix="send one field per feature", field="body")
    return record


async def read_payload(request: Request, body: bytes | None, limit: int,
                       max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The parsed body: a form's record, or the JSON document in ``body`` (parsed at the
    JSON edge, :func:`rampup.serving.validation.parse_json`)."""
    if is_form(request):
        return await read_form(request, limit)
    return parse_json(body or b"", max_depth)
