"""Each served model's request and response schema in the OpenAPI document.

The predict routes take any model's records, so their generic entry can only say "an
object or an array of objects". For every model this server answers for, a concrete
path (``/v1/models/credit/predict``, and one per served version) carries the real
fields: names, JSON types, the 64-bit integer range, allowed categories, length bounds,
which may be null, whether other keys are allowed; and the response's prediction type
and classes. ``/docs`` shows them and a fuzzer (schemathesis) generates records that
reach per-feature validation and the model instead of stopping at "unknown field".

Pure: :func:`model_paths` maps (model, versions' schemas) to OpenAPI path items; the
app calls it each time ``/openapi.json`` is served, so a newly registered or deployed
version shows at once.

>>> from rampup.registry.schema import Feature, InputSchema, OutputSpec
>>> s = record_schema(InputSchema([Feature("age", "int"), Feature("city", "str",
...                   nullable=True, categories=("rome", "oslo"), strict_categories=True)]))
>>> s["required"], s["properties"]["city"]["enum"], s["additionalProperties"]
(['age'], ['rome', 'oslo', None], False)
>>> prediction_schema(OutputSpec("class", classes=(0, 1)))["properties"]["prediction"]
{'enum': [0, 1]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rampup.registry.schema import Feature, InputSchema, OutputSpec
from rampup.serving.edge import INT_MAX, INT_MIN

_JSON_TYPE = {"float": "number", "int": "integer", "bool": "boolean", "str": "string"}
FLOAT_MAX = 1.7976931348623157e308


#: input modalities (rampup.inputs) as they travel in JSON
_MEDIA: dict[str, dict[str, Any]] = {
    "image": {"type": "string", "contentEncoding": "base64",
              "description": "a PNG or JPEG file, base64 (or a multipart upload)"},
    "audio": {"type": "string", "contentEncoding": "base64",
              "description": "a WAV or FLAC file, base64 (or a multipart upload)"},
    "text": {"type": "string"},
    "tensor": {"type": "array", "description": "a nested array of numbers"},
    "embedding": {"type": "array", "items": {"type": "number"}},
}


def feature_schema(f: Feature) -> dict[str, Any]:
    """The JSON Schema of one feature's value."""
    if f.dtype not in _JSON_TYPE:
        media = dict(_MEDIA.get(f.dtype, {}))
        if f.nullable and "type" in media:
            media["type"] = [media["type"], "null"]
        return media
    out: dict[str, Any] = {"type": [_JSON_TYPE[f.dtype], "null"] if f.nullable
                           else _JSON_TYPE[f.dtype]}
    if f.dtype == "int":
        out.update(minimum=INT_MIN, maximum=INT_MAX)
    elif f.dtype == "float":
        out.update(minimum=-FLOAT_MAX, maximum=FLOAT_MAX)
    elif f.dtype == "str":
        if f.categories is not None and f.strict_categories:
            out["enum"] = [*f.categories, None] if f.nullable else list(f.categories)
            del out["type"]
        if f.min_length is not None:
            out["minLength"] = f.min_length
        if f.max_length is not None:
            out["maxLength"] = f.max_length
        if f.categories and not f.strict_categories:
            out["examples"] = list(f.categories[:5])
    return out


def record_schema(schema: InputSchema, ignored: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON Schema of one record (a free-form model takes any object); ``ignored``:
    keys taken besides the features (the request key field)."""
    if schema.free_form:
        return {"type": "object", "description": "any JSON object (a free-form model)"}
    props = {f.name: feature_schema(f) for f in schema.features}
    for k in ignored:
        props.setdefault(k, {"description": "the request key (sticky routing)"})
    return {
        "type": "object",
        "properties": props,
        "required": [f.name for f in schema.features if not f.nullable],
        "additionalProperties": schema.allow_extra,
    }


def prediction_schema(output: OutputSpec) -> dict[str, Any]:
    """The JSON Schema of one item of ``predictions``."""
    if output.kind == "class" and output.classes is not None:
        pred: dict[str, Any] = {"enum": list(output.classes)}
    elif output.kind == "number":
        pred = {"type": "number"}
    else:
        pred = {"description": "the model's output (any JSON value)"}
    props: dict[str, Any] = {
        "prediction": pred,
        "id": {"type": "string", "description": "send feedback for this record with it"},
        "confidence": {"type": ["number", "null"]},
    }
    if output.has_probabilities:
        props["probabilities"] = {"description": "per class, as the model gives them"}
    return {"type": "object", "properties": props, "required": ["prediction", "id"]}


def _one_of(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    unique: list[dict[str, Any]] = []
    for s in items:
        if s not in unique:
            unique.append(s)
    return unique[0] if len(unique) == 1 else {"oneOf": unique}


def _operation(model: str, version: str | None, inputs: Sequence[InputSchema],
               outputs: Sequence[OutputSpec], max_records: int,
               ignored: Sequence[str]) -> dict[str, Any]:
    record = _one_of([record_schema(s, ignored) for s in inputs])
    which = f"version {version} of {model!r}" if version else f"model {model!r}"
    return {
        "tags": ["predictions"],
        "operationId": f"predict_{model}" + (f"_{version}" if version else ""),
        "summary": f"Predict with {which}: one record or an array of records",
        "description": "The request fields of this model (see the generic predict route for "
                       "routing, sticky keys and errors).",
        "parameters": [{"name": "x-request-key", "in": "header", "required": False,
                        "schema": {"type": "string"},
                        "description": "user/session id (sticky)"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [record, {"type": "array", "items": record, "minItems": 1,
                               "maxItems": max_records}]}}}},
        "responses": {
            "200": {"description": "one prediction per record", "content": {
                "application/json": {"schema": {
                    "type": "object",
                    "properties": {"request_id": {"type": "string"},
                                   "model": {"type": "string"},
                                   "version": {"type": "string"},
                                   "predictions": {"type": "array",
                                                   "items": _one_of([prediction_schema(o)
                                                                     for o in outputs])}},
                    "required": ["request_id", "model", "version", "predictions"]}}}},
            "400": {"description": "the body is not JSON rampup takes (field and fix)"},
            "413": {"description": "payload too large"},
            "422": {"description": "a record does not match the schema (field and fix)"},
            "500": {"description": "the model raised"}},
    }


def model_paths(models: Mapping[str, Mapping[str, tuple[InputSchema, OutputSpec]]],
                answering: Mapping[str, Sequence[str]], max_records: int,
                ignored: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """OpenAPI path items for each model (``models``: name -> version -> its schemas;
    ``answering``: the versions the traffic policy routes to, whose schemas the unpinned
    route takes; ``ignored``: per model, keys taken besides the features)."""
    paths: dict[str, Any] = {}
    for name, versions in sorted(models.items()):
        extra = (ignored or {}).get(name, ())
        routed = [v for v in answering.get(name, ()) if v in versions] or sorted(versions)
        paths[f"/v1/models/{name}/predict"] = {"post": _operation(
            name, None, [versions[v][0] for v in routed], [versions[v][1] for v in routed],
            max_records, extra)}
        for v, (schema, output) in sorted(versions.items()):
            paths[f"/v1/models/{name}/versions/{v}/predict"] = {"post": _operation(
                name, v, [schema], [output], max_records, extra)}
    return paths
