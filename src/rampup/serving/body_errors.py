"""Request validation errors of the FastAPI routes in the shape predict answers with: one
error naming the ``field``, a ``message`` and a ``fix``, every problem in ``problems``
(pure; :mod:`rampup.serving.errors` turns the result into a response).

pydantic reports where a value failed as a path through the body that also names the
union members and validators it tried (``function-after[_check(), FeedbackItem]``,
``list[...]``); those are not fields a client can fix, so they are left out, and of the
members of a union only the one the client's JSON was meant for (an object or an array)
is reported.

>>> err = from_pydantic([
...     {"type": "missing", "loc": ("body", "function-after[_check(), Item]", "request_id"),
...      "msg": "Field required"},
...     {"type": "list_type", "loc": ("body", "list[function-after[_check(), Item]]"),
...      "msg": "Input should be a valid list"}])
>>> err.message, err.details["field"], err.fix
("'request_id' is missing", 'request_id', "add 'request_id' to the JSON body")
>>> from_pydantic([{"type": "json_invalid", "loc": ("body", 1), "msg": "JSON decode error",
...                 "ctx": {"error": "Expecting value"}}]).code
'malformed_request'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rampup.errors import MalformedRequestError, ValidationError

#: errors that only say "this union member wanted another JSON type"
_CONTAINER = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type",
                        "is_instance_of", "union_tag_invalid"})
_WHERE = {"query": "query parameter", "path": "path parameter", "header": "header",
          "cookie": "cookie"}


def _is_tag(part: object) -> bool:
    """A union member or validator name in a pydantic location, not a field."""
    return isinstance(part, str) and (any(c in part for c in "[(") or part[:1].isupper())


def _where(loc: Sequence[Any]) -> tuple[str, int | None, str]:
    """(kind of input, record index, field path) of a pydantic location."""
    kind = str(loc[0]) if loc else "body"
    record: int | None = None
    names: list[str] = []
    for part in loc[1:]:
        if _is_tag(part):
            continue
        if isinstance(part, int):
            if record is None and not names:
                record = part  # the n-th item of a JSON array body
            else:
                names.append(f"[{part}]")
            continue
        names.append(str(part))
    return kind, record, ".".join(names).replace(".[", "[")


def _message(kind: str, field: str, err: Mapping[str, Any]) -> tuple[str, str]:
    msg = str(err.get("msg", "is invalid"))
    msg = msg.removeprefix("Value error, ")
    what = f"{_WHERE[kind]} '{field}'" if kind in _WHERE else f"'{field}'"
    kind_of = err.get("type")
    if kind_of == "missing":
        where = "the JSON body" if kind == "body" else f"the {_WHERE.get(kind, kind)}s"
        return f"{what} is missing", f"add '{field}' to {where}"
    if kind_of == "extra_forbidden":
        return f"{what} is not a known field", f"remove '{field}' (see the request schema at /docs)"
    if not field:
        return msg, "see the request schema at /docs"
    return f"{what}: {msg}", f"send '{field}' as the request schema at /docs says"


def problems_of(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every problem as {record?, field, message, fix}, union noise left out."""
    useful = [e for e in errors if e.get("type") not in _CONTAINER] or list(errors[:1])
    out: list[dict[str, Any]] = []
    for err in useful:
        kind, record, field = _where(tuple(err.get("loc", ("body",))))
        message, fix = _message(kind, field, err)
        if not field and err.get("type") in _CONTAINER:
            message = "the request body is not a JSON object"
            fix = "send a JSON object (or an array of objects where the API takes several)"
        problem: dict[str, Any] = {"field": field or kind, "message": message, "fix": fix}
        if record is not None:
            problem = {"record": record, **problem}
        out.append(problem)
    return out


def from_pydantic(errors: Sequence[Mapping[str, Any]]) -> ValidationError:
    """One rampup error for a request's validation errors (a malformed body is 400)."""
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        detail = (bad_json.get("ctx") or {}).get("error", "cannot be parsed")
        pos = tuple(bad_json.get("loc", ()))[1:2]
        at = f" (at character {pos[0]})" if pos and isinstance(pos[0], int) else ""
        return MalformedRequestError(f"the request body is not valid JSON: {detail}{at}",
                                     fix="send a JSON object", field="body")
    problems = problems_of(errors) or [{"field": "body", "message": "the request is invalid",
                                         "fix": "see the request schema at /docs"}]
    first = problems[0]
    where = f"record {first['record']}: " if "record" in first else ""
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return ValidationError(f"{where}{first['message']}{more}", fix=first["fix"],
                           field=first["field"], problems=problems)
