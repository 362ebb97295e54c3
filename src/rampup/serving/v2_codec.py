"""The Open Inference Protocol (V2) on the wire: tensors in, records out, and back (pure).

A V2 request carries named tensors. rampup's models take records of named features, so
the inputs are read the two ways V2 clients send tabular data:

* one tensor per feature (KServe/MLServer's pandas form), each of shape ``[N]`` or
  ``[N, 1]``: record ``i`` holds every tensor's ``i``-th value under the tensor's name;
* one 2-D tensor ``[N, F]`` (KServe's sklearn/xgboost form, Triton's): row ``i`` is record
  ``i``; its columns are named by the tensor's ``parameters.feature_names`` (a list, or a
  comma-separated string for clients whose parameters must be scalars), else they are the
  model's features in schema order.

>>> decode({"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [35, 41]},
...                    {"name": "city", "shape": [2, 1], "datatype": "BYTES",
...                     "data": [["oslo"], ["rome"]]}]}, ["city", "age"])
[{'age': 35, 'city': 'oslo'}, {'age': 41, 'city': 'rome'}]
>>> decode({"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP32",
...                     "data": [6.8, 2.8]}]}, ["a", "b"])
[{'a': 6.8, 'b': 2.8}]

The answer goes out as tensors: ``predict`` (one value per record), ``predict_proba``
(``[N, K]``, columns in the order of the model's classes), ``confidence``, and when the
model's automation level routed records to people, ``status``, ``decided_by`` and
``review_id`` (``""`` when not queued); for a single record these also travel in the
``parameters`` of ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from rampup.errors import ValidationError
from rampup.registry.schema import InputSchema, OutputSpec

#: V2 tensor data types and the JSON values each takes
DATATYPES = {"BOOL": bool, "UINT8": int, "UINT16": int, "UINT32": int, "UINT64": int,
             "INT8": int, "INT16": int, "INT32": int, "INT64": int, "FP16": float,
             "FP32": float, "FP64": float, "BYTES": str}
FEATURE_TYPES = {"float": "FP64", "int": "INT64", "bool": "BOOL", "str": "BYTES"}
AUTOMATION = ("status", "decided_by", "review_id")


def _bad(message: str, fix: str, field: str = "inputs") -> ValidationError:
    return ValidationError(message, fix=fix, field=field)


def _flatten(data: Any, out: list[Any]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _check_value(value: Any, datatype: str, where: str, field: str) -> Any:
    kind = DATATYPES[datatype]
    if kind is str:
        if isinstance(value, str):
            return value
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind is float or isinstance(value, int):
            return value
    raise _bad(f"{where}: {value!r} is not a {datatype} value",
               f"send {datatype} data as JSON {kind.__name__} values, or change the datatype",
               field)


def _tensor(item: Any, index: int) -> tuple[str, list[int], str, list[Any], dict[str, Any]]:
    """One request input, checked: (name, shape, datatype, flat data, parameters)."""
    where = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise _bad(f"{where} is not an object", "send each input as "
                   '{"name": ..., "shape": [...], "datatype": ..., "data": [...]}')
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    if not isinstance(name, str) or not name:
        raise _bad(f"{where} has no name", "give every input tensor a 'name'")
    where = f"input {name!r}"
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                       for d in shape)):
        raise _bad(f"{where}: shape {shape!r} is not a list of sizes",
                   "give 'shape' as a list of non-negative integers, e.g. [2, 1]", name)
    if datatype not in DATATYPES:
        raise _bad(f"{where}: unknown datatype {datatype!r}",
                   f"use one of {', '.join(DATATYPES)}", name)
    if "data" not in item:
        raise _bad(f"{where} has no 'data'", "send the tensor's values in 'data'", name)
    flat: list[Any] = []
    _flatten(item["data"], flat)
    size = math.prod(shape)
    if len(flat) != size:
        raise _bad(f"{where}: {len(flat)} values for shape {shape} ({size} expected)",
                   "send as many values as the shape holds (row-major, flat or nested)", name)
    flat = [_check_value(v, datatype, where, name) for v in flat]
    params = item.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad(f"{where}: parameters must be an object", "send parameters as {...}", name)
    return name, shape, datatype, flat, params


def _feature_names(params: dict[str, Any], width: int, schema_names: Sequence[str],
                   tensor: str) -> list[str]:
    given = params.get("feature_names")
    if isinstance(given, str):
        given = [n.strip() for n in given.split(",")]
    if given is not None:
        if not isinstance(given, list) or not all(isinstance(n, str) and n for n in given):
            raise _bad(f"input {tensor!r}: feature_names must be a list of names",
                       'e.g. "parameters": {"feature_names": ["age", "city"]}', tensor)
        names = list(given)
    else:
        names = list(schema_names)
    if len(names) != width:
        raise _bad(f"input {tensor!r} has {width} columns but "
                   + (f"{len(names)} feature_names" if given is not None else
                      f"the model has {len(names)} features ({', '.join(names) or 'none'})"),
                   "send one column per feature, in the order GET /v2/models/{name} lists "
                   "them, or name them in parameters.feature_names", tensor)
    return names


def decode(payload: Any, schema_names: Sequence[str], max_records: int = 10_000
           ) -> list[dict[str, Any]]:
    """The records of a V2 inference request (``schema_names``: the model's features in
    order, for unnamed 2-D tensors)."""
    if not isinstance(payload, dict):
        raise _bad("the request body is not a V2 inference request",
                   'send {"inputs": [{"name", "shape", "datatype", "data"}, ...]}', "body")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("the request has no 'inputs'",
                   'send {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    tensors = [_tensor(item, i) for i, item in enumerate(inputs)]
    name, shape, _dt, flat, params = tensors[0]
    if len(tensors) == 1 and len(shape) == 2 and (shape[1] > 1 or "feature_names" in params):
        rows, width = shape
        names = _feature_names(params, width, schema_names, name)
        records = [dict(zip(names, flat[r * width:(r + 1) * width], strict=True))
                   for r in range(rows)]
    else:
        rows = shape[0]
        for tname, tshape, _, _, _ in tensors:
            if tshape[0] != rows or math.prod(tshape) != rows:
                raise _bad(f"input {tname!r} has shape {tshape}; with several inputs each is "
                           f"one feature of shape [{rows}] or [{rows}, 1]",
                           "send one tensor per feature with the batch size first, or a "
                           "single 2-D tensor [records, features]", tname)
        seen: set[str] = set()
        for tname, *_ in tensors:
            if tname in seen:
                raise _bad(f"input {tname!r} is given twice", "send each feature once", tname)
            seen.add(tname)
        records = [{t[0]: t[3][r] for t in tensors} for r in range(rows)]
    if not records:
        raise _bad("the request holds no records", "send at least one row", "inputs")
    if len(records) > max_records:
        raise ValidationError(f"{len(records)} records, over the limit of {max_records}",
                              fix="send fewer records per request", field="inputs")
    return records


def requested_outputs(payload: Any) -> list[str] | None:
    """The output names a request asks for (None: all)."""
    wanted = payload.get("outputs") if isinstance(payload, dict) else None
    if wanted is None:
        return None
    if not isinstance(wanted, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in wanted):
        raise _bad("'outputs' must be a list of {\"name\": ...}",
                   'e.g. "outputs": [{"name": "predict"}]', "outputs")
    return [o["name"] for o in wanted]


def output_names(output: OutputSpec) -> list[str]:
    """The outputs an answer of a version with this output spec can carry."""
    names = ["predict"]
    if output.has_probabilities and output.classes:
        names.append("predict_proba")
    return [*names, "confidence", *AUTOMATION]


def check_outputs(wanted: list[str] | None, output: OutputSpec) -> None:
    """Refuse asked-for outputs this model never answers with, before predicting."""
    known = output_names(output)
    for name in wanted or ():
        if name not in known:
            raise _bad(f"unknown output {name!r}; this model answers with "
                       f"{', '.join(known)}",
                       "ask for outputs by those names, or leave 'outputs' out for all",
                       "outputs")


def _datatype(values: list[Any]) -> tuple[str, list[Any]]:
    """The tensor datatype of predictions, and the values as that type can carry them."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present) and len(present) == len(values):
        return "BOOL", values
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        if len(present) == len(values) and all(isinstance(v, int) for v in present):
            return "INT64", values
        return "FP64", values  # a missing (withheld) prediction is null: NaN to numpy
    if present and all(isinstance(v, str) for v in present):
        return "BYTES", ["" if v is None else v for v in values]
    return "BYTES", ["" if v is None else v if isinstance(v, str)
                     else orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()
                     for v in values]


def _probability(probs: Any, cls: Any) -> float | None:
    if not isinstance(probs, dict):
        return None
    value = probs.get(cls, probs.get(str(cls)))
    return float(value) if isinstance(value, int | float) else None


def encode(shown: list[dict[str, Any]], output: OutputSpec) -> list[dict[str, Any]]:
    """The response tensors for the items a predict call shows (see the module doc)."""
    n = len(shown)
    datatype, values = _datatype([item.get("prediction") for item in shown])
    predict: dict[str, Any] = {"name": "predict", "shape": [n], "datatype": datatype,
                               "data": values}
    outputs = [predict]
    classes = list(output.classes or ())
    if output.has_probabilities and classes:
        flat = [_probability(item.get("probabilities"), c) for item in shown for c in classes]
        outputs.append({"name": "predict_proba", "shape": [n, len(classes)],
                        "datatype": "FP64", "data": flat})
    if any(item.get("confidence") is not None for item in shown):
        outputs.append({"name": "confidence", "shape": [n], "datatype": "FP64",
                        "data": [item.get("confidence") for item in shown]})
    if any("status" in item for item in shown):
        for key in AUTOMATION:
            outputs.append({"name": key, "shape": [n], "datatype": "BYTES",
                            "data": [str(item.get(key) or "") for item in shown]})
        if n == 1:
            predict["parameters"] = {k: shown[0][k] for k in AUTOMATION if shown[0].get(k)}
        else:
            pending = sum(1 for item in shown if item.get("review_id"))
            predict["parameters"] = {"pending_review": pending}
    return outputs


def output_metadata(output: OutputSpec) -> list[dict[str, Any]]:
    """The outputs a model's answers carry, as V2 metadata tensors."""
    classes = list(output.classes or ())
    if classes and all(isinstance(c, bool) for c in classes):
        kind = "BOOL"
    elif classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        kind = "INT64"
    elif output.kind == "number":
        kind = "FP64"
    else:
        kind = "BYTES"
    out: list[dict[str, Any]] = [{"name": "predict", "datatype": kind, "shape": [-1]}]
    if output.has_probabilities and classes:
        out.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)],
                    "parameters": {"classes": classes}})
    return out


def input_metadata(schema: InputSchema) -> list[dict[str, Any]]:
    """One metadata tensor per feature (the named-tensor form of a request)."""
    return [{"name": f.name, "datatype": FEATURE_TYPES.get(f.dtype, "BYTES"), "shape": [-1]}
            for f in schema.features]
